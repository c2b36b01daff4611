// Internal declarations shared by the kernel translation units (not installed, not part of the API).
//   reference.cpp   scalar loops (double accumulation)        ref_*
//   cpu_*.cpp       optimized CPU, composed from IsaOps         cpu_*
//   isa_*.cpp       one IsaOps table per ISA (avx512, avx2, generic), built from isa_kernels.inc
//   cuda/*.cu       CUDA versions                               cuda_*
#pragma once

#include "dep/kernels.h"

#include <cstdint>
#include <functional>
#include <string>

namespace dep_k {

// ---- errors: a thread-local message + index, set by the API layer and the kernels --------------------
dep_kstatus fail(dep_kstatus st, const std::string & msg, int64_t index = -1);
void clear_error();

// ---- threads (threads.cpp): fn(t) for t in 0..n-1 on n threads, the caller being thread 0 ----------------
void parallel(int n, const std::function<void(int)> & fn);
// body(begin, end) over a static split of [0, n) into min(n_threads, n) contiguous ranges
void parallel_for(int n_threads, int64_t n, const std::function<void(int64_t, int64_t)> & body);

// ---- half-precision storage ------------------------------------------------------------------------
inline float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
float f16_to_f32(uint16_t h);
inline size_t dtype_size(dep_dtype t) { return t == DEP_DTYPE_F32 ? 4 : 2; }
inline float load_elem(const void * base, dep_dtype t, int64_t i) {
    switch (t) {
        case DEP_DTYPE_F32: return static_cast<const float *>(base)[i];
        case DEP_DTYPE_F16: return f16_to_f32(static_cast<const uint16_t *>(base)[i]);
        default: return bf16_to_f32(static_cast<const uint16_t *>(base)[i]);
    }
}

// ---- workspace layouts (floats), shared by every backend ---------------------------------------------
struct SaeWs {
    int64_t a1, a2, xhat, da2, dz, kgrad, terms, scratch, total;  // scratch: CUDA loss reductions
};
SaeWs sae_ws_layout(int32_t B, int32_t d, int32_t h);
struct ProjWs {
    int64_t u, g, du, total;
};
ProjWs proj_ws_layout(int32_t N, int32_t h, int32_t H);

// ---- the per-ISA operation table of the optimized CPU backend ------------------------------------------
enum EpiKind { EPI_NONE = 0, EPI_BIAS = 1, EPI_BIAS_GELU = 2, EPI_GELU_GRAD = 3 };

struct IsaOps {
    const char * name;
    int MR, NR;  // register tile of the GEMM micro-kernel
    // C[MR x NR] (ldc) = (add ? C : 0) + Ap·Bp over K, Ap packed MR-wide, Bp packed NR-wide.
    void (*micro)(int64_t K, const float * Ap, const float * Bp, float * C, int64_t ldc, int add);
    // epilogues over one row segment of n elements:
    //   bias_gelu: pre = c + bias; c = gelu(pre) (or c = pre when gelu == 0)
    void (*bias_act)(float * c, const float * bias, float * pre, int64_t n, int gelu);
    //   gelu_grad: c *= gelu'(pre)
    void (*gelu_grad_mul)(float * c, const float * pre, int64_t n);
    // SmoothL1(beta 1) of xhat - x over n elements: returns the sum of the losses and writes
    // dxhat = coef * dSmoothL1/dxhat (nullable).
    double (*smoothl1)(const float * xhat, const float * x, int64_t n, float coef, float * dxhat);
    // squared L2 distance of two F32 rows; pf (nullable): a row of n floats to prefetch meanwhile
    float (*sqdist)(const float * a, const float * b, int64_t n, const void * pf);
    // out = (dtype) row   /   out -= w * (dtype) row
    void (*load_row)(float * out, const void * row, dep_dtype t, int64_t n);
    //   pf (nullable): a row of the same dtype to prefetch meanwhile (the gather is latency-bound otherwise)
    void (*axpy_row)(float * out, float w, const void * row, dep_dtype t, int64_t n, const void * pf);
    //   out -= sum_q w[q] * rows[q] over four rows at once; pf: four rows (nullable entries) to prefetch
    void (*axpy4_row)(float * out, const float * w, const void * const * rows, dep_dtype t, int64_t n,
                      const void * const * pf);
    // AdamW over n elements
    void (*adamw)(int64_t n, float * p, const float * g, float * m, float * v, float lr, float b1, float b2,
                  float eps, float wd, float bc1, float bc2_sqrt);
    // GEMM packing of a transposed B panel: dst[k*NR + j] = src[j*ld + k] (k < kc, j < nr), zero padded
    void (*pack_bt)(const float * src, int64_t ld, int64_t kc, int64_t nr, float * dst);
};

const IsaOps & isa_ops_avx512();
const IsaOps & isa_ops_avx2();
const IsaOps & isa_ops_generic();
const IsaOps & cpu_ops();  // the best table this CPU supports (capped by DEP_KERNELS_ISA)

// ---- CPU GEMM: C[M,N] (ldc) (+)= A·B with A(i,k) = A[i*rsa + k*csa], B(k,j) = B[k*rsb + j*csb] -------
struct Gemm {
    int64_t M, N, K;
    const float * A;
    int64_t rsa, csa;
    const float * B;
    int64_t rsb, csb;
    float * C;
    int64_t ldc;
    int accumulate;  // 0: C = A·B (then epilogue); 1: C += A·B (then epilogue)
    EpiKind epi;
    const float * bias;  // EPI_BIAS, EPI_BIAS_GELU: [N]
    float * pre;         // EPI_BIAS_GELU: pre-activation out, ld = ldc
    const float * pre_in;  // EPI_GELU_GRAD: pre-activation in, ld = ldc
};
void cpu_gemm(const IsaOps & ops, const Gemm & g, int n_threads);
// column sums: out[j] (+)= sum_i X[i*ld + j]
void cpu_colsum(const float * X, int64_t rows, int64_t cols, int64_t ld, float * out, int accumulate, int n_threads);

// ---- backend entry points (arguments already validated by api.cpp) ------------------------------------
#define DEP_K_DECLARE(prefix)                                                                                  \
    dep_kstatus prefix##_user_means(int nt, const void * emb, dep_dtype dtype, int32_t d, const int64_t * off,     \
                                    int32_t n_users, float * means);                                            \
    dep_kstatus prefix##_diff_embed(int nt, const void * emb, dep_dtype dtype, int32_t d, const float * means,     \
                                    int32_t T, const int64_t * self_row, const int32_t * self_user,              \
                                    const int64_t * poff, const int64_t * prow, const int32_t * puser,            \
                                    dep_diff_weighting wm, float * out, float * wout);                           \
    dep_kstatus prefix##_sae_forward(int nt, const dep_sae_params & p, const dep_sae_weights & w, int32_t B,       \
                                     const float * X, const int32_t * k, float * z, float * xhat, float * loss,    \
                                     float * terms, float * ws);                                                 \
    dep_kstatus prefix##_sae_backward(int nt, const dep_sae_params & p, const dep_sae_weights & w, int32_t B,      \
                                      const float * X, const int32_t * k, const float * z, const float * dz_up,   \
                                      float * ws, const dep_sae_grads & g, float * dX, int acc);                 \
    dep_kstatus prefix##_proj_forward(int nt, int32_t h, int32_t H, int32_t N, const float * x,                   \
                                      const dep_proj_weights & w, float * y, float * ws);                        \
    dep_kstatus prefix##_proj_backward(int nt, int32_t h, int32_t H, int32_t N, const float * x,                  \
                                       const dep_proj_weights & w, const float * dy, float * ws,                  \
                                       const dep_proj_grads & g, float * dx, int acc);                           \
    dep_kstatus prefix##_adamw(int nt, const dep_adamw_params & p, int64_t n, float * pp, const float * g,        \
                               float * m, float * v);

DEP_K_DECLARE(ref)
DEP_K_DECLARE(cpu)
#ifdef DEP_WITH_CUDA
DEP_K_DECLARE(cuda)
int cuda_device_count();
#endif

// diff-embedding weights from the norms s[0..n) (shared by every backend so they agree bit for bit on
// the weighting rule; n >= 1)
void diff_weights(const float * s, int64_t n, dep_diff_weighting wm, float * w);

// KL gradient coefficient per unit and the per-sample loss terms (shared by ref and cpu)
inline bool sae_row_valid(int32_t r, int32_t k) { return (r & 7) < k; }

}  // namespace dep_k
