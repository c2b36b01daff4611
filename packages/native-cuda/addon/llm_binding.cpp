// NativeLlm: the JS face of dep_llm. Loading and generation run on worker threads and return Promises;
// generated tokens stream back through a progress queue that is drained before the Promise settles.
#include <napi.h>

#include <climits>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "dep/batch_session.h"
#include "dep/llm.h"
#include "dep/llm_grad.h"
#include "errors.h"
#include "promise_worker.h"
#include "segments.h"

namespace dep_addon {
namespace {

class NativeLlm : public Napi::ObjectWrap<NativeLlm> {
  public:
    static Napi::FunctionReference * constructor;

    static void Init(Napi::Env env, Napi::Object exports) {
        Napi::Function cls = DefineClass(env, "NativeLlm", {
            InstanceMethod<&NativeLlm::Info>("info"),
            InstanceMethod<&NativeLlm::ChatTemplate>("chatTemplate"),
            InstanceMethod<&NativeLlm::Tokenize>("tokenize"),
            InstanceMethod<&NativeLlm::Detokenize>("detokenize"),
            InstanceMethod<&NativeLlm::ApplyChatTemplate>("applyChatTemplate"),
            InstanceMethod<&NativeLlm::IsEog>("isEog"),
            InstanceMethod<&NativeLlm::Generate>("generate"),
            InstanceMethod<&NativeLlm::Abort>("abort"),
            InstanceMethod<&NativeLlm::TokenEmbeddings>("tokenEmbeddings"),
            InstanceMethod<&NativeLlm::LossAndGrad>("lossAndGrad"),
            InstanceMethod<&NativeLlm::DebugLogits>("debugLogits"),
            InstanceMethod<&NativeLlm::GenerateBatch>("generateBatch"),
            InstanceMethod<&NativeLlm::CancelRequest>("cancelRequest"),
            InstanceMethod<&NativeLlm::OpenBatch>("openBatch"),
            InstanceMethod<&NativeLlm::ReleaseGrad>("releaseGrad"),
            InstanceMethod<&NativeLlm::Embed>("embed"),
            InstanceMethod<&NativeLlm::Dispose>("dispose"),
        });
        constructor = new Napi::FunctionReference(Napi::Persistent(cls));
        exports.Set("NativeLlm", cls);
    }

    explicit NativeLlm(const Napi::CallbackInfo & info) : Napi::ObjectWrap<NativeLlm>(info) {
        if (info.Length() != 1 || !info[0].IsExternal())
            throw type_error(info.Env(), "NativeLlm is created by loadModel(), not with new");
        llm_ = info[0].As<Napi::External<dep_llm>>().Data();
    }

    ~NativeLlm() override { dep_llm_free(llm_); }

    dep_llm * handle(Napi::Env env) {
        if (!llm_) throw make_error(env, "DEP_DISPOSED", "this model was disposed");
        return llm_;
    }

    /** The handle, or nullptr once disposed. */
    dep_llm * raw() const { return llm_; }

  private:
    Napi::Value Info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        dep_llm_info li;
        dep_llm_get_info(handle(env), &li);
        Napi::Object o = Napi::Object::New(env);
        o.Set("arch", li.arch);
        o.Set("nEmbd", li.n_embd);
        o.Set("nLayer", li.n_layer);
        o.Set("nHead", li.n_head);
        o.Set("nHeadKv", li.n_head_kv);
        o.Set("nVocab", li.n_vocab);
        o.Set("nCtxTrain", li.n_ctx_train);
        o.Set("nCtx", li.n_ctx);
        o.Set("bos", li.bos);
        o.Set("eos", li.eos);
        o.Set("addBos", li.add_bos);
        o.Set("nParams", static_cast<double>(li.n_params));
        Napi::Object buffers = Napi::Object::New(env);
        for (int32_t i = 0; i < li.n_weight_buffers; ++i)
            buffers.Set(li.weight_buffers[i].name, li.weight_buffers[i].bytes);
        o.Set("weightBuffers", buffers);
        return o;
    }

    Napi::Value ChatTemplate(const Napi::CallbackInfo & info) {
        const char * t = dep_llm_chat_template(handle(info.Env()));
        return t ? Napi::Value(Napi::String::New(info.Env(), t)) : info.Env().Null();
    }

    Napi::Value Tokenize(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBoolean() || !info[2].IsBoolean())
            throw type_error(env, "tokenize(text: string, addSpecial: boolean, parseSpecial: boolean)");
        std::string text = info[0].As<Napi::String>().Utf8Value();
        if (text.size() > static_cast<size_t>(INT32_MAX / 2)) throw type_error(env, "text is too long to tokenize");
        const bool add_special = info[1].As<Napi::Boolean>().Value();
        const bool parse_special = info[2].As<Napi::Boolean>().Value();
        dep_llm * llm = handle(env);
        std::vector<int32_t> tokens(text.size() + 8);
        int32_t n = dep_llm_tokenize(llm, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                     static_cast<int32_t>(tokens.size()), add_special, parse_special);
        if (n < 0) {
            tokens.resize(static_cast<size_t>(-n));
            n = dep_llm_tokenize(llm, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                 static_cast<int32_t>(tokens.size()), add_special, parse_special);
        }
        if (n < 0) throw make_error(env, "DEP_TOKENIZE", "tokenization failed");
        Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(n));
        std::copy(tokens.begin(), tokens.begin() + n, out.Data());
        return out;
    }

    Napi::Value Detokenize(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsTypedArray() ||
            info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[1].IsBoolean() ||
            !info[2].IsBoolean())
            throw type_error(env, "detokenize(tokens: Int32Array, removeSpecial: boolean, unparseSpecial: boolean)");
        Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
        dep_llm * llm = handle(env);
        dep_llm_info li;
        dep_llm_get_info(llm, &li);
        for (size_t i = 0; i < tokens.ElementLength(); ++i) {
            if (tokens[i] < 0 || tokens[i] >= li.n_vocab)
                throw type_error(env, "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                          " is outside the vocabulary [0, " + std::to_string(li.n_vocab) + ")");
        }
        const bool remove_special = info[1].As<Napi::Boolean>().Value();
        const bool unparse_special = info[2].As<Napi::Boolean>().Value();
        std::string buf(tokens.ElementLength() * 8 + 16, '\0');
        int32_t n = dep_llm_detokenize(llm, tokens.Data(), static_cast<int32_t>(tokens.ElementLength()), buf.data(),
                                       static_cast<int32_t>(buf.size()), remove_special, unparse_special);
        if (n < 0) {
            buf.resize(static_cast<size_t>(-n));
            n = dep_llm_detokenize(llm, tokens.Data(), static_cast<int32_t>(tokens.ElementLength()), buf.data(),
                                   static_cast<int32_t>(buf.size()), remove_special, unparse_special);
        }
        if (n < 0) throw make_error(env, "DEP_TOKENIZE", "detokenization failed");
        return Napi::String::New(env, buf.data(), static_cast<size_t>(n));
    }

    Napi::Value ApplyChatTemplate(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsBoolean())
            throw type_error(env, "applyChatTemplate(roles: string[], contents: string[], addAssistant: boolean, template?: string)");
        Napi::Array roles_js = info[0].As<Napi::Array>();
        Napi::Array contents_js = info[1].As<Napi::Array>();
        if (roles_js.Length() != contents_js.Length()) throw type_error(env, "roles and contents differ in length");
        std::vector<std::string> roles, contents;
        size_t total = 0;
        for (uint32_t i = 0; i < roles_js.Length(); ++i) {
            Napi::Value r = roles_js.Get(i), c = contents_js.Get(i);
            if (!r.IsString() || !c.IsString()) throw type_error(env, "message " + std::to_string(i) + ": role and content must be strings");
            roles.push_back(r.As<Napi::String>().Utf8Value());
            contents.push_back(c.As<Napi::String>().Utf8Value());
            total += roles.back().size() + contents.back().size();
        }
        std::string tmpl;
        const bool has_tmpl = info.Length() > 3 && info[3].IsString();
        if (has_tmpl) tmpl = info[3].As<Napi::String>().Utf8Value();
        std::vector<const char *> rp, cp;
        for (size_t i = 0; i < roles.size(); ++i) {
            rp.push_back(roles[i].c_str());
            cp.push_back(contents[i].c_str());
        }
        dep_llm * llm = handle(env);
        std::string buf(total * 2 + 256, '\0');
        int32_t n = dep_llm_apply_chat_template(llm, has_tmpl ? tmpl.c_str() : nullptr, rp.data(), cp.data(),
                                                static_cast<int32_t>(rp.size()), info[2].As<Napi::Boolean>().Value(),
                                                buf.data(), static_cast<int32_t>(buf.size()));
        if (n != INT32_MIN && n < 0) {
            buf.resize(static_cast<size_t>(-n));
            n = dep_llm_apply_chat_template(llm, has_tmpl ? tmpl.c_str() : nullptr, rp.data(), cp.data(),
                                            static_cast<int32_t>(rp.size()), info[2].As<Napi::Boolean>().Value(),
                                            buf.data(), static_cast<int32_t>(buf.size()));
        }
        if (n == INT32_MIN) throw make_error(env, "DEP_CHAT_TEMPLATE", "llama.cpp does not support this model's chat template");
        return Napi::String::New(env, buf.data(), static_cast<size_t>(n));
    }

    Napi::Value IsEog(const Napi::CallbackInfo & info) {
        if (info.Length() < 1 || !info[0].IsNumber()) throw type_error(info.Env(), "isEog(token: number)");
        return Napi::Boolean::New(info.Env(), dep_llm_is_eog(handle(info.Env()), info[0].As<Napi::Number>().Int32Value()));
    }

    Napi::Value Generate(const Napi::CallbackInfo & info);
    Napi::Value LossAndGrad(const Napi::CallbackInfo & info);
    Napi::Value DebugLogits(const Napi::CallbackInfo & info);
    Napi::Value GenerateBatch(const Napi::CallbackInfo & info);
    Napi::Value OpenBatch(const Napi::CallbackInfo & info);
    Napi::Value Embed(const Napi::CallbackInfo & info);

    Napi::Value TokenEmbeddings(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsTypedArray() ||
            info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
            throw type_error(env, "tokenEmbeddings(tokens: Int32Array)");
        Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
        dep_llm * llm = handle(env);
        dep_llm_info li;
        dep_llm_get_info(llm, &li);
        for (size_t i = 0; i < tokens.ElementLength(); ++i) {
            if (tokens[i] < 0 || tokens[i] >= li.n_vocab)
                throw type_error(env, "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                          " is outside the vocabulary [0, " + std::to_string(li.n_vocab) + ")");
        }
        std::vector<int32_t> tok(tokens.Data(), tokens.Data() + tokens.ElementLength());
        Napi::Float32Array out = Napi::Float32Array::New(env, tok.size() * static_cast<size_t>(li.n_embd));
        char err[kErrSize] = {0};
        if (dep_llm_token_embeddings(llm, tok.data(), static_cast<int32_t>(tok.size()), out.Data(), err, sizeof(err)) != 0)
            throw make_error(env, "DEP_GGUF", err);
        return out;
    }

    Napi::Value CancelRequest(const Napi::CallbackInfo & info) {
        if (llm_ && info.Length() > 0 && info[0].IsNumber()) dep_llm_batch_cancel(llm_, info[0].As<Napi::Number>().Int32Value());
        return info.Env().Undefined();
    }

    Napi::Value ReleaseGrad(const Napi::CallbackInfo & info) {
        if (llm_) dep_llm_release_grad(llm_);
        return info.Env().Undefined();
    }

    Napi::Value Abort(const Napi::CallbackInfo & info) {
        if (llm_) dep_llm_request_abort(llm_);
        return info.Env().Undefined();
    }

    Napi::Value Dispose(const Napi::CallbackInfo & info) {
        dep_llm_free(llm_);
        llm_ = nullptr;
        return info.Env().Undefined();
    }

    dep_llm * llm_ = nullptr;
};

Napi::FunctionReference * NativeLlm::constructor = nullptr;

dep_sampling parse_sampling(Napi::Env env, const Napi::Object & opts) {
    dep_sampling s = dep_sampling_default();
    s.max_tokens = int_option(opts, "maxTokens", s.max_tokens);
    s.temperature = static_cast<float>(number_option(opts, "temperature", s.temperature));
    s.top_p = static_cast<float>(number_option(opts, "topP", s.top_p));
    s.top_k = int_option(opts, "topK", s.top_k);
    s.seed = static_cast<uint32_t>(number_option(opts, "seed", s.seed));
    // any value but 1 has meant llama.cpp's order
    s.order = int_option(opts, "samplerOrder", s.order) == 1 ? DEP_SAMPLER_ORDER_VLLM : DEP_SAMPLER_ORDER_LLAMA_CPP;
    if (s.max_tokens < 0) throw type_error(env, "maxTokens must be >= 0");
    if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) throw type_error(env, "topP must be in (0, 1]");
    return s;
}

int32_t model_n_embd(dep_llm * llm) {
    dep_llm_info li;
    dep_llm_get_info(llm, &li);
    return li.n_embd;
}

// ---- loadModel(path, options) -> Promise<NativeLlm> ------------------------------------------------

class LoadWorker : public PromiseWorker {
  public:
    LoadWorker(Napi::Env env, std::string path, dep_llm_params params)
        : PromiseWorker(env, "DEP_MODEL_LOAD"), path_(std::move(path)), params_(params) {}

  private:
    void Execute() override {
        char err[kErrSize] = {0};
        llm_ = dep_llm_load(path_.c_str(), params_, err, sizeof(err));
        if (!llm_) SetError(err);
    }
    Napi::Value result(Napi::Env env) override {
        return NativeLlm::constructor->New({Napi::External<dep_llm>::New(env, llm_)});
    }

    std::string path_;
    dep_llm_params params_;
    dep_llm * llm_ = nullptr;
};

Napi::Value LoadModel(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
        throw type_error(env, "loadModel(path: string, options: { threads, contextSize?, batchSize?, gpuLayers?, sequences? })");
    Napi::Object opts = info[1].As<Napi::Object>();
    dep_llm_params p = dep_llm_default_params();
    p.n_threads = int_option(opts, "threads", 0);
    if (p.n_threads <= 0) throw type_error(env, "option `threads` is required and must be a positive integer (use the physical core count)");
    p.n_ctx = int_option(opts, "contextSize", 0);
    p.n_batch = int_option(opts, "batchSize", p.n_batch);
    p.n_gpu_layers = int_option(opts, "gpuLayers", 0);
    p.n_seq_max = int_option(opts, "sequences", 1);
    Napi::Value gw = opts.Get("gradWeights");
    if (!gw.IsUndefined() && !gw.IsNull()) {
        const std::string v = gw.IsString() ? gw.As<Napi::String>().Utf8Value() : "";
        if (v != "f32" && v != "f16") throw type_error(env, "option `gradWeights` must be \"f32\" or \"f16\"");
        p.grad_f16 = v == "f16";
    }
    Napi::Value kv = opts.Get("kvCacheType");
    if (!kv.IsUndefined() && !kv.IsNull()) {
        const std::string v = kv.IsString() ? kv.As<Napi::String>().Utf8Value() : "";
        if (v != "f16" && v != "f32") throw type_error(env, "option `kvCacheType` must be \"f16\" or \"f32\"");
        p.kv_f32 = v == "f32";
    }
    Napi::Value gb = opts.Get("gradBackward");
    if (!gb.IsUndefined() && !gb.IsNull()) {
        const std::string v = gb.IsString() ? gb.As<Napi::String>().Utf8Value() : "";
        if (v == "none") p.grad_backward = DEP_GRAD_BACKWARD_NONE;
        else if (v == "f16") p.grad_backward = DEP_GRAD_BACKWARD_F16;
        else if (v == "bf16") p.grad_backward = DEP_GRAD_BACKWARD_BF16;
        else if (v == "f32") p.grad_backward = DEP_GRAD_BACKWARD_F32;
        else throw type_error(env, "option `gradBackward` must be \"none\", \"f16\", \"bf16\" or \"f32\"");
    }
    Napi::Value repack = opts.Get("cpuRepack");
    if (!repack.IsUndefined() && !repack.IsNull()) {
        if (!repack.IsBoolean()) throw type_error(env, "option `cpuRepack` must be a boolean");
        p.cpu_repack = repack.As<Napi::Boolean>().Value();
    }
    if (p.n_ctx < 0 || p.n_batch <= 0 || p.n_seq_max <= 0 || p.n_gpu_layers < 0)
        throw type_error(env, "contextSize must be >= 0; batchSize and sequences > 0; gpuLayers >= 0");
    return (new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), p))->queue();
}

// ---- quantizeModel(src, dst, type, threads) -> Promise<void> ------------------------------------------

class QuantizeWorker : public PromiseWorker {
  public:
    QuantizeWorker(Napi::Env env, std::string src, std::string dst, std::string type, int32_t threads,
                   bool embeddings_f16)
        : PromiseWorker(env, "DEP_QUANTIZE"), src_(std::move(src)), dst_(std::move(dst)), type_(std::move(type)),
          threads_(threads), embeddings_f16_(embeddings_f16) {}

  private:
    void Execute() override {
        char err[kErrSize] = {0};
        if (!dep_llm_quantize(src_.c_str(), dst_.c_str(), type_.c_str(), threads_, embeddings_f16_, err, sizeof(err)))
            SetError(err);
    }
    Napi::Value result(Napi::Env env) override { return env.Undefined(); }

    std::string src_, dst_, type_;
    int32_t threads_;
    bool embeddings_f16_;
};

Napi::Value QuantizeModel(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() != 5 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber() ||
        !info[4].IsBoolean())
        throw type_error(env, "quantizeModel(src: string, dst: string, type: string, threads: number, embeddingsF16: boolean)");
    const double threads = info[3].As<Napi::Number>().DoubleValue();
    if (!(threads >= 1 && threads <= 1024) || threads != std::floor(threads))
        throw type_error(env, "quantizeModel: threads must be an integer in [1, 1024]");
    return (new QuantizeWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                                       info[2].As<Napi::String>().Utf8Value(), static_cast<int32_t>(threads),
                                       info[4].As<Napi::Boolean>().Value()))->queue();
}

// ---- generate(segments, options, onToken) -> Promise<stats> ---------------------------------------

class GenerateWorker : public Napi::AsyncProgressQueueWorker<int32_t> {
  public:
    GenerateWorker(Napi::Env env, Napi::Object owner, dep_llm * llm, std::vector<std::vector<int32_t>> tokens,
                   std::vector<std::vector<float>> embd, std::vector<bool> is_embd, dep_sampling sampling,
                   Napi::Function on_token)
        : Napi::AsyncProgressQueueWorker<int32_t>(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          llm_(llm),
          tokens_(std::move(tokens)),
          embd_(std::move(embd)),
          is_embd_(std::move(is_embd)),
          sampling_(sampling) {
        owner_ = Napi::Persistent(owner);
        if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
    }

    // Queues the worker (it deletes itself when done) and returns its promise.
    Napi::Promise queue() {
        Napi::Promise p = deferred_.Promise();
        Queue();
        return p;
    }

    void Execute(const ExecutionProgress & progress) override {
        std::vector<dep_segment> segs(is_embd_.size());
        const int32_t n_embd = info_embd();
        for (size_t i = 0; i < segs.size(); ++i) {
            if (is_embd_[i]) {
                segs[i].embd = embd_[i].data();
                segs[i].n = static_cast<int32_t>(embd_[i].size() / static_cast<size_t>(n_embd));
            } else {
                segs[i].tokens = tokens_[i].data();
                segs[i].n = static_cast<int32_t>(tokens_[i].size());
            }
        }
        struct Ctx { const ExecutionProgress * progress; } ctx{&progress};
        auto cb = [](int32_t token, void * user) -> bool {
            static_cast<Ctx *>(user)->progress->Send(&token, 1);
            return true;
        };
        char err[kErrSize] = {0};
        if (dep_llm_generate(llm_, segs.data(), static_cast<int32_t>(segs.size()), &sampling_, cb, &ctx, &stats_, err,
                             sizeof(err)) != 0)
            SetError(err);
    }

    void OnProgress(const int32_t * data, size_t count) override {
        if (on_token_.IsEmpty()) return;
        Napi::Env env = Env();
        for (size_t i = 0; i < count; ++i) on_token_.Call({Napi::Number::New(env, data[i])});
    }

    void OnOK() override {
        Napi::Env env = Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("promptPositions", stats_.n_prompt);
        o.Set("generatedTokens", stats_.n_generated);
        o.Set("promptMs", stats_.prompt_ms);
        o.Set("generateMs", stats_.generate_ms);
        static const char * reasons[] = {"eog", "maxTokens", "aborted", "stopped"};
        o.Set("stopReason", reasons[stats_.stop_reason & 3]);
        deferred_.Resolve(o);
    }

    void OnError(const Napi::Error & e) override {
        deferred_.Reject(make_error(Env(), "DEP_GENERATE", e.Message()).Value());
    }

  private:
    int32_t info_embd() const {
        dep_llm_info li;
        dep_llm_get_info(llm_, &li);
        return li.n_embd;
    }

    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;  // keeps the model alive while we run
    Napi::FunctionReference on_token_;
    dep_llm * llm_;
    std::vector<std::vector<int32_t>> tokens_;
    std::vector<std::vector<float>> embd_;
    std::vector<bool> is_embd_;
    dep_sampling sampling_;
    dep_generate_stats stats_{};
};

Napi::Value NativeLlm::Generate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
        throw type_error(env, "generate(segments: Array<{tokens: Int32Array} | {embeddings: Float32Array}>, options, onToken?)");
    dep_llm * llm = handle(env);
    dep_llm_info li;
    dep_llm_get_info(llm, &li);
    Segments parsed = parse_segments(env, info[0].As<Napi::Array>(), li.n_embd, "");
    dep_sampling s = parse_sampling(env, info[1].As<Napi::Object>());
    Napi::Function on_token;
    if (info.Length() > 2 && info[2].IsFunction()) on_token = info[2].As<Napi::Function>();
    return (new GenerateWorker(env, info.This().As<Napi::Object>(), llm, std::move(parsed.tokens),
                                       std::move(parsed.embd), std::move(parsed.is_embd), s, on_token))->queue();
}


// ---- lossAndGrad(segments, targets) -> Promise<{ loss, grads, nTokens, ... }> ----------------------

class GraphLossAndGradWorker : public LossAndGradWorker {
  public:
    GraphLossAndGradWorker(Napi::Env env, Napi::Object owner, dep_llm * llm, Segments segs, std::vector<int32_t> targets)
        : LossAndGradWorker(env, owner, std::move(segs), std::move(targets), model_n_embd(llm)), llm_(llm) {}

  private:
    int32_t run(const std::vector<dep_segment> & segs, char * err, size_t err_size) override {
        return dep_llm_loss_and_grad(llm_, segs.data(), static_cast<int32_t>(segs.size()), targets_.data(),
                                     static_cast<int32_t>(targets_.size()), &loss_, grads_.ptrs.data(), &stats_, err,
                                     err_size);
    }
    void add_stats(Napi::Object & o) const override {
        o.Set("nTokens", stats_.n_targets);
        o.Set("nPositions", stats_.n_positions);
        o.Set("loadMs", stats_.load_ms);
        o.Set("computeMs", stats_.compute_ms);
        o.Set("weightBytes", static_cast<double>(stats_.weight_bytes));
        o.Set("computeBytes", static_cast<double>(stats_.compute_bytes));
    }

    dep_llm * llm_;
    dep_grad_stats stats_{};
};

Napi::Value NativeLlm::LossAndGrad(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw type_error(env, "lossAndGrad(segments: Array<{tokens} | {embeddings}>, targets: Int32Array)");
    dep_llm * llm = handle(env);
    Segments segs = parse_segments(env, info[0].As<Napi::Array>(), model_n_embd(llm), "");
    Napi::Int32Array t = info[1].As<Napi::Int32Array>();
    std::vector<int32_t> targets(t.Data(), t.Data() + t.ElementLength());
    return (new GraphLossAndGradWorker(env, info.This().As<Napi::Object>(), llm, std::move(segs), std::move(targets)))
        ->queue();
}

// ---- debugLogits(segments, useGraph) -> Promise<Float32Array [nPositions * nVocab]> -----------------

class DebugLogitsWorker : public PromiseWorker {
  public:
    DebugLogitsWorker(Napi::Env env, Napi::Object owner, dep_llm * llm, Segments segs, bool use_graph)
        : PromiseWorker(env, "DEP_GRAD", owner), llm_(llm), segs_(std::move(segs)), use_graph_(use_graph) {}

  private:
    void Execute() override {
        dep_llm_info li;
        dep_llm_get_info(llm_, &li);
        std::vector<dep_segment> segs = segs_.view(li.n_embd);
        size_t n_pos = 0;
        for (const auto & s : segs) n_pos += static_cast<size_t>(s.n);
        out_.assign(n_pos * static_cast<size_t>(li.n_vocab), 0.0f);
        char err[kErrSize] = {0};
        if (dep_llm_debug_logits(llm_, segs.data(), static_cast<int32_t>(segs.size()), use_graph_, out_.data(), err,
                                 sizeof(err)) != 0)
            SetError(err);
    }
    Napi::Value result(Napi::Env env) override {
        Napi::Float32Array a = Napi::Float32Array::New(env, out_.size());
        std::copy(out_.begin(), out_.end(), a.Data());
        return a;
    }

    dep_llm * llm_;
    Segments segs_;
    bool use_graph_;
    std::vector<float> out_;
};

Napi::Value NativeLlm::DebugLogits(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsBoolean())
        throw type_error(env, "debugLogits(segments, useGraph: boolean)");
    dep_llm * llm = handle(env);
    Segments segs = parse_segments(env, info[0].As<Napi::Array>(), model_n_embd(llm), "");
    return (new DebugLogitsWorker(env, info.This().As<Napi::Object>(), llm, std::move(segs),
                                          info[1].As<Napi::Boolean>().Value()))->queue();
}

// ---- generateBatch(requests, options, onToken(request, token)) -> Promise<stats[]> --------------------

struct BatchToken {
    int32_t request;
    int32_t token;
};

class GenerateBatchWorker : public Napi::AsyncProgressQueueWorker<BatchToken> {
  public:
    GenerateBatchWorker(Napi::Env env, Napi::Object owner, dep_llm * llm, std::vector<Segments> reqs, dep_sampling s,
                        int32_t n_parallel, Napi::Function on_token)
        : Napi::AsyncProgressQueueWorker<BatchToken>(env), deferred_(Napi::Promise::Deferred::New(env)), llm_(llm),
          reqs_(std::move(reqs)), sampling_(s), n_parallel_(n_parallel) {
        owner_ = Napi::Persistent(owner);
        if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
    }

    // Queues the worker (it deletes itself when done) and returns its promise.
    Napi::Promise queue() {
        Napi::Promise p = deferred_.Promise();
        Queue();
        return p;
    }

    void Execute(const ExecutionProgress & progress) override {
        const int32_t n_embd = model_n_embd(llm_);
        std::vector<std::vector<dep_segment>> views;
        std::vector<dep_batch_request> reqs;
        for (const auto & r : reqs_) views.push_back(r.view(n_embd));
        for (const auto & v : views) reqs.push_back({v.data(), static_cast<int32_t>(v.size())});
        stats_.assign(reqs.size(), dep_generate_stats{});
        struct Ctx { const ExecutionProgress * progress; } ctx{&progress};
        auto cb = [](int32_t request, int32_t token, void * user) -> bool {
            BatchToken bt{request, token};
            static_cast<Ctx *>(user)->progress->Send(&bt, 1);
            return true;
        };
        char err[kErrSize] = {0};
        if (dep_llm_generate_batch(llm_, reqs.data(), static_cast<int32_t>(reqs.size()), &sampling_, n_parallel_, cb,
                                   &ctx, stats_.data(), err, sizeof(err)) != 0)
            SetError(err);
    }

    void OnProgress(const BatchToken * data, size_t count) override {
        if (on_token_.IsEmpty()) return;
        Napi::Env env = Env();
        for (size_t i = 0; i < count; ++i)
            on_token_.Call({Napi::Number::New(env, data[i].request), Napi::Number::New(env, data[i].token)});
    }

    void OnOK() override {
        Napi::Env env = Env();
        Napi::Array arr = Napi::Array::New(env, stats_.size());
        static const char * reasons[] = {"eog", "maxTokens", "aborted", "stopped"};
        for (size_t i = 0; i < stats_.size(); ++i) {
            Napi::Object o = Napi::Object::New(env);
            o.Set("promptPositions", stats_[i].n_prompt);
            o.Set("generatedTokens", stats_[i].n_generated);
            o.Set("promptMs", stats_[i].prompt_ms);
            o.Set("generateMs", stats_[i].generate_ms);
            o.Set("stopReason", reasons[stats_[i].stop_reason & 3]);
            arr.Set(static_cast<uint32_t>(i), o);
        }
        deferred_.Resolve(arr);
    }

    void OnError(const Napi::Error & e) override {
        deferred_.Reject(make_error(Env(), "DEP_GENERATE", e.Message()).Value());
    }

  private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;
    Napi::FunctionReference on_token_;
    dep_llm * llm_;
    std::vector<Segments> reqs_;
    dep_sampling sampling_;
    int32_t n_parallel_;
    std::vector<dep_generate_stats> stats_;
};

Napi::Value NativeLlm::GenerateBatch(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
        throw type_error(env, "generateBatch(requests: Array<segments[]>, options, onToken?)");
    dep_llm * llm = handle(env);
    const int32_t n_embd = model_n_embd(llm);
    Napi::Array reqs_js = info[0].As<Napi::Array>();
    std::vector<Segments> reqs;
    for (uint32_t i = 0; i < reqs_js.Length(); ++i) {
        Napi::Value v = reqs_js.Get(i);
        if (!v.IsArray()) throw type_error(env, "request " + std::to_string(i) + " must be an array of segments");
        reqs.push_back(parse_segments(env, v.As<Napi::Array>(), n_embd, "request " + std::to_string(i) + ": "));
    }
    Napi::Object opts = info[1].As<Napi::Object>();
    dep_sampling s = parse_sampling(env, opts);
    const int32_t n_parallel = int_option(opts, "parallel", 4);
    if (n_parallel <= 0 || n_parallel > 256) throw type_error(env, "parallel must be in [1, 256]");
    Napi::Function on_token;
    if (info.Length() > 2 && info[2].IsFunction()) on_token = info[2].As<Napi::Function>();
    return (new GenerateBatchWorker(env, info.This().As<Napi::Object>(), llm, std::move(reqs), s, n_parallel,
                                            on_token))->queue();
}


// ---- openBatch(slots) -> NativeBatchSession: add(slot, segments, options), step(), cancel(slot), close() --

Napi::Object event_object(Napi::Env env, const dep_batch_event & ev) {
    static const char * reasons[] = {"eog", "maxTokens", "aborted", "stopped"};
    Napi::Object o = Napi::Object::New(env);
    o.Set("slot", ev.slot);
    o.Set("token", ev.token >= 0 ? Napi::Value(Napi::Number::New(env, ev.token)) : env.Null());
    o.Set("finished", ev.finished != 0);
    o.Set("stopReason", ev.finished ? Napi::Value(Napi::String::New(env, reasons[ev.stop_reason & 3])) : env.Null());
    o.Set("generatedTokens", ev.n_generated);
    o.Set("promptPositions", ev.n_prompt);
    o.Set("promptMs", ev.prompt_ms);
    o.Set("generateMs", ev.generate_ms);
    return o;
}

class NativeBatchSession : public Napi::ObjectWrap<NativeBatchSession> {
  public:
    static Napi::FunctionReference * constructor;

    static void Init(Napi::Env env, Napi::Object exports) {
        Napi::Function cls = DefineClass(env, "NativeBatchSession", {
            InstanceMethod<&NativeBatchSession::Add>("add"),
            InstanceMethod<&NativeBatchSession::Step>("step"),
            InstanceMethod<&NativeBatchSession::Cancel>("cancel"),
            InstanceMethod<&NativeBatchSession::Close>("close"),
        });
        constructor = new Napi::FunctionReference(Napi::Persistent(cls));
        exports.Set("NativeBatchSession", cls);
    }

    explicit NativeBatchSession(const Napi::CallbackInfo & info) : Napi::ObjectWrap<NativeBatchSession>(info) {
        if (info.Length() != 3 || !info[0].IsExternal() || !info[1].IsObject() || !info[2].IsNumber())
            throw type_error(info.Env(), "NativeBatchSession is created by openBatch(), not with new");
        session_ = info[0].As<Napi::External<dep_batch_session>>().Data();
        owner_ = Napi::Persistent(info[1].As<Napi::Object>());
        llm_ = NativeLlm::Unwrap(info[1].As<Napi::Object>());
        n_slots_ = info[2].As<Napi::Number>().Int32Value();
    }

    ~NativeBatchSession() override {
        if (open()) dep_batch_close(session_);
    }

    // the session, usable now (open, its model not disposed, no add/step running)
    dep_batch_session * handle(Napi::Env env) {
        if (!open()) throw make_error(env, "DEP_DISPOSED", "this batch session is closed (or its model disposed)");
        if (busy_) throw make_error(env, "DEP_BUSY", "this batch session is running an add or step; await it first");
        return session_;
    }

    dep_llm * llm() const { return llm_->raw(); }
    void set_busy(bool busy) { busy_ = busy; }
    int32_t slots() const { return n_slots_; }

  private:
    // dep_llm_free closes the session along with the model
    bool open() const { return session_ && llm_->raw(); }

    Napi::Value Add(const Napi::CallbackInfo & info);
    Napi::Value Step(const Napi::CallbackInfo & info);

    Napi::Value Cancel(const Napi::CallbackInfo & info) {
        if (open() && info.Length() > 0 && info[0].IsNumber()) dep_batch_cancel(session_, info[0].As<Napi::Number>().Int32Value());
        return info.Env().Undefined();
    }

    Napi::Value Close(const Napi::CallbackInfo & info) {
        if (open()) {
            handle(info.Env());
            dep_batch_close(session_);
        }
        session_ = nullptr;
        return info.Env().Undefined();
    }

    dep_batch_session * session_ = nullptr;
    Napi::ObjectReference owner_;  // keeps the model alive while the session is
    NativeLlm * llm_ = nullptr;
    int32_t n_slots_ = 0;
    bool busy_ = false;
};

Napi::FunctionReference * NativeBatchSession::constructor = nullptr;

Napi::Value NativeLlm::OpenBatch(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw type_error(env, "openBatch(slots: number)");
    const int32_t slots = info[0].As<Napi::Number>().Int32Value();
    if (slots <= 0 || slots > 256) throw type_error(env, "openBatch: slots must be in [1, 256]");
    char err[kErrSize] = {0};
    dep_batch_session * s = dep_batch_open(handle(env), slots, err, sizeof(err));
    if (!s) throw make_error(env, "DEP_GENERATE", err);
    return NativeBatchSession::constructor->New(
        {Napi::External<dep_batch_session>::New(env, s), info.This(), Napi::Number::New(env, slots)});
}

// Runs one add or step off the JS thread; the session is marked busy meanwhile.
class BatchSessionWorker : public PromiseWorker {
  public:
    BatchSessionWorker(Napi::Env env, NativeBatchSession * session, dep_batch_session * handle)
        : PromiseWorker(env, "DEP_GENERATE", session->Value()), session_(session), handle_(handle) {
        session->set_busy(true);
    }

  protected:
    void settled() override { session_->set_busy(false); }

    NativeBatchSession * session_;
    dep_batch_session * handle_;
};

class BatchAddWorker : public BatchSessionWorker {
  public:
    BatchAddWorker(Napi::Env env, NativeBatchSession * session, dep_batch_session * handle, int32_t slot, Segments segs,
                   dep_sampling s)
        : BatchSessionWorker(env, session, handle), slot_(slot), segs_(std::move(segs)), sampling_(s),
          n_embd_(model_n_embd(session->llm())) {}

    void Execute() override {
        std::vector<dep_segment> segs = segs_.view(n_embd_);
        char err[kErrSize] = {0};
        if (dep_batch_add(handle_, slot_, segs.data(), static_cast<int32_t>(segs.size()), &sampling_, &event_, err,
                          sizeof(err)) != 0)
            SetError(err);
    }

  private:
    Napi::Value result(Napi::Env env) override { return event_object(env, event_); }

    int32_t slot_;
    Segments segs_;
    dep_sampling sampling_;
    int32_t n_embd_;
    dep_batch_event event_{};
};

class BatchStepWorker : public BatchSessionWorker {
  public:
    BatchStepWorker(Napi::Env env, NativeBatchSession * session, dep_batch_session * handle, int32_t n_slots)
        : BatchSessionWorker(env, session, handle), events_(static_cast<size_t>(n_slots)) {}

    void Execute() override {
        char err[kErrSize] = {0};
        n_ = dep_batch_step(handle_, events_.data(), err, sizeof(err));
        if (n_ < 0) SetError(err);
    }

  private:
    Napi::Value result(Napi::Env env) override {
        Napi::Array arr = Napi::Array::New(env, static_cast<size_t>(n_));
        for (int32_t i = 0; i < n_; ++i) arr.Set(static_cast<uint32_t>(i), event_object(env, events_[static_cast<size_t>(i)]));
        return arr;
    }

    std::vector<dep_batch_event> events_;
    int32_t n_ = 0;
};

Napi::Value NativeBatchSession::Add(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsObject())
        throw type_error(env, "add(slot: number, segments: Array<{tokens} | {embeddings}>, options)");
    dep_batch_session * s = handle(env);
    Segments segs = parse_segments(env, info[1].As<Napi::Array>(), model_n_embd(llm()), "");
    dep_sampling sampling = parse_sampling(env, info[2].As<Napi::Object>());
    return (new BatchAddWorker(env, this, s, info[0].As<Napi::Number>().Int32Value(), std::move(segs), sampling))->queue();
}

Napi::Value NativeBatchSession::Step(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    dep_batch_session * s = handle(env);
    return (new BatchStepWorker(env, this, s, slots()))->queue();
}

// ---- embed(tokenLists, pooled) -> Promise<Float32Array[]> ----------------------------------------------

class EmbedWorker : public PromiseWorker {
  public:
    EmbedWorker(Napi::Env env, Napi::Object owner, dep_llm * llm, std::vector<std::vector<int32_t>> inputs, bool pooled)
        : PromiseWorker(env, "DEP_EMBED", owner), llm_(llm), inputs_(std::move(inputs)), pooled_(pooled) {}

  private:
    void Execute() override {
        const size_t width = static_cast<size_t>(dep_llm_embed_width(llm_));
        char err[kErrSize] = {0};
        for (size_t i = 0; i < inputs_.size(); ++i) {
            const auto & t = inputs_[i];
            outputs_.emplace_back(pooled_ ? width : width * t.size());
            if (dep_llm_embed(llm_, t.data(), static_cast<int32_t>(t.size()), pooled_, outputs_.back().data(), err,
                              sizeof(err)) != 0) {
                SetError("input " + std::to_string(i) + ": " + err);
                return;
            }
        }
    }
    Napi::Value result(Napi::Env env) override {
        Napi::Array arr = Napi::Array::New(env, outputs_.size());
        for (size_t i = 0; i < outputs_.size(); ++i) {
            Napi::Float32Array a = Napi::Float32Array::New(env, outputs_[i].size());
            std::copy(outputs_[i].begin(), outputs_[i].end(), a.Data());
            arr.Set(static_cast<uint32_t>(i), a);
        }
        return arr;
    }

    dep_llm * llm_;
    std::vector<std::vector<int32_t>> inputs_;
    bool pooled_;
    std::vector<std::vector<float>> outputs_;
};

Napi::Value NativeLlm::Embed(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsBoolean())
        throw type_error(env, "embed(tokenLists: Int32Array[], pooled: boolean)");
    dep_llm * llm = handle(env);
    Napi::Array lists = info[0].As<Napi::Array>();
    std::vector<std::vector<int32_t>> inputs;
    for (uint32_t i = 0; i < lists.Length(); ++i) {
        Napi::Value v = lists.Get(i);
        if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
            throw type_error(env, "input " + std::to_string(i) + " must be an Int32Array of tokens");
        Napi::Int32Array a = v.As<Napi::Int32Array>();
        inputs.emplace_back(a.Data(), a.Data() + a.ElementLength());
    }
    return (new EmbedWorker(env, info.This().As<Napi::Object>(), llm, std::move(inputs), info[1].As<Napi::Boolean>().Value()))->queue();
}

}  // namespace

void init_llm(Napi::Env env, Napi::Object exports) {
    NativeLlm::Init(env, exports);
    NativeBatchSession::Init(env, exports);
    exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
    exports.Set("quantizeModel", Napi::Function::New(env, QuantizeModel, "quantizeModel"));
}

}  // namespace dep_addon
