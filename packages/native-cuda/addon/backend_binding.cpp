#include <napi.h>

#include "dep/backend.h"

namespace dep_addon {

// "A B C" -> ["A", "B", "C"]
static Napi::Array words(Napi::Env env, const std::string & all) {
    Napi::Array out = Napi::Array::New(env);
    size_t start = 0;
    uint32_t n = 0;
    while (start < all.size()) {
        size_t end = all.find(' ', start);
        if (end == std::string::npos) end = all.size();
        if (end > start) out.Set(n++, Napi::String::New(env, all.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

static Napi::Value backend_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    dep_backend_info bi;
    dep_backend_info_get(&bi);
    Napi::Object out = Napi::Object::New(env);
    out.Set("cpuFeatures", words(env, bi.cpu_features));
    Napi::Object cpu = Napi::Object::New(env);
    cpu.Set("machineFeatures", words(env, bi.machine_features));
    cpu.Set("target", Napi::String::New(env, bi.cpu_target));
    cpu.Set("amxCompiled", Napi::Boolean::New(env, bi.amx_compiled != 0));
    cpu.Set("repackTypes", words(env, bi.cpu_repack_types));
    out.Set("cpu", cpu);
    out.Set("llamaCppVersion", Napi::String::New(env, bi.llama_cpp_tag));
    out.Set("ggmlVersion", Napi::String::New(env, bi.ggml_version));
    Napi::Object cuda = Napi::Object::New(env);
    cuda.Set("compiled", Napi::Boolean::New(env, bi.cuda_compiled != 0));
    cuda.Set("ggmlCuda", Napi::Boolean::New(env, bi.ggml_cuda_compiled != 0));
    Napi::Array devices = Napi::Array::New(env);
    for (int32_t i = 0; i < bi.cuda_device_count; ++i) {
        const dep_cuda_device & d = bi.cuda_devices[i];
        Napi::Object dev = Napi::Object::New(env);
        dev.Set("index", i);
        dev.Set("name", d.name);
        dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
        dev.Set("totalMemory", static_cast<double>(d.total_memory));
        dev.Set("multiprocessors", d.multiprocessors);
        devices.Set(static_cast<uint32_t>(i), dev);
    }
    cuda.Set("devices", devices);
    cuda.Set("error", bi.cuda_error[0] ? Napi::Value(Napi::String::New(env, bi.cuda_error)) : env.Null());
    out.Set("cuda", cuda);
    return out;
}

void init_backend(Napi::Env env, Napi::Object exports) {
    exports.Set("backendInfo", Napi::Function::New(env, backend_info, "backendInfo"));
}

}  // namespace dep_addon
