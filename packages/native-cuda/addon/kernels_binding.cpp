// JS face of dep/kernels.h. Thin: every call takes one plain object of typed arrays and sizes; the binding
// checks types, that every array's length matches the sizes (shapes that multiply out), finiteness of
// float inputs, then calls dep_* (which range-checks every index) synchronously, or — for the `*Async`
// variants — on a libuv worker thread, returning a Promise. Typed arrays are used in place (zero copy);
// outputs are caller-provided arrays. Failures become JS errors with `code` (and `index` where one
// applies); nothing aborts the process.
//   codes: DEP_INVALID_ARGUMENT (type / value), DEP_SHAPE_MISMATCH (length), DEP_NON_FINITE,
//          DEP_INDEX_RANGE, DEP_NO_PEERS, DEP_EMPTY_SEGMENT, DEP_BACKEND_UNAVAILABLE, DEP_CUDA
#include <napi.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dep/kernels.h"
#include "errors.h"

namespace dep_addon {
namespace {

Napi::Error coded(Napi::Env env, const char * code, const std::string & msg, int64_t index = -1) {
    Napi::Error e = make_error(env, code, msg);
    if (index >= 0) e.Set("index", Napi::Number::New(env, static_cast<double>(index)));
    return e;
}

const char * status_code(dep_kstatus st) {
    switch (st) {
        case DEP_KERR_INDEX_RANGE: return "DEP_INDEX_RANGE";
        case DEP_KERR_NO_PEERS: return "DEP_NO_PEERS";
        case DEP_KERR_EMPTY_SEGMENT: return "DEP_EMPTY_SEGMENT";
        case DEP_KERR_BACKEND_UNAVAILABLE: return "DEP_BACKEND_UNAVAILABLE";
        case DEP_KERR_DEVICE: return "DEP_CUDA";
        default: return "DEP_INVALID_ARGUMENT";
    }
}

// A validated call: the typed arrays it uses are kept alive by `refs` until it has run.
struct Job {
    std::vector<Napi::ObjectReference> refs;
    std::vector<std::vector<int64_t>> widened;  // Int32Array indices widened to int64 for the C API
    std::function<dep_kstatus()> run;
    double result = NAN;  // a scalar result (the SAE loss), or NaN for none
};

// ---- argument readers -------------------------------------------------------------------------------
struct Args {
    Napi::Env env;
    Napi::Object o;
    Job & job;
    const char * fn;

    std::string where(const char * name) const { return std::string(fn) + ": `" + name + "`"; }

    int64_t dim(const char * name, int64_t lo = 1, int64_t hi = INT32_MAX) {
        Napi::Value v = o.Get(name);
        if (!v.IsNumber()) throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be an integer");
        double d = v.As<Napi::Number>().DoubleValue();
        if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
            throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be an integer in " + std::to_string(lo) +
                        ".." + std::to_string(hi) + ", got " + v.ToString().Utf8Value());
        return static_cast<int64_t>(d);
    }
    double num(const char * name, double fallback) {
        Napi::Value v = o.Get(name);
        if (v.IsUndefined()) return fallback;
        if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
            throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be a finite number");
        return v.As<Napi::Number>().DoubleValue();
    }
    bool flag(const char * name) {
        Napi::Value v = o.Get(name);
        if (v.IsUndefined()) return false;
        if (!v.IsBoolean()) throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be a boolean");
        return v.As<Napi::Boolean>().Value();
    }
    std::string str(const char * name, const char * fallback) {
        Napi::Value v = o.Get(name);
        if (v.IsUndefined()) return fallback;
        if (!v.IsString()) throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be a string");
        return v.As<Napi::String>().Utf8Value();
    }
    Napi::TypedArray typed(const char * name, napi_typedarray_type t, const char * tname, int64_t len, bool optional) {
        Napi::Value v = o.Get(name);
        if (optional && (v.IsUndefined() || v.IsNull())) return Napi::TypedArray();
        if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != t)
            throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be a " + tname);
        Napi::TypedArray a = v.As<Napi::TypedArray>();
        if (len >= 0 && static_cast<int64_t>(a.ElementLength()) != len)
            throw coded(env, "DEP_SHAPE_MISMATCH", where(name) + " has " + std::to_string(a.ElementLength()) +
                        " elements, expected " + std::to_string(len));
        job.refs.push_back(Napi::Persistent(a.As<Napi::Object>()));
        return a;
    }
    template <class T>
    T * data(Napi::TypedArray a) {
        if (a.IsEmpty()) return nullptr;
        return reinterpret_cast<T *>(static_cast<uint8_t *>(a.ArrayBuffer().Data()) + a.ByteOffset());
    }
    float * f32(const char * name, int64_t len, bool optional = false, bool finite = false) {
        Napi::TypedArray a = typed(name, napi_float32_array, "Float32Array", len, optional);
        float * p = data<float>(a);
        if (p && finite)
            for (int64_t i = 0; i < len; ++i)
                if (!std::isfinite(p[i]))
                    throw coded(env, "DEP_NON_FINITE", where(name) + "[" + std::to_string(i) + "] is not finite", i);
        return p;
    }
    int32_t * i32(const char * name, int64_t len, bool optional = false) {
        return data<int32_t>(typed(name, napi_int32_array, "Int32Array", len, optional));
    }
    const int64_t * i64(const char * name, int64_t len) {  // an Int32Array, widened
        int32_t * p = i32(name, len);
        job.widened.emplace_back(p, p + len);
        return job.widened.back().data();
    }
    int64_t length_of(const char * name) {
        Napi::Value v = o.Get(name);
        if (!v.IsTypedArray()) throw coded(env, "DEP_INVALID_ARGUMENT", where(name) + " must be a typed array");
        return static_cast<int64_t>(v.As<Napi::TypedArray>().ElementLength());
    }
    dep_kernel_opts opts() {
        dep_kernel_opts k = dep_kernel_default_opts();
        std::string b = str("backend", "auto");
        if (b == "auto") k.backend = DEP_KBACKEND_AUTO;
        else if (b == "reference") k.backend = DEP_KBACKEND_REFERENCE;
        else if (b == "cpu") k.backend = DEP_KBACKEND_CPU;
        else if (b == "cuda") k.backend = DEP_KBACKEND_CUDA;
        else throw coded(env, "DEP_INVALID_ARGUMENT", where("backend") + " must be auto, reference, cpu or cuda, got " + b);
        k.n_threads = static_cast<int32_t>(dim("threads", 1, 1024));
        return k;
    }
};

// ---- the kernels --------------------------------------------------------------------------------------
void build_user_means(Args & a) {
    a.fn = "userMeans";
    auto o = a.opts();
    const int64_t d = a.dim("d"), n_users = a.dim("nUsers");
    const std::string dt = a.str("dtype", "f32");
    dep_dtype dtype = dt == "f32" ? DEP_DTYPE_F32 : dt == "f16" ? DEP_DTYPE_F16 : dt == "bf16" ? DEP_DTYPE_BF16 : DEP_DTYPE_F32;
    if (dt != "f32" && dt != "f16" && dt != "bf16") throw coded(a.env, "DEP_INVALID_ARGUMENT", a.where("dtype") + " must be f32, f16 or bf16");
    const int64_t elems = a.length_of("emb");
    if (elems % d) throw coded(a.env, "DEP_SHAPE_MISMATCH", a.where("emb") + " length is not a multiple of d");
    const void * emb = dtype == DEP_DTYPE_F32 ? static_cast<const void *>(a.f32("emb", elems, false, true))
                                              : static_cast<const void *>(a.data<uint16_t>(a.typed("emb", napi_uint16_array, "Uint16Array", elems, false)));
    const int64_t * off = a.i64("segOffsets", n_users + 1);
    float * means = a.f32("out", n_users * d);
    const int64_t n_rows = elems / d;
    a.job.run = [=] { return dep_user_means(&o, emb, dtype, n_rows, static_cast<int32_t>(d), off, static_cast<int32_t>(n_users), means); };
}

void build_diff_embed(Args & a) {
    a.fn = "diffEmbed";
    auto o = a.opts();
    const int64_t d = a.dim("d"), n_users = a.dim("nUsers"), T = a.dim("targets");
    const std::string dt = a.str("dtype", "f32"), wms = a.str("weighting", "reference");
    if (dt != "f32" && dt != "f16" && dt != "bf16") throw coded(a.env, "DEP_INVALID_ARGUMENT", a.where("dtype") + " must be f32, f16 or bf16");
    dep_dtype dtype = dt == "f32" ? DEP_DTYPE_F32 : dt == "f16" ? DEP_DTYPE_F16 : DEP_DTYPE_BF16;
    dep_diff_weighting wm = wms == "reference" ? DEP_DIFF_REFERENCE : wms == "softmax-norm" ? DEP_DIFF_SOFTMAX_NORM : DEP_DIFF_UNIFORM;
    if (wms != "reference" && wms != "softmax-norm" && wms != "uniform")
        throw coded(a.env, "DEP_INVALID_ARGUMENT", a.where("weighting") + " must be reference, softmax-norm or uniform");
    const int64_t elems = a.length_of("emb");
    if (elems % d) throw coded(a.env, "DEP_SHAPE_MISMATCH", a.where("emb") + " length is not a multiple of d");
    const void * emb = dtype == DEP_DTYPE_F32 ? static_cast<const void *>(a.f32("emb", elems, false, true))
                                              : static_cast<const void *>(a.data<uint16_t>(a.typed("emb", napi_uint16_array, "Uint16Array", elems, false)));
    const float * means = a.f32("means", n_users * d, false, true);
    const int64_t * self_row = a.i64("selfRow", T);
    const int32_t * self_user = a.i32("selfUser", T);
    const int64_t * poff = a.i64("peerOffsets", T + 1);
    const int64_t np = a.length_of("peerRow");
    const int64_t * prow = a.i64("peerRow", np);
    const int32_t * puser = a.i32("peerUser", np);
    if (poff[T] != np) throw coded(a.env, "DEP_SHAPE_MISMATCH", a.where("peerOffsets") + "[targets] must equal peerRow.length (" + std::to_string(np) + ")", T);
    float * out = a.f32("out", T * d);
    float * wout = a.f32("weightsOut", np, true);
    const int64_t n_rows = elems / d;
    a.job.run = [=] {
        return dep_diff_embed(&o, emb, dtype, n_rows, static_cast<int32_t>(d), means, static_cast<int32_t>(n_users),
                              static_cast<int32_t>(T), self_row, self_user, poff, prow, puser, wm, out, wout);
    };
}

struct SaeArgs {
    dep_kernel_opts o;
    dep_sae_params p;
    dep_sae_weights w;
    int32_t B;
    const float * X;
    const int32_t * k;
    float * ws;
};

SaeArgs sae_common(Args & a) {
    SaeArgs s;
    s.o = a.opts();
    const int64_t d = a.dim("d"), h = a.dim("h"), B = a.dim("nSamples");
    s.p = dep_sae_default_params(static_cast<int32_t>(d), static_cast<int32_t>(h));
    s.p.linear_output = a.flag("linearOutput") ? 1 : 0;
    s.p.recon_weight = static_cast<float>(a.num("reconWeight", s.p.recon_weight));
    s.p.kl_weight = static_cast<float>(a.num("klWeight", s.p.kl_weight));
    s.p.rho = static_cast<float>(a.num("rho", s.p.rho));
    s.B = static_cast<int32_t>(B);
    s.w = {a.f32("W1", d * h, false, true), a.f32("b1", h, false, true), a.f32("W2", h * d, false, true), a.f32("b2", d, false, true)};
    s.X = a.f32("X", B * DEP_SAE_ROWS * d, false, true);
    s.k = a.i32("k", B);
    s.ws = a.f32("workspace", static_cast<int64_t>(dep_sae_workspace_floats(s.B, s.p.d, s.p.h)));
    return s;
}

void build_sae_forward(Args & a) {
    a.fn = "saeForward";
    SaeArgs s = sae_common(a);
    const int64_t M = static_cast<int64_t>(s.B) * DEP_SAE_ROWS;
    float * z = a.f32("z", M * s.p.h);
    float * xhat = a.f32("xhat", M * s.p.d, true);
    float * terms = a.f32("sampleTerms", 2 * s.B, true);
    Job * job = &a.job;
    a.job.run = [=] {
        float loss = 0;
        dep_kstatus st = dep_sae_forward(&s.o, &s.p, &s.w, s.B, s.X, s.k, z, xhat, &loss, terms, s.ws);
        job->result = loss;
        return st;
    };
}

void build_sae_backward(Args & a) {
    a.fn = "saeBackward";
    SaeArgs s = sae_common(a);
    const int64_t M = static_cast<int64_t>(s.B) * DEP_SAE_ROWS, d = s.p.d, h = s.p.h;
    const float * z = a.f32("z", M * h);
    const float * dz = a.f32("dzUp", M * h, true, true);
    dep_sae_grads g{a.f32("gW1", d * h), a.f32("gb1", h), a.f32("gW2", h * d), a.f32("gb2", d)};
    float * dX = a.f32("dX", M * d, true);
    const int acc = a.flag("accumulate") ? 1 : 0;
    a.job.run = [=]() mutable { return dep_sae_backward(&s.o, &s.p, &s.w, s.B, s.X, s.k, z, dz, s.ws, &g, dX, acc); };
}

struct ProjArgs {
    dep_kernel_opts o;
    int32_t h, H, N;
    dep_proj_weights w;
    const float * x;
    float * ws;
};

ProjArgs proj_common(Args & a) {
    ProjArgs p;
    p.o = a.opts();
    const int64_t h = a.dim("h"), H = a.dim("H"), N = a.dim("nRows");
    p.h = static_cast<int32_t>(h), p.H = static_cast<int32_t>(H), p.N = static_cast<int32_t>(N);
    p.w = {a.f32("A1", h * H, false, true), a.f32("c1", H, false, true), a.f32("A2", H * H, false, true), a.f32("c2", H, false, true)};
    p.x = a.f32("x", N * h, false, true);
    p.ws = a.f32("workspace", static_cast<int64_t>(dep_proj_workspace_floats(p.N, p.h, p.H)));
    return p;
}

void build_proj_forward(Args & a) {
    a.fn = "projForward";
    ProjArgs p = proj_common(a);
    float * y = a.f32("y", static_cast<int64_t>(p.N) * p.H);
    a.job.run = [=] { return dep_proj_forward(&p.o, p.h, p.H, p.N, p.x, &p.w, y, p.ws); };
}

void build_proj_backward(Args & a) {
    a.fn = "projBackward";
    ProjArgs p = proj_common(a);
    const int64_t h = p.h, H = p.H, N = p.N;
    const float * dy = a.f32("dy", N * H, false, true);
    dep_proj_grads g{a.f32("gA1", h * H), a.f32("gc1", H), a.f32("gA2", H * H), a.f32("gc2", H)};
    float * dx = a.f32("dx", N * h, true);
    const int acc = a.flag("accumulate") ? 1 : 0;
    a.job.run = [=]() mutable { return dep_proj_backward(&p.o, p.h, p.H, p.N, p.x, &p.w, dy, p.ws, &g, dx, acc); };
}

void build_adamw(Args & a) {
    a.fn = "adamwStep";
    auto o = a.opts();
    dep_adamw_params ap = dep_adamw_default_params();
    ap.lr = static_cast<float>(a.num("lr", ap.lr));
    ap.beta1 = static_cast<float>(a.num("beta1", ap.beta1));
    ap.beta2 = static_cast<float>(a.num("beta2", ap.beta2));
    ap.eps = static_cast<float>(a.num("eps", ap.eps));
    ap.weight_decay = static_cast<float>(a.num("weightDecay", ap.weight_decay));
    ap.step = static_cast<int32_t>(a.dim("step", 1, INT32_MAX));
    const int64_t n = a.length_of("param");
    float * p = a.f32("param", n);
    const float * g = a.f32("grad", n, false, true);
    float * m = a.f32("m", n);
    float * v = a.f32("v", n);
    a.job.run = [=] { return dep_adamw_step(&o, &ap, n, p, g, m, v); };
}

// ---- sync / async plumbing ------------------------------------------------------------------------------
using Builder = void (*)(Args &);

std::shared_ptr<Job> prepare(const Napi::CallbackInfo & info, Builder b, const char * fn) {
    if (info.Length() != 1 || !info[0].IsObject())
        throw coded(info.Env(), "DEP_INVALID_ARGUMENT", std::string(fn) + ": expects one argument object");
    auto job = std::make_shared<Job>();
    Args a{info.Env(), info[0].As<Napi::Object>(), *job, fn};
    b(a);
    return job;
}

Napi::Value result_of(Napi::Env env, const Job & j) {
    return std::isnan(j.result) ? env.Undefined() : Napi::Value(Napi::Number::New(env, j.result));
}

class KernelWorker : public Napi::AsyncWorker {
  public:
    KernelWorker(Napi::Env env, std::shared_ptr<Job> job)
        : Napi::AsyncWorker(env, "dep_kernel"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        st_ = job_->run();
        if (st_ != DEP_KOK) {
            msg_ = dep_kernels_last_error();  // thread-local: read on the thread that failed
            index_ = dep_kernels_last_error_index();
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        if (st_ != DEP_KOK) deferred_.Reject(coded(env, status_code(st_), msg_, index_).Value());
        else deferred_.Resolve(result_of(env, *job_));
    }

  private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<Job> job_;
    dep_kstatus st_ = DEP_KOK;
    std::string msg_;
    int64_t index_ = -1;
};

template <Builder B>
Napi::Value call_sync(const Napi::CallbackInfo & info) {
    auto job = prepare(info, B, "kernels");
    dep_kstatus st = job->run();
    if (st != DEP_KOK) throw coded(info.Env(), status_code(st), dep_kernels_last_error(), dep_kernels_last_error_index());
    return result_of(info.Env(), *job);
}

template <Builder B>
Napi::Value call_async(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Job> job;
    try {
        job = prepare(info, B, "kernels");
    } catch (const Napi::Error & e) {  // argument errors reject the Promise rather than throw
        auto d = Napi::Promise::Deferred::New(env);
        d.Reject(e.Value());
        return d.Promise();
    }
    auto * w = new KernelWorker(env, job);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

Napi::Value workspace_floats(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsObject()) throw coded(env, "DEP_INVALID_ARGUMENT", "workspaceFloats: expects one object");
    Job scratch;
    Args a{env, info[0].As<Napi::Object>(), scratch, "workspaceFloats"};
    const std::string kind = a.str("kernel", "");
    if (kind == "sae")
        return Napi::Number::New(env, static_cast<double>(dep_sae_workspace_floats(
            static_cast<int32_t>(a.dim("nSamples")), static_cast<int32_t>(a.dim("d")), static_cast<int32_t>(a.dim("h")))));
    if (kind == "proj")
        return Napi::Number::New(env, static_cast<double>(dep_proj_workspace_floats(
            static_cast<int32_t>(a.dim("nRows")), static_cast<int32_t>(a.dim("h")), static_cast<int32_t>(a.dim("H")))));
    throw coded(env, "DEP_INVALID_ARGUMENT", "workspaceFloats: `kernel` must be sae or proj");
}

}  // namespace

void init_kernels(Napi::Env env, Napi::Object exports) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("info", Napi::Function::New(env, [](const Napi::CallbackInfo & i) -> Napi::Value {
              Napi::Env e = i.Env();
              Napi::Object o = Napi::Object::New(e);
              o.Set("cpuIsa", dep_kernels_cpu_isa());
              o.Set("cudaAvailable", Napi::Boolean::New(e, dep_kernels_cuda_available() != 0));
              o.Set("autoBackend", dep_kernels_resolve_backend(DEP_KBACKEND_AUTO) == DEP_KBACKEND_CUDA ? "cuda" : "cpu");
              return o;
          }));
    k.Set("workspaceFloats", Napi::Function::New(env, workspace_floats));
#define DEP_REG(js, builder)                                                  \
    k.Set(js, Napi::Function::New(env, call_sync<builder>, js));              \
    k.Set(js "Async", Napi::Function::New(env, call_async<builder>, js "Async"));
    DEP_REG("userMeans", build_user_means)
    DEP_REG("diffEmbed", build_diff_embed)
    DEP_REG("saeForward", build_sae_forward)
    DEP_REG("saeBackward", build_sae_backward)
    DEP_REG("projForward", build_proj_forward)
    DEP_REG("projBackward", build_proj_backward)
    DEP_REG("adamwStep", build_adamw)
#undef DEP_REG
    exports.Set("kernels", k);
}

}  // namespace dep_addon
