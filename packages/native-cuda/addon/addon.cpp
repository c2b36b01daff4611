// Module entry: registers every binding. The bindings are thin: validate, call dep_*, map errors.
#include <napi.h>

namespace dep_addon {
void init_backend(Napi::Env env, Napi::Object exports);
void init_llm(Napi::Env env, Napi::Object exports);
void init_kernels(Napi::Env env, Napi::Object exports);
void init_grad_engine(Napi::Env env, Napi::Object exports);
}  // namespace dep_addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    dep_addon::init_backend(env, exports);
    dep_addon::init_llm(env, exports);
    dep_addon::init_kernels(env, exports);
    dep_addon::init_grad_engine(env, exports);
    return exports;
}

NODE_API_MODULE(dep_native, Init)
