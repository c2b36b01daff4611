// NativeGradEngine: the JS face of dep_grad_engine (include/dep/grad_engine.h). Load and lossAndGrad run on
// worker threads and return Promises; dispose frees the weights at once (after a running call finishes:
// the TS wrapper queues calls).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "dep/grad_engine.h"
#include "errors.h"
#include "promise_worker.h"
#include "segments.h"

namespace dep_addon {
namespace {

const char * dtype_name(dep_grad_engine_dtype d) { return d == DEP_GRAD_ENGINE_BF16 ? "bf16" : "f32"; }

class NativeGradEngine : public Napi::ObjectWrap<NativeGradEngine> {
  public:
    static Napi::FunctionReference * constructor;

    static void Init(Napi::Env env, Napi::Object exports) {
        Napi::Function cls = DefineClass(env, "NativeGradEngine", {
            InstanceMethod<&NativeGradEngine::Info>("info"),
            InstanceMethod<&NativeGradEngine::LossAndGrad>("lossAndGrad"),
            InstanceMethod<&NativeGradEngine::Abort>("abort"),
            InstanceMethod<&NativeGradEngine::Dispose>("dispose"),
        });
        constructor = new Napi::FunctionReference(Napi::Persistent(cls));
        exports.Set("NativeGradEngine", cls);
    }

    explicit NativeGradEngine(const Napi::CallbackInfo & info) : Napi::ObjectWrap<NativeGradEngine>(info) {
        if (info.Length() != 1 || !info[0].IsExternal())
            throw type_error(info.Env(), "NativeGradEngine is created by loadGradEngine(), not with new");
        engine_ = info[0].As<Napi::External<dep_grad_engine>>().Data();
    }
    ~NativeGradEngine() override { dep_grad_engine_free(engine_); }

    dep_grad_engine * handle(Napi::Env env) {
        if (!engine_) throw make_error(env, "DEP_DISPOSED", "this gradient engine was disposed");
        return engine_;
    }

  private:
    Napi::Value Info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        const dep_grad_engine_info i = dep_grad_engine_get_info(handle(env));
        Napi::Object o = Napi::Object::New(env);
        o.Set("nEmbd", i.n_embd);
        o.Set("nLayer", i.n_layer);
        o.Set("nHead", i.n_head);
        o.Set("nHeadKv", i.n_head_kv);
        o.Set("nFf", i.n_ff);
        o.Set("nVocab", i.n_vocab);
        o.Set("dtype", dtype_name(i.dtype));
        o.Set("matmul", dep_grad_engine_matmul_name());
        o.Set("threads", i.n_threads);
        o.Set("loadMs", i.load_ms);
        o.Set("weightBytes", static_cast<double>(i.weight_bytes));
        return o;
    }

    Napi::Value LossAndGrad(const Napi::CallbackInfo & info);

    Napi::Value Abort(const Napi::CallbackInfo & info) {
        if (engine_) dep_grad_engine_request_abort(engine_);
        return info.Env().Undefined();
    }

    Napi::Value Dispose(const Napi::CallbackInfo & info) {
        dep_grad_engine_free(engine_);
        engine_ = nullptr;
        return info.Env().Undefined();
    }

    dep_grad_engine * engine_ = nullptr;
};

Napi::FunctionReference * NativeGradEngine::constructor = nullptr;

// ---- loadGradEngine(path, options) -> Promise<NativeGradEngine> -------------------------------------

class LoadWorker : public PromiseWorker {
  public:
    LoadWorker(Napi::Env env, std::string path, dep_grad_engine_params params)
        : PromiseWorker(env, "DEP_GRAD_ENGINE"), path_(std::move(path)), params_(params) {}

  private:
    void Execute() override {
        char err[kErrSize] = {0};
        engine_ = dep_grad_engine_load(path_.c_str(), params_, err, sizeof(err));
        if (!engine_) SetError(err);
    }
    Napi::Value result(Napi::Env env) override {
        return NativeGradEngine::constructor->New({Napi::External<dep_grad_engine>::New(env, engine_)});
    }

    std::string path_;
    dep_grad_engine_params params_;
    dep_grad_engine * engine_ = nullptr;
};

Napi::Value LoadGradEngine(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
        throw type_error(env, "loadGradEngine(path: string, options?: { threads, dtype, checkpoint })");
    dep_grad_engine_params p = dep_grad_engine_default_params();
    if (info.Length() > 1 && info[1].IsObject()) {
        Napi::Object o = info[1].As<Napi::Object>();
        p.n_threads = int_option(o, "threads", p.n_threads);
        if (p.n_threads < 1) throw type_error(env, "option `threads` must be >= 1");
        Napi::Value d = o.Get("dtype");
        if (d.IsString()) {
            const std::string s = d.As<Napi::String>().Utf8Value();
            if (s == "f32") p.dtype = DEP_GRAD_ENGINE_F32;
            else if (s == "bf16") p.dtype = DEP_GRAD_ENGINE_BF16;
            else throw type_error(env, "option `dtype` must be \"f32\" or \"bf16\" (got \"" + s + "\")");
        } else if (!d.IsUndefined()) {
            throw type_error(env, "option `dtype` must be \"f32\" or \"bf16\"");
        }
        Napi::Value c = o.Get("checkpoint");
        if (c.IsString()) {
            const std::string s = c.As<Napi::String>().Utf8Value();
            if (s == "auto") p.checkpoint = DEP_GRAD_ENGINE_CHECKPOINT_AUTO;
            else if (s == "never") p.checkpoint = DEP_GRAD_ENGINE_CHECKPOINT_NEVER;
            else if (s == "always") p.checkpoint = DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS;
            else throw type_error(env, "option `checkpoint` must be \"auto\", \"never\" or \"always\"");
        }
        const double budget = number_option(o, "activationBudgetBytes", static_cast<double>(p.activation_budget_bytes));
        if (!(budget >= 0)) throw type_error(env, "option `activationBudgetBytes` must be >= 0");
        p.activation_budget_bytes = static_cast<size_t>(budget);
    }
    return (new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), p))->queue();
}

// ---- lossAndGrad(segments, targets) -> Promise<{ loss, grads, nTokens, ... }> -----------------------

class EngineLossAndGradWorker : public LossAndGradWorker {
  public:
    EngineLossAndGradWorker(Napi::Env env, Napi::Object owner, dep_grad_engine * engine, Segments segs,
                            std::vector<int32_t> targets, int32_t n_embd)
        : LossAndGradWorker(env, owner, std::move(segs), std::move(targets), n_embd), engine_(engine) {}

  private:
    int32_t run(const std::vector<dep_segment> & segs, char * err, size_t err_size) override {
        return dep_grad_engine_loss_and_grad(engine_, segs.data(), static_cast<int32_t>(segs.size()), targets_.data(),
                                             static_cast<int32_t>(targets_.size()), &loss_, grads_.ptrs.data(), &stats_,
                                             err, err_size);
    }
    void add_stats(Napi::Object & o) const override {
        o.Set("nTokens", stats_.n_targets);
        o.Set("nPositions", stats_.n_positions);
        o.Set("firstGradPosition", stats_.first_grad_pos);
        o.Set("computeMs", stats_.compute_ms);
        o.Set("matmulMs", stats_.matmul_ms);
        o.Set("attentionMs", stats_.attention_ms);
        o.Set("activationBytes", static_cast<double>(stats_.activation_bytes));
        o.Set("recomputed", stats_.recomputed);
        o.Set("recomputedLayers", stats_.n_recomputed);
    }

    dep_grad_engine * engine_;
    dep_grad_engine_stats stats_{};
};

Napi::Value NativeGradEngine::LossAndGrad(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw type_error(env, "lossAndGrad(segments: Array<{tokens} | {embeddings}>, targets: Int32Array)");
    dep_grad_engine * engine = handle(env);
    const int32_t n_embd = dep_grad_engine_get_info(engine).n_embd;
    Segments segs = parse_segments(env, info[0].As<Napi::Array>(), n_embd, "");
    Napi::Int32Array t = info[1].As<Napi::Int32Array>();
    std::vector<int32_t> targets(t.Data(), t.Data() + t.ElementLength());
    return (new EngineLossAndGradWorker(env, info.This().As<Napi::Object>(), engine, std::move(segs), std::move(targets),
                                        n_embd))
        ->queue();
}

// gradEngineBuild() -> { matmul, onednn, dtypes: ["f32", "bf16"?], defaultDtype }: what this build and CPU can run
Napi::Value GradEngineBuild(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("matmul", dep_grad_engine_matmul_name());
#ifdef DEP_WITH_ONEDNN
    o.Set("onednn", true);
#else
    o.Set("onednn", false);
#endif
    Napi::Array dtypes = Napi::Array::New(env);
    dtypes.Set(0u, "f32");
    if (dep_grad_engine_supports(DEP_GRAD_ENGINE_BF16)) dtypes.Set(1u, "bf16");
    o.Set("dtypes", dtypes);
    o.Set("defaultDtype", dep_grad_engine_default_dtype() == DEP_GRAD_ENGINE_BF16 ? "bf16" : "f32");
    return o;
}

// gradEngineGemmProbe(dtype, m, k, n, threads) -> TFLOP/s, or -1 (synchronous: for the benchmark)
Napi::Value GradEngineGemmProbe(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsString())
        throw type_error(env, "gradEngineGemmProbe(dtype: \"f32\" | \"bf16\", m, k, n, threads)");
    const std::string d = info[0].As<Napi::String>().Utf8Value();
    if (d != "f32" && d != "bf16") throw type_error(env, "dtype must be \"f32\" or \"bf16\"");
    auto num = [&](size_t i) { return info[i].IsNumber() ? info[i].As<Napi::Number>().Int32Value() : 0; };
    return Napi::Number::New(env, dep_grad_engine_gemm_probe(d == "bf16" ? DEP_GRAD_ENGINE_BF16 : DEP_GRAD_ENGINE_F32,
                                                             num(1), num(2), num(3), num(4)));
}

}  // namespace

void init_grad_engine(Napi::Env env, Napi::Object exports) {
    NativeGradEngine::Init(env, exports);
    exports.Set("loadGradEngine", Napi::Function::New(env, LoadGradEngine, "loadGradEngine"));
    exports.Set("gradEngineBuild", Napi::Function::New(env, GradEngineBuild, "gradEngineBuild"));
    exports.Set("gradEngineGemmProbe", Napi::Function::New(env, GradEngineGemmProbe, "gradEngineGemmProbe"));
}

}  // namespace dep_addon
