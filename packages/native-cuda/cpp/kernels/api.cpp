// The public C entry points of dep/kernels.h: argument validation (every index range-checked before any
// backend runs, so backends never read out of bounds), backend resolution, dispatch.
#include <cmath>
#include <cstring>
#include <string>

#include "internal.h"

using namespace dep_k;

namespace {

thread_local std::string g_msg;

bool resolve(const dep_kernel_opts * o, dep_kbackend & be, int & nt, dep_kstatus & st) {
    dep_kernel_opts d = dep_kernel_default_opts();
    if (!o) o = &d;
    if (o->n_threads < 1 || o->n_threads > 1024) {
        st = fail(DEP_KERR_INVALID_ARGUMENT, "n_threads must be in 1..1024, got " + std::to_string(o->n_threads));
        return false;
    }
    if (o->backend < DEP_KBACKEND_AUTO || o->backend > DEP_KBACKEND_CUDA) {
        st = fail(DEP_KERR_INVALID_ARGUMENT, "unknown backend");
        return false;
    }
    be = dep_kernels_resolve_backend(o->backend);
    nt = o->n_threads;
    if (be == DEP_KBACKEND_CUDA && !dep_kernels_cuda_available()) {
        st = fail(DEP_KERR_BACKEND_UNAVAILABLE,
#ifdef DEP_WITH_CUDA
                  "backend cuda: no CUDA device is present"
#else
                  "backend cuda: this build has no CUDA kernels (built without nvcc)"
#endif
        );
        return false;
    }
    return true;
}

#ifdef DEP_WITH_CUDA
#define DISPATCH(fn, ...)                                                              \
    (be == DEP_KBACKEND_REFERENCE ? ref_##fn(__VA_ARGS__)                              \
     : be == DEP_KBACKEND_CUDA    ? cuda_##fn(__VA_ARGS__)                             \
                                  : cpu_##fn(__VA_ARGS__))
#else
#define DISPATCH(fn, ...) (be == DEP_KBACKEND_REFERENCE ? ref_##fn(__VA_ARGS__) : cpu_##fn(__VA_ARGS__))
#endif

#define BEGIN()                        \
    clear_error();                     \
    dep_kbackend be;                   \
    int nt;                            \
    dep_kstatus st = DEP_KOK;          \
    if (!resolve(opts, be, nt, st)) return st;

#define REQUIRE(cond, msg) \
    if (!(cond)) return fail(DEP_KERR_INVALID_ARGUMENT, msg)

}  // namespace

extern "C" {

dep_kernel_opts dep_kernel_default_opts(void) { return dep_kernel_opts{DEP_KBACKEND_AUTO, 1}; }


int32_t dep_kernels_cuda_available(void) {
#ifdef DEP_WITH_CUDA
    static const int n = cuda_device_count();
    return n > 0 ? 1 : 0;
#else
    return 0;
#endif
}

dep_kbackend dep_kernels_resolve_backend(dep_kbackend backend) {
    if (backend != DEP_KBACKEND_AUTO) return backend;
    return dep_kernels_cuda_available() ? DEP_KBACKEND_CUDA : DEP_KBACKEND_CPU;
}

const char * dep_kernels_cpu_isa(void) { return cpu_ops().name; }

void dep_linear_from_torch(const float * src, int64_t n_out, int64_t n_in, float * dst) {
    for (int64_t o = 0; o < n_out; ++o)
        for (int64_t i = 0; i < n_in; ++i) dst[i * n_out + o] = src[o * n_in + i];
}

void dep_linear_to_torch(const float * src, int64_t n_in, int64_t n_out, float * dst) {
    for (int64_t i = 0; i < n_in; ++i)
        for (int64_t o = 0; o < n_out; ++o) dst[o * n_in + i] = src[i * n_out + o];
}

dep_kstatus dep_user_means(const dep_kernel_opts * opts, const void * emb, dep_dtype dtype, int64_t n_rows, int32_t d,
                           const int64_t * off, int32_t n_users, float * means) {
    BEGIN();
    REQUIRE(emb && off && means, "user_means: null pointer");
    REQUIRE(dtype >= DEP_DTYPE_F32 && dtype <= DEP_DTYPE_BF16, "user_means: unknown dtype");
    REQUIRE(d >= 1 && n_users >= 1 && n_rows >= 0, "user_means: d and n_users must be >= 1");
    if (off[0] < 0) return fail(DEP_KERR_INDEX_RANGE, "user_means: seg_offsets[0] < 0", 0);
    for (int32_t u = 0; u < n_users; ++u) {
        if (off[u + 1] > n_rows)
            return fail(DEP_KERR_INDEX_RANGE, "user_means: seg_offsets[" + std::to_string(u + 1) + "] = " +
                        std::to_string(off[u + 1]) + " exceeds n_rows = " + std::to_string(n_rows), u + 1);
        if (off[u + 1] <= off[u])
            return fail(DEP_KERR_EMPTY_SEGMENT, "user_means: user " + std::to_string(u) + " has no rows", u);
    }
    return DISPATCH(user_means, nt, emb, dtype, d, off, n_users, means);
}

dep_kstatus dep_diff_embed(const dep_kernel_opts * opts, const void * emb, dep_dtype dtype, int64_t n_rows, int32_t d,
                           const float * means, int32_t n_users, int32_t T, const int64_t * self_row,
                           const int32_t * self_user, const int64_t * poff, const int64_t * prow,
                           const int32_t * puser, dep_diff_weighting wm, float * out, float * wout) {
    BEGIN();
    REQUIRE(emb && means && self_row && self_user && poff && out, "diff_embed: null pointer");
    REQUIRE(dtype >= DEP_DTYPE_F32 && dtype <= DEP_DTYPE_BF16, "diff_embed: unknown dtype");
    REQUIRE(wm >= DEP_DIFF_REFERENCE && wm <= DEP_DIFF_UNIFORM, "diff_embed: unknown weighting");
    REQUIRE(d >= 1 && T >= 1 && n_users >= 1 && n_rows >= 1, "diff_embed: d, T, n_users, n_rows must be >= 1");
    if (poff[0] != 0) return fail(DEP_KERR_INDEX_RANGE, "diff_embed: peer_offsets[0] must be 0", 0);
    for (int32_t t = 0; t < T; ++t) {
        const std::string where = "diff_embed: target " + std::to_string(t);
        if (poff[t + 1] <= poff[t]) {
            if (poff[t + 1] < poff[t]) return fail(DEP_KERR_INDEX_RANGE, where + ": peer_offsets decrease", t);
            return fail(DEP_KERR_NO_PEERS, where + " has no peers", t);
        }
        if (self_row[t] < 0 || self_row[t] >= n_rows)
            return fail(DEP_KERR_INDEX_RANGE, where + ": self row " + std::to_string(self_row[t]) + " out of range", t);
        if (self_user[t] < 0 || self_user[t] >= n_users)
            return fail(DEP_KERR_INDEX_RANGE, where + ": self user " + std::to_string(self_user[t]) + " out of range", t);
    }
    const int64_t np = poff[T];
    REQUIRE(np == 0 || (prow && puser), "diff_embed: null peer arrays");
    for (int64_t i = 0; i < np; ++i) {
        if (prow[i] < 0 || prow[i] >= n_rows)
            return fail(DEP_KERR_INDEX_RANGE, "diff_embed: peer " + std::to_string(i) + ": row " +
                        std::to_string(prow[i]) + " out of range", i);
        if (puser[i] < 0 || puser[i] >= n_users)
            return fail(DEP_KERR_INDEX_RANGE, "diff_embed: peer " + std::to_string(i) + ": user " +
                        std::to_string(puser[i]) + " out of range", i);
    }
    return DISPATCH(diff_embed, nt, emb, dtype, d, means, T, self_row, self_user, poff, prow, puser, wm, out, wout);
}

dep_sae_params dep_sae_default_params(int32_t d, int32_t h) { return dep_sae_params{d, h, 0, 100.0f, 1e-3f, 0.05f}; }

size_t dep_sae_workspace_floats(int32_t B, int32_t d, int32_t h) {
    if (B < 1 || d < 1 || h < 1) return 0;
    return static_cast<size_t>(sae_ws_layout(B, d, h).total);
}

static dep_kstatus check_sae(const dep_sae_params * p, const dep_sae_weights * w, int32_t B, const float * X,
                             const int32_t * k, const void * ws) {
    REQUIRE(p && w && X && k && ws, "sae: null pointer");
    REQUIRE(w->W1 && w->b1 && w->W2 && w->b2, "sae: null weight pointer");
    REQUIRE(p->d >= 1 && p->h >= 1 && B >= 1, "sae: d, h and n_samples must be >= 1");
    REQUIRE(p->rho > 0.0f && p->rho < 1.0f, "sae: rho must be in (0, 1)");
    for (int32_t b = 0; b < B; ++b)
        if (k[b] < 1 || k[b] > DEP_SAE_MAX_K)
            return fail(DEP_KERR_INDEX_RANGE, "sae: sample " + std::to_string(b) + " has k = " + std::to_string(k[b]) +
                        " (must be 1..8)", b);
    return DEP_KOK;
}

dep_kstatus dep_sae_forward(const dep_kernel_opts * opts, const dep_sae_params * p, const dep_sae_weights * w,
                            int32_t B, const float * X, const int32_t * k, float * z, float * xhat, float * loss,
                            float * terms, float * ws) {
    BEGIN();
    if ((st = check_sae(p, w, B, X, k, ws)) != DEP_KOK) return st;
    REQUIRE(z && loss, "sae_forward: null output");
    return DISPATCH(sae_forward, nt, *p, *w, B, X, k, z, xhat, loss, terms, ws);
}

dep_kstatus dep_sae_backward(const dep_kernel_opts * opts, const dep_sae_params * p, const dep_sae_weights * w,
                             int32_t B, const float * X, const int32_t * k, const float * z, const float * dz_up,
                             float * ws, dep_sae_grads * g, float * dX, int32_t acc) {
    BEGIN();
    if ((st = check_sae(p, w, B, X, k, ws)) != DEP_KOK) return st;
    REQUIRE(z && g && g->W1 && g->b1 && g->W2 && g->b2, "sae_backward: null pointer");
    return DISPATCH(sae_backward, nt, *p, *w, B, X, k, z, dz_up, ws, *g, dX, acc ? 1 : 0);
}

size_t dep_proj_workspace_floats(int32_t N, int32_t h, int32_t H) {
    if (N < 1 || h < 1 || H < 1) return 0;
    return static_cast<size_t>(proj_ws_layout(N, h, H).total);
}

dep_kstatus dep_proj_forward(const dep_kernel_opts * opts, int32_t h, int32_t H, int32_t N, const float * x,
                             const dep_proj_weights * w, float * y, float * ws) {
    BEGIN();
    REQUIRE(x && w && y && ws && w->A1 && w->c1 && w->A2 && w->c2, "proj_forward: null pointer");
    REQUIRE(h >= 1 && H >= 1 && N >= 1, "proj_forward: h, H, n_rows must be >= 1");
    return DISPATCH(proj_forward, nt, h, H, N, x, *w, y, ws);
}

dep_kstatus dep_proj_backward(const dep_kernel_opts * opts, int32_t h, int32_t H, int32_t N, const float * x,
                              const dep_proj_weights * w, const float * dy, float * ws, dep_proj_grads * g, float * dx,
                              int32_t acc) {
    BEGIN();
    REQUIRE(x && w && dy && ws && g && w->A1 && w->c1 && w->A2 && w->c2, "proj_backward: null pointer");
    REQUIRE(g->A1 && g->c1 && g->A2 && g->c2, "proj_backward: null gradient pointer");
    REQUIRE(h >= 1 && H >= 1 && N >= 1, "proj_backward: h, H, n_rows must be >= 1");
    return DISPATCH(proj_backward, nt, h, H, N, x, *w, dy, ws, *g, dx, acc ? 1 : 0);
}

dep_adamw_params dep_adamw_default_params(void) { return dep_adamw_params{1e-5f, 0.9f, 0.999f, 1e-8f, 0.025f, 1}; }

dep_kstatus dep_adamw_step(const dep_kernel_opts * opts, const dep_adamw_params * p, int64_t n, float * pp,
                           const float * g, float * m, float * v) {
    BEGIN();
    REQUIRE(p && pp && g && m && v, "adamw: null pointer");
    REQUIRE(n >= 0, "adamw: n must be >= 0");
    REQUIRE(p->step >= 1, "adamw: step must be >= 1");
    REQUIRE(p->beta1 >= 0.0f && p->beta1 < 1.0f && p->beta2 >= 0.0f && p->beta2 < 1.0f, "adamw: betas must be in [0, 1)");
    REQUIRE(std::isfinite(p->lr) && p->eps > 0.0f && std::isfinite(p->weight_decay), "adamw: bad lr / eps / weight_decay");
    if (n == 0) return DEP_KOK;
    return DISPATCH(adamw, nt, *p, n, pp, g, m, v);
}

}  // extern "C"
