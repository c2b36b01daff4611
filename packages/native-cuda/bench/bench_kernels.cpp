// bench_kernels — the kernel benchmark (issue 3), llm.c style: for each kernel x backend x shape,
// validate against the reference on a reduced shape, warm up, time >= 20 runs, print the median, the
// achieved GB/s or GFLOP/s, and the fraction of this machine's limit measured by this binary in this run:
//   * bandwidth limit: a streaming copy probe (memcpy of 256 MiB into another 256 MiB buffer, split over
//     the threads; bytes = read + write);
//   * compute limit:   an FP32 FMA probe (register-only FMA chains, enough independent accumulators to
//     saturate the FMA pipes, one per thread) — the machine's peak; our GEMM on 1024^3 is printed too.
// Usage: bench_kernels [--json] [--threads N] [--runs N] [--quick] [--reference] [--backend cpu|cuda|all]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <immintrin.h>
#include <sys/resource.h>

#include "dep/kernels.h"
#include "internal.h"
#include "kernel_util.h"
#ifdef DEP_WITH_CUDA
#include "cuda/cuda_device.h"
#endif

using namespace dep_test;
using clk = std::chrono::steady_clock;

namespace {
double loadavg() {
    double l = -1;
    if (FILE * f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1) l = -1;
        std::fclose(f);
    }
    return l;
}
double dtype_bytes(dep_dtype t) { return t == DEP_DTYPE_F32 ? 4.0 : 2.0; }

struct Args {
    bool json = false, quick = false, reference = false;
    int threads = 2, runs = 20;
    std::string backend = "all";
};

struct Row {
    std::string kernel, backend, shape, unit;
    double ms, rate, frac, cpu_ms = -1;
    std::string limit;
    double check_err;
};

double process_cpu_ms() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-3;
}

// CPU time of the last median_ms call: median over the runs of the process CPU time per run (all
// threads). Divided by the thread count it says how long the run would take on idle cores, which is what
// a shared, oversubscribed machine hides from the wall clock (the load average is printed with the table).
double g_last_cpu_ms = 0.0;

double median_ms(const std::function<void()> & f, int runs, int warm = 3) {
    for (int i = 0; i < warm; ++i) f();
    std::vector<double> t, c;
    for (int i = 0; i < runs; ++i) {
        const double c0 = process_cpu_ms();
        auto a = clk::now();
        f();
        t.push_back(std::chrono::duration<double, std::milli>(clk::now() - a).count());
        c.push_back(process_cpu_ms() - c0);
    }
    std::sort(t.begin(), t.end());
    std::sort(c.begin(), c.end());
    g_last_cpu_ms = c[c.size() / 2];
    return t[t.size() / 2];
}

// ---- machine limits ------------------------------------------------------------------------------
double copy_probe_gbs(int nt, int runs) {
    const size_t n = 64ull << 20;  // floats per buffer (256 MiB)
    std::vector<float> a(n, 1.0f), b(n, 0.0f);
    auto f = [&] {
        dep_k::parallel(nt, [&](int t) {
            const size_t lo = n * t / nt, hi = n * (t + 1) / nt;
            std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(float));
        });
    };
    const double ms = median_ms(f, runs);
    return 2.0 * n * sizeof(float) / (ms * 1e6);
}

__attribute__((target("avx512f"))) double fma_chain_avx512(int64_t iters) {
    __m512 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
    }
    float s = 0;
    alignas(64) float buf[16];
    for (int i = 0; i < 12; ++i) {
        _mm512_store_ps(buf, acc[i]);
        s += buf[0];
    }
    return s;
}
__attribute__((target("avx2,fma"))) double fma_chain_avx2(int64_t iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
    }
    float s = 0;
    alignas(32) float buf[8];
    for (int i = 0; i < 12; ++i) {
        _mm256_store_ps(buf, acc[i]);
        s += buf[0];
    }
    return s;
}

double fma_probe_gflops(int nt, int runs) {
    const bool z = std::string(dep_kernels_cpu_isa()) == "avx512";
    const bool y = std::string(dep_kernels_cpu_isa()) == "avx2";
    if (!z && !y) return 0.0;
    const int64_t iters = 2'000'000;
    volatile double sink = 0;
    auto f = [&] {
        dep_k::parallel(nt, [&](int) { sink = sink + (z ? fma_chain_avx512(iters) : fma_chain_avx2(iters)); });
    };
    const double ms = median_ms(f, std::max(5, runs / 4));
    return 2.0 * 12 * (z ? 16 : 8) * iters * nt / (ms * 1e6);
}

// ---- kernels -----------------------------------------------------------------------------------------
struct Limits {
    double copy_gbs, fma_gflops;
};

void add_row(std::vector<Row> & rows, const std::string & k, const std::string & be, const std::string & shape,
             double ms, double amount, bool bytes, const Limits & L, double err) {
    Row r;
    r.kernel = k;
    r.backend = be;
    r.shape = shape;
    r.ms = ms;
    r.unit = bytes ? "GB/s" : "GFLOP/s";
    r.rate = amount / (ms * 1e6);
    r.frac = bytes ? r.rate / L.copy_gbs : (L.fma_gflops > 0 ? r.rate / L.fma_gflops : 0);
    r.limit = bytes ? "copy" : "fma";
    r.check_err = err;
    if (be != "cuda" && be.rfind("cuda", 0) != 0) r.cpu_ms = g_last_cpu_ms;
    rows.push_back(r);
}

std::vector<dep_kbackend> backends(const Args & a) {
    std::vector<dep_kbackend> v;
    if (a.reference) v.push_back(DEP_KBACKEND_REFERENCE);
    if (a.backend == "all" || a.backend == "cpu") v.push_back(DEP_KBACKEND_CPU);
    if ((a.backend == "all" || a.backend == "cuda") && dep_kernels_cuda_available()) v.push_back(DEP_KBACKEND_CUDA);
    return v;
}
const char * be_name(dep_kbackend b) {
    return b == DEP_KBACKEND_REFERENCE ? "reference" : b == DEP_KBACKEND_CUDA ? "cuda" : "cpu";
}

uint16_t bf16_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

void bench_diff(const Args & a, const Limits & L, std::vector<Row> & rows) {
    const int32_t d = 1024, T = a.quick ? 512 : 4096, n_users = 8192;
    const int64_t n_rows = 65536;  // a 256 MiB F32 table: peers are gathered from memory, not cache
    Rng rng(11);
    std::vector<float> emb = randv(rng, n_rows * d);
    std::vector<uint16_t> embh(emb.size());
    for (size_t i = 0; i < emb.size(); ++i) embh[i] = bf16_of(emb[i]);
    std::vector<float> means = randv(rng, static_cast<size_t>(n_users) * d);
    for (int32_t P : {16, 64}) {
        std::vector<int64_t> self(T), poff(T + 1), prow(static_cast<size_t>(T) * P);
        std::vector<int32_t> suser(T), puser(prow.size());
        for (int32_t t = 0; t < T; ++t) {
            self[t] = rng.below(n_rows);
            suser[t] = static_cast<int32_t>(rng.below(n_users));
            poff[t] = static_cast<int64_t>(t) * P;
            for (int32_t r = 0; r < P; ++r) {
                prow[t * P + r] = rng.below(n_rows);
                puser[t * P + r] = static_cast<int32_t>(rng.below(n_users));
            }
        }
        poff[T] = static_cast<int64_t>(T) * P;
        std::vector<float> out(static_cast<size_t>(T) * d), ref(out.size());
        for (dep_dtype dt : {DEP_DTYPE_F32, DEP_DTYPE_BF16}) {
            const void * e = dt == DEP_DTYPE_F32 ? static_cast<const void *>(emb.data()) : embh.data();
            const int32_t Tv = 16;  // validation subset
            dep_kernel_opts ro{DEP_KBACKEND_REFERENCE, 1};
            dep_diff_embed(&ro, e, dt, n_rows, d, means.data(), n_users, Tv, self.data(), suser.data(), poff.data(),
                           prow.data(), puser.data(), DEP_DIFF_REFERENCE, ref.data(), nullptr);
            for (dep_kbackend be : backends(a)) {
                dep_kernel_opts o{be, a.threads};
                dep_diff_embed(&o, e, dt, n_rows, d, means.data(), n_users, Tv, self.data(), suser.data(), poff.data(),
                               prow.data(), puser.data(), DEP_DIFF_REFERENCE, out.data(), nullptr);
                const double err = rel_err(out.data(), ref.data(), static_cast<size_t>(Tv) * d);
                const int32_t Tb = be == DEP_KBACKEND_REFERENCE ? 64 : T;
                const double ms = median_ms(
                    [&] {
                        dep_diff_embed(&o, e, dt, n_rows, d, means.data(), n_users, Tb, self.data(), suser.data(),
                                       poff.data(), prow.data(), puser.data(), DEP_DIFF_REFERENCE, out.data(), nullptr);
                    },
                    a.runs);
                // bytes that must move: the self and peer rows (storage dtype) and the F32 output row; the
                // peers' user means (F32) are read too and counted.
                const double bytes = static_cast<double>(Tb) * d * ((1.0 + P) * dtype_bytes(dt) + 4.0 + 4.0 * P);
                char shape[96];
                std::snprintf(shape, sizeof shape, "T=%d d=%d peers=%d %s", Tb, d, P, dt == DEP_DTYPE_F32 ? "f32" : "bf16");
                add_row(rows, "diff_embed", be_name(be), shape, ms, bytes, true, L, err);
            }
        }
    }
}

// SAE + both projectors, forward + backward: the training step's native part
struct StepBufs {
    int32_t B, d, h, H;
    std::vector<float> W1, b1, W2, b2, A1h, c1h, A2h, c2h, A1d, c1d, A2d, c2d;
    std::vector<float> gW1, gb1, gW2, gb2, gA1h, gc1h, gA2h, gc2h, gA1d, gc1d, gA2d, gc2d;
    std::vector<float> X, z, zh, zd, yh, yd, dyh, dyd, dzh, dzd, dz, wsS, wsH, wsD;
    std::vector<int32_t> k;
    float loss = 0;
};

StepBufs make_step(int32_t B, int32_t d, int32_t h, int32_t H) {
    StepBufs s;
    s.B = B, s.d = d, s.h = h, s.H = H;
    Rng rng(12);
    auto U = [&](size_t n, int fan) { return randv(rng, n, 1.0f / std::sqrt(static_cast<float>(fan))); };
    s.W1 = U(size_t(d) * h, d), s.b1 = U(h, d), s.W2 = U(size_t(h) * d, h), s.b2 = U(d, h);
    s.A1h = U(size_t(h) * H, h), s.c1h = U(H, h), s.A2h = U(size_t(H) * H, H), s.c2h = U(H, H);
    s.A1d = U(size_t(h) * H, h), s.c1d = U(H, h), s.A2d = U(size_t(H) * H, H), s.c2d = U(H, H);
    s.gW1.resize(s.W1.size()), s.gb1.resize(h), s.gW2.resize(s.W2.size()), s.gb2.resize(d);
    s.gA1h.resize(s.A1h.size()), s.gc1h.resize(H), s.gA2h.resize(s.A2h.size()), s.gc2h.resize(H);
    s.gA1d.resize(s.A1d.size()), s.gc1d.resize(H), s.gA2d.resize(s.A2d.size()), s.gc2d.resize(H);
    const size_t M = size_t(B) * 16, N = size_t(B) * 8;
    s.X = randv(rng, M * d, 0.05f);
    s.k.assign(B, 8);
    s.z.resize(M * h), s.dz.resize(M * h);
    s.zh.resize(N * h), s.zd.resize(N * h), s.dzh.resize(N * h), s.dzd.resize(N * h);
    s.yh.resize(N * H), s.yd.resize(N * H);
    s.dyh = randv(rng, N * H, 1e-3f), s.dyd = randv(rng, N * H, 1e-3f);
    s.wsS.resize(dep_sae_workspace_floats(B, d, h));
    s.wsH.resize(dep_proj_workspace_floats(int32_t(N), h, H));
    s.wsD.resize(dep_proj_workspace_floats(int32_t(N), h, H));
    return s;
}

// FLOPs of the GEMMs of one step (elementwise work not counted)
double step_flops(int32_t B, int32_t d, int32_t h, int32_t H) {
    const double M = 16.0 * B, N = 8.0 * B;
    const double sae = 2 * M * d * h * 2 /*fwd*/ + 2 * M * d * h * 3 /*bwd: dW2, dz, dW1 (no dX: X is an input)*/;
    const double proj = 2 * N * h * H + 2 * N * H * H /*fwd*/ + 2 * N * H * H * 2 + 2 * N * h * H * 2 /*bwd*/;
    return sae + 2 * proj;
}

void run_step(StepBufs & s, const dep_kernel_opts & o) {
    const int32_t N = s.B * 8, h = s.h;
    dep_sae_params p = dep_sae_default_params(s.d, s.h);
    dep_sae_weights w{s.W1.data(), s.b1.data(), s.W2.data(), s.b2.data()};
    dep_sae_forward(&o, &p, &w, s.B, s.X.data(), s.k.data(), s.z.data(), nullptr, &s.loss, nullptr, s.wsS.data());
    for (int32_t b = 0; b < s.B; ++b) {  // his rows 0..7 -> zh, diff rows 8..15 -> zd
        std::memcpy(&s.zh[size_t(b) * 8 * h], &s.z[size_t(b) * 16 * h], sizeof(float) * 8 * h);
        std::memcpy(&s.zd[size_t(b) * 8 * h], &s.z[(size_t(b) * 16 + 8) * h], sizeof(float) * 8 * h);
    }
    dep_proj_weights ph{s.A1h.data(), s.c1h.data(), s.A2h.data(), s.c2h.data()};
    dep_proj_weights pd{s.A1d.data(), s.c1d.data(), s.A2d.data(), s.c2d.data()};
    dep_proj_forward(&o, h, s.H, N, s.zh.data(), &ph, s.yh.data(), s.wsH.data());
    dep_proj_forward(&o, h, s.H, N, s.zd.data(), &pd, s.yd.data(), s.wsD.data());
    dep_proj_grads gh{s.gA1h.data(), s.gc1h.data(), s.gA2h.data(), s.gc2h.data()};
    dep_proj_grads gd{s.gA1d.data(), s.gc1d.data(), s.gA2d.data(), s.gc2d.data()};
    dep_proj_backward(&o, h, s.H, N, s.zh.data(), &ph, s.dyh.data(), s.wsH.data(), &gh, s.dzh.data(), 0);
    dep_proj_backward(&o, h, s.H, N, s.zd.data(), &pd, s.dyd.data(), s.wsD.data(), &gd, s.dzd.data(), 0);
    for (int32_t b = 0; b < s.B; ++b) {
        std::memcpy(&s.dz[size_t(b) * 16 * h], &s.dzh[size_t(b) * 8 * h], sizeof(float) * 8 * h);
        std::memcpy(&s.dz[(size_t(b) * 16 + 8) * h], &s.dzd[size_t(b) * 8 * h], sizeof(float) * 8 * h);
    }
    dep_sae_grads g{s.gW1.data(), s.gb1.data(), s.gW2.data(), s.gb2.data()};
    dep_sae_backward(&o, &p, &w, s.B, s.X.data(), s.k.data(), s.z.data(), s.dz.data(), s.wsS.data(), &g, nullptr, 0);
}

double step_check(dep_kbackend be, int nt) {
    // validate the composed step on a reduced shape against the reference: every gradient
    StepBufs r = make_step(2, 96, 40, 72), c = make_step(2, 96, 40, 72);
    run_step(r, dep_kernel_opts{DEP_KBACKEND_REFERENCE, 1});
    run_step(c, dep_kernel_opts{be, nt});
    double e = 0;
    for (auto pr : {std::make_pair(&r.gW1, &c.gW1), std::make_pair(&r.gW2, &c.gW2), std::make_pair(&r.gA1h, &c.gA1h),
                    std::make_pair(&r.gA2h, &c.gA2h), std::make_pair(&r.gA1d, &c.gA1d), std::make_pair(&r.gA2d, &c.gA2d),
                    std::make_pair(&r.yh, &c.yh), std::make_pair(&r.gb1, &c.gb1)})
        e = std::fmax(e, rel_err(*pr.second, *pr.first));
    return e;
}

void bench_step(const Args & a, const Limits & L, std::vector<Row> & rows) {
    for (int32_t H : {2048, 3584}) {
        StepBufs s = make_step(16, 1024, 512, H);
        for (dep_kbackend be : backends(a)) {
            if (be == DEP_KBACKEND_REFERENCE) continue;  // ~25 GFLOP in scalar double: minutes per run
            dep_kernel_opts o{be, a.threads};
            const double err = step_check(be, a.threads);
            const double ms = median_ms([&] { run_step(s, o); }, a.quick ? 5 : a.runs, 2);
            char shape[96];
            std::snprintf(shape, sizeof shape, "B=16x16 d=1024 h=512 H=%d", H);
            add_row(rows, "sae+proj fwd+bwd", be_name(be), shape, ms, step_flops(16, 1024, 512, H), false, L, err);
        }
        // AdamW over every trainable parameter of this shape
        const int64_t n = static_cast<int64_t>(s.W1.size() + s.b1.size() + s.W2.size() + s.b2.size()) +
                          2 * static_cast<int64_t>(s.A1h.size() + s.c1h.size() + s.A2h.size() + s.c2h.size());
        std::vector<float> p(n, 0.1f), g(n, 0.01f), m(n, 0.0f), v(n, 0.0f);
        for (dep_kbackend be : backends(a)) {
            dep_kernel_opts o{be, a.threads};
            dep_adamw_params ap = dep_adamw_default_params();
            const int64_t nb = be == DEP_KBACKEND_REFERENCE ? n / 16 : n;
            const double ms = median_ms([&] { dep_adamw_step(&o, &ap, nb, p.data(), g.data(), m.data(), v.data()); }, a.runs);
            char shape[96];
            std::snprintf(shape, sizeof shape, "n=%.1fM (H=%d params)", nb / 1e6, H);
            add_row(rows, "adamw", be_name(be), shape, ms, 28.0 * nb, true, L, 0.0);
        }
    }
}


#ifdef DEP_WITH_CUDA
// ---- CUDA, device-resident (no host transfers in the timed region) -------------------------------------
namespace cd = dep_k::cudadev;

struct DevBuf {
    void * p = nullptr;
    DevBuf() = default;
    DevBuf(const void * host, size_t bytes) : p(cd::dmalloc(bytes)) {
        if (host) cd::h2d(p, host, bytes);
    }
    explicit DevBuf(size_t bytes) : p(cd::dmalloc(bytes)) {}
    ~DevBuf() { cd::dfree(p); }
    DevBuf(const DevBuf &) = delete;
    DevBuf & operator=(const DevBuf &) = delete;
    template <class T>
    T * as() const { return static_cast<T *>(p); }
};

template <class T>
DevBuf * up(const std::vector<T> & v) { return new DevBuf(v.data(), v.size() * sizeof(T)); }

void bench_cuda(const Args & a, double dev_copy_gbs, std::vector<Row> & rows) {
    Limits L{dev_copy_gbs, 0.0};
    // difference embedding
    {
        const int32_t d = 1024, T = 4096, n_users = 8192;
        const int64_t n_rows = 65536;
        Rng rng(11);
        std::vector<float> emb = randv(rng, n_rows * d), means = randv(rng, static_cast<size_t>(n_users) * d);
        std::vector<uint16_t> embh(emb.size());
        for (size_t i = 0; i < emb.size(); ++i) embh[i] = bf16_of(emb[i]);
        DevBuf dE(emb.data(), emb.size() * 4), dH(embh.data(), embh.size() * 2), dM(means.data(), means.size() * 4);
        for (int32_t P : {16, 64}) {
            std::vector<int64_t> self(T), poff(T + 1), prow(static_cast<size_t>(T) * P);
            std::vector<int32_t> suser(T), puser(prow.size());
            for (int32_t t = 0; t < T; ++t) {
                self[t] = rng.below(n_rows);
                suser[t] = static_cast<int32_t>(rng.below(n_users));
                poff[t] = static_cast<int64_t>(t) * P;
                for (int32_t r = 0; r < P; ++r) prow[t * P + r] = rng.below(n_rows), puser[t * P + r] = static_cast<int32_t>(rng.below(n_users));
            }
            poff[T] = static_cast<int64_t>(T) * P;
            DevBuf dS(self.data(), 8 * T), dSU(suser.data(), 4 * T), dPO(poff.data(), 8 * (T + 1)),
                dPR(prow.data(), 8 * prow.size()), dPU(puser.data(), 4 * puser.size()), dO(4ull * T * d), dW(4 * prow.size());
            for (dep_dtype dt : {DEP_DTYPE_F32, DEP_DTYPE_BF16}) {
                struct Ctx {
                    const void * e;
                    dep_dtype dt;
                    const DevBuf *M, *S, *SU, *PO, *PR, *PU, *O, *W;
                    int32_t d, T;
                } c{dt == DEP_DTYPE_F32 ? dE.p : dH.p, dt, &dM, &dS, &dSU, &dPO, &dPR, &dPU, &dO, &dW, d, T};
                auto fn = [](void * v) {
                    auto * x = static_cast<Ctx *>(v);
                    cd::diff_embed(x->e, x->dt, x->d, x->M->as<float>(), x->T, x->S->as<int64_t>(), x->SU->as<int32_t>(),
                                   x->PO->as<int64_t>(), x->PR->as<int64_t>(), x->PU->as<int32_t>(), DEP_DIFF_REFERENCE,
                                   x->O->as<float>(), x->W->as<float>());
                };
                // validate the first targets against the reference
                fn(&c);
                cd::sync();
                const int32_t Tv = 16;
                std::vector<float> got(static_cast<size_t>(Tv) * d), ref(got.size());
                cd::d2h(got.data(), dO.p, 4 * got.size());
                dep_kernel_opts ro{DEP_KBACKEND_REFERENCE, 1};
                dep_diff_embed(&ro, dt == DEP_DTYPE_F32 ? static_cast<const void *>(emb.data()) : embh.data(), dt, n_rows, d,
                               means.data(), n_users, Tv, self.data(), suser.data(), poff.data(), prow.data(), puser.data(),
                               DEP_DIFF_REFERENCE, ref.data(), nullptr);
                const double err = rel_err(got, ref);
                const double ms = cd::time_ms(fn, &c, a.runs);
                const double bytes = static_cast<double>(T) * d * ((1.0 + P) * dtype_bytes(dt) + 4.0 + 4.0 * P);
                char shape[96];
                std::snprintf(shape, sizeof shape, "T=%d d=%d peers=%d %s", T, d, P, dt == DEP_DTYPE_F32 ? "f32" : "bf16");
                add_row(rows, "diff_embed", "cuda", shape, ms, bytes, true, L, err);
            }
        }
    }
    // SAE + both projectors fwd+bwd, F32 CUDA cores and BF16 tensor cores
    for (int32_t H : {2048, 3584}) {
        StepBufs s = make_step(16, 1024, 512, H);
        const int32_t B = 16, d = 1024, h = 512, N = B * 8;
        std::vector<std::unique_ptr<DevBuf>> keep;
        auto U = [&](const std::vector<float> & v) {
            keep.emplace_back(up(v));
            return keep.back()->as<float>();
        };
        auto Z = [&](size_t n) {
            keep.emplace_back(new DevBuf(n * 4));
            return keep.back()->as<float>();
        };
        struct Dev {
            dep_sae_params p;
            dep_sae_weights w;
            dep_sae_grads g;
            dep_proj_weights ph, pd;
            dep_proj_grads gh, gd;
            float *X, *z, *zh, *zd, *yh, *yd, *dyh, *dyd, *dzh, *dzd, *dz, *wsS, *wsH, *wsD, *loss, *terms;
            int32_t *k, B, h, H, N;
        } D;
        D.p = dep_sae_default_params(d, h);
        D.w = {U(s.W1), U(s.b1), U(s.W2), U(s.b2)};
        D.g = {Z(s.W1.size()), Z(h), Z(s.W2.size()), Z(d)};
        D.ph = {U(s.A1h), U(s.c1h), U(s.A2h), U(s.c2h)};
        D.pd = {U(s.A1d), U(s.c1d), U(s.A2d), U(s.c2d)};
        D.gh = {Z(s.A1h.size()), Z(H), Z(s.A2h.size()), Z(H)};
        D.gd = {Z(s.A1d.size()), Z(H), Z(s.A2d.size()), Z(H)};
        D.X = U(s.X), D.z = Z(s.z.size()), D.zh = Z(s.zh.size()), D.zd = Z(s.zd.size()), D.yh = Z(s.yh.size()),
        D.yd = Z(s.yd.size()), D.dyh = U(s.dyh), D.dyd = U(s.dyd), D.dzh = Z(s.dzh.size()), D.dzd = Z(s.dzd.size()),
        D.dz = Z(s.dz.size()), D.wsS = Z(s.wsS.size()), D.wsH = Z(s.wsH.size()), D.wsD = Z(s.wsD.size()), D.loss = Z(1),
        D.terms = Z(2 * B);
        keep.emplace_back(up(s.k));
        D.k = keep.back()->as<int32_t>();
        D.B = B, D.h = h, D.H = H, D.N = N;
        auto fn = [](void * v) {
            Dev & x = *static_cast<Dev *>(v);
            const size_t rb = sizeof(float) * x.h;
            cd::sae_forward(x.p, x.w, x.B, x.X, x.k, x.z, x.loss, x.terms, x.wsS);
            cd::copy2d(x.zh, 8 * rb, x.z, 16 * rb, 8 * rb, x.B);
            cd::copy2d(x.zd, 8 * rb, x.z + 8 * x.h, 16 * rb, 8 * rb, x.B);
            cd::proj_forward(x.h, x.H, x.N, x.zh, x.ph, x.yh, x.wsH);
            cd::proj_forward(x.h, x.H, x.N, x.zd, x.pd, x.yd, x.wsD);
            cd::proj_backward(x.h, x.H, x.N, x.zh, x.ph, x.dyh, x.wsH, x.gh, x.dzh, 0);
            cd::proj_backward(x.h, x.H, x.N, x.zd, x.pd, x.dyd, x.wsD, x.gd, x.dzd, 0);
            cd::copy2d(x.dz, 16 * rb, x.dzh, 8 * rb, 8 * rb, x.B);
            cd::copy2d(x.dz + 8 * x.h, 16 * rb, x.dzd, 8 * rb, 8 * rb, x.B);
            cd::sae_backward(x.p, x.w, x.B, x.X, x.k, x.z, x.dz, x.wsS, x.g, nullptr, 0);
        };
        // validate against the optimized CPU step on the same data (the CPU step is tested vs reference)
        run_step(s, dep_kernel_opts{DEP_KBACKEND_CPU, a.threads});
        for (int bf = 0; bf < 2; ++bf) {
            cd::set_gemm_bf16(bf);
            fn(&D);
            cd::sync();
            std::vector<float> gA2(s.gA2h.size());
            cd::d2h(gA2.data(), D.gh.A2, 4 * gA2.size());
            const double err = rel_err(gA2, s.gA2h);
            const double ms = cd::time_ms(fn, &D, a.runs);
            char shape[96];
            std::snprintf(shape, sizeof shape, "B=16x16 d=1024 h=512 H=%d", H);
            add_row(rows, "sae+proj fwd+bwd", bf ? "cuda-bf16" : "cuda-f32", shape, ms, step_flops(16, 1024, 512, H),
                    false, L, err);
        }
        cd::set_gemm_bf16(0);
    }
}
#endif

double gemm_probe(int nt, int runs) {
    const int64_t n = 1024;
    Rng rng(13);
    auto A = randv(rng, n * n), B = randv(rng, n * n);
    std::vector<float> C(n * n);
    dep_k::Gemm g{n, n, n, A.data(), n, 1, B.data(), n, 1, C.data(), n, 0, dep_k::EPI_NONE, nullptr, nullptr, nullptr};
    const double ms = median_ms([&] { dep_k::cpu_gemm(dep_k::cpu_ops(), g, nt); }, runs);
    return 2.0 * n * n * n / (ms * 1e6);
}

}  // namespace



int main(int argc, char ** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--json") a.json = true;
        else if (s == "--quick") a.quick = true;
        else if (s == "--reference") a.reference = true;
        else if (s == "--threads" && i + 1 < argc) a.threads = std::atoi(argv[++i]);
        else if (s == "--runs" && i + 1 < argc) a.runs = std::max(1, std::atoi(argv[++i]));
        else if (s == "--backend" && i + 1 < argc) a.backend = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench_kernels [--json] [--threads N] [--runs N] [--quick] [--reference] "
                                 "[--backend cpu|cuda|all]\n");
            return 2;
        }
    }
    Limits L{copy_probe_gbs(a.threads, a.runs), fma_probe_gflops(a.threads, a.runs)};
    const double gemm = gemm_probe(a.threads, a.runs);
    std::vector<Row> rows;
    bench_diff(a, L, rows);
    bench_step(a, L, rows);
    double dev_copy = 0.0;
#ifdef DEP_WITH_CUDA
    if ((a.backend == "all" || a.backend == "cuda") && dep_kernels_cuda_available()) {
        dev_copy = dep_k::cudadev::copy_probe_gbs(1ull << 30, a.runs);
        bench_cuda(a, dev_copy, rows);
    }
#endif
    if (a.json) {
        std::printf("{\"threads\":%d,\"runs\":%d,\"cpu_isa\":\"%s\",\"cuda\":%s,\"copy_gbs\":%.2f,\"fma_gflops\":%.2f,"
                    "\"gemm1024_gflops\":%.2f,",
                    a.threads, a.runs, dep_kernels_cpu_isa(), dep_kernels_cuda_available() ? "true" : "false", L.copy_gbs,
                    L.fma_gflops, gemm);
        std::printf("\"device_copy_gbs\":%.2f,\"loadavg\":%.2f,\"rows\":[", dev_copy, loadavg());
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row & r = rows[i];
            std::printf("%s{\"kernel\":\"%s\",\"backend\":\"%s\",\"shape\":\"%s\",\"median_ms\":%.4f,\"rate\":%.3f,"
                        "\"unit\":\"%s\",\"fraction_of_%s\":%.4f,\"check_rel_err\":%.3g,\"median_cpu_ms\":%.4f}",
                        i ? "," : "", r.kernel.c_str(), r.backend.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit.c_str(),
                        r.limit.c_str(), r.frac, r.check_err, r.cpu_ms);
        }
        std::printf("]}\n");
        return 0;
    }
    std::printf("bench_kernels: %d threads, median of %d runs, cpu isa %s, cuda %s\n", a.threads, a.runs,
                dep_kernels_cpu_isa(), dep_kernels_cuda_available() ? "yes" : "no");
    std::printf("limits (measured now): copy %.1f GB/s (read+write), FP32 FMA peak %.1f GFLOP/s; our GEMM 1024^3 %.1f "
                "GFLOP/s; 1-min load average %.2f on %u CPUs\n",
                L.copy_gbs, L.fma_gflops, gemm, loadavg(), std::thread::hardware_concurrency());
#ifdef DEP_WITH_CUDA
    if (dev_copy > 0)
        std::printf("cuda device %s: copy %.1f GB/s (read+write); cuda rows: fraction of the device copy bandwidth\n",
                    dep_k::cudadev::device_name(), dev_copy);
#endif
    std::printf("\n");
    std::printf("| %-17s | %-9s | %-32s | %9s | %15s | %9s | %9s | %14s |\n", "kernel", "backend", "shape", "median ms",
                "rate", "of limit", "check err", "cpu ms/thread");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(19, '-').c_str(), std::string(11, '-').c_str(),
                std::string(34, '-').c_str(), std::string(11, '-').c_str(), std::string(17, '-').c_str(),
                std::string(11, '-').c_str(), std::string(11, '-').c_str(), std::string(16, '-').c_str());
    for (const Row & r : rows) {
        char rate[32], frac[32];
        std::snprintf(rate, sizeof rate, "%.1f %s", r.rate, r.unit.c_str());
        std::snprintf(frac, sizeof frac, "%.0f%% %s", 100 * r.frac, r.limit.c_str());
        char cpu[32] = "-";
        if (r.cpu_ms >= 0) std::snprintf(cpu, sizeof cpu, "%.3f", r.cpu_ms / a.threads);
        std::printf("| %-17s | %-9s | %-32s | %9.3f | %15s | %9s | %9.2g | %14s |\n", r.kernel.c_str(), r.backend.c_str(),
                    r.shape.c_str(), r.ms, rate, frac, r.check_err, cpu);
    }
    return 0;
}
