// dep/kernels.h — the whole C surface of the DEP training kernels (SPEC-DEP §3, §4, §6).
//
// Kernels: user means, fused difference embedding, SAE forward+loss / backward, projector MLP
// forward / backward, AdamW. Every kernel exists three times: a scalar `reference` (plain loops, double
// accumulation, obviously correct), an optimized `cpu` version (cache-blocked packed GEMM with AVX-512 or
// AVX2 FMA micro-kernels picked at run time, fused bias+GELU epilogues, OpenMP with an explicit thread
// count) and a `cuda` version (compiled when nvcc is found; selected at run time when a device exists).
//
// Conventions (llama.h style):
//   * plain functions over pointers and sizes; callers own every buffer; workspace sizes are queryable;
//     no kernel allocates in its hot loop (the CPU GEMM keeps one per-thread packing buffer that grows
//     once; the CUDA host entry points keep one device arena that grows once).
//   * all pointers are host pointers, row-major, F32 unless a dtype says otherwise.
//   * every function returns dep_kstatus; on failure dep_kernels_last_error() says what and where
//     (thread-local), and dep_kernels_last_error_index() gives the offending index where there is one.
//   * weight layout: [in, out] row-major, so a layer is y = x W + b (W1: d x h as written in SPEC §4).
//     PyTorch nn.Linear stores [out, in]; convert with dep_linear_from_torch / dep_linear_to_torch.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dep_kbackend {
    DEP_KBACKEND_AUTO      = 0,  // cuda when compiled in and a device exists, else cpu
    DEP_KBACKEND_REFERENCE = 1,  // scalar loops, double accumulation
    DEP_KBACKEND_CPU       = 2,  // optimized CPU (AVX-512 / AVX2 / generic, chosen at run time)
    DEP_KBACKEND_CUDA      = 3,  // CUDA (copies host buffers to a device arena and back)
} dep_kbackend;

typedef enum dep_kstatus {
    DEP_KOK                  = 0,
    DEP_KERR_INVALID_ARGUMENT = 1,  // null pointer, non-positive size, bad enum
    DEP_KERR_INDEX_RANGE     = 2,  // an index (row, user, k) out of range; see last_error_index
    DEP_KERR_NO_PEERS        = 3,  // a diff-embedding target has no peers; last_error_index = target
    DEP_KERR_EMPTY_SEGMENT   = 4,  // a user-means segment is empty; last_error_index = user
    DEP_KERR_BACKEND_UNAVAILABLE = 5,  // cuda asked for but not compiled in / no device
    DEP_KERR_DEVICE          = 6,  // a CUDA runtime error
} dep_kstatus;

typedef enum dep_dtype {
    DEP_DTYPE_F32  = 0,
    DEP_DTYPE_F16  = 1,  // IEEE half
    DEP_DTYPE_BF16 = 2,  // bfloat16 (upper half of an F32)
} dep_dtype;

// Peer weighting of the difference embedding (SPEC §3). With s_r = ||mean[u] - mean[r]||_2 over the
// n peers r of a target:
//   REFERENCE    w = softmax(s / sum(s))  — the reference code: norms normalised to sum 1, then softmax
//                (near-uniform weights). If sum(s) == 0 the weights are uniform.
//   SOFTMAX_NORM w = softmax(s)           — softmax of the raw norms (peers farther from the user
//                weigh more), computed max-subtracted.
//   UNIFORM      w = 1/n.
typedef enum dep_diff_weighting {
    DEP_DIFF_REFERENCE    = 0,
    DEP_DIFF_SOFTMAX_NORM = 1,
    DEP_DIFF_UNIFORM      = 2,
} dep_diff_weighting;

typedef struct dep_kernel_opts {
    dep_kbackend backend;  // default AUTO
    int32_t n_threads;     // CPU threads, >= 1 (explicit; default 1)
} dep_kernel_opts;

dep_kernel_opts dep_kernel_default_opts(void);

// Last error message / offending index of this thread (index -1 when none). Valid until the next call.
const char * dep_kernels_last_error(void);
int64_t dep_kernels_last_error_index(void);

// Backend that AUTO resolves to right now (CPU or CUDA), and the CPU ISA the cpu backend uses
// ("avx512", "avx2" or "generic"). DEP_KERNELS_ISA=avx2|generic in the environment caps it (tests).
dep_kbackend dep_kernels_resolve_backend(dep_kbackend backend);
const char * dep_kernels_cpu_isa(void);
// 1 when the CUDA kernels were compiled in and a device is present.
int32_t dep_kernels_cuda_available(void);

// ---- layout helpers ------------------------------------------------------------------------------
// dst[in, out] = src[out, in]^T (PyTorch nn.Linear weight -> our layout) and back.
void dep_linear_from_torch(const float * src, int64_t n_out, int64_t n_in, float * dst);
void dep_linear_to_torch(const float * src, int64_t n_in, int64_t n_out, float * dst);

// ---- 1. user means -------------------------------------------------------------------------------
// means[u, :] = mean of emb rows seg_offsets[u] .. seg_offsets[u+1]-1 (contiguous segments of `emb`,
// n_rows x d, storage `dtype`). seg_offsets has n_users+1 non-decreasing entries, last <= n_rows.
dep_kstatus dep_user_means(const dep_kernel_opts * opts, const void * emb, dep_dtype dtype, int64_t n_rows,
                           int32_t d, const int64_t * seg_offsets, int32_t n_users, float * means);

// ---- 2. difference embedding, fused ----------------------------------------------------------------
// For target t (T targets): self row self_row[t] of user self_user[t]; peers peer_offsets[t] ..
// peer_offsets[t+1]-1 (CSR, T+1 entries), each a (peer_row, peer_user) pair.
//   s_r = ||means[self_user] - means[peer_user]||_2,  w = weighting(s)  (see dep_diff_weighting)
//   out[t, :] = emb[self_row] - sum_r w_r emb[peer_row_r]          (F32 accumulation, F32 out [T, d])
// means: n_users x d F32. A target with no peers fails with DEP_KERR_NO_PEERS and its index.
// weights_out (nullable): the w_r, aligned with the peer arrays.
dep_kstatus dep_diff_embed(const dep_kernel_opts * opts, const void * emb, dep_dtype dtype, int64_t n_rows,
                           int32_t d, const float * means, int32_t n_users, int32_t T, const int64_t * self_row,
                           const int32_t * self_user, const int64_t * peer_offsets, const int64_t * peer_row,
                           const int32_t * peer_user, dep_diff_weighting weighting, float * out,
                           float * weights_out);

// ---- 3. sparse autoencoder (SPEC §4, §6) -------------------------------------------------------------
// Batch layout: B samples, each stored as DEP_SAE_ROWS = 16 rows of d: his rows 0..k-1, diff rows
// 8..8+k-1 (k = k[b] in 1..8); rows k..7 and 8+k..15 are padding, masked out of every loss term and
// every gradient (their z is computed but meaningless; their dX is 0).
//   z  = GELU(X W1 + b1)          W1: d x h     (exact erf GELU)
//   X^ = GELU(z W2 + b2)          W2: h x d     (or linear, params.linear_output)
// Loss, per sample b over its n = 2k valid rows:
//   recon_b  = SmoothL1(X^, X; beta 1) averaged over n*d elements
//   rho_hat  = clamp(mean over the n rows of z[:, j], 1e-6, 1-1e-6), one value per unit j
//   kl_b     = mean over the h units of rho log(rho/rho_hat) + (1-rho) log((1-rho)/(1-rho_hat))
//   L_b      = recon_weight * (recon_b + kl_weight * kl_b)            (defaults 100, 1e-3, rho 0.05)
// Batch reduction: loss = (1/B) sum_b L_b — the mean over samples (what gradient accumulation over B
// batch-1 steps computes). Gradients are of this mean. The clamp passes no gradient where it clips.
#define DEP_SAE_ROWS 16
#define DEP_SAE_MAX_K 8

typedef struct dep_sae_params {
    int32_t d, h;           // embedding size, SAE width
    int32_t linear_output;  // 0: X^ = GELU(.) as in the reference; 1: X^ = z W2 + b2
    float recon_weight;     // 100
    float kl_weight;        // 1e-3
    float rho;              // 0.05
} dep_sae_params;

dep_sae_params dep_sae_default_params(int32_t d, int32_t h);

typedef struct dep_sae_weights {
    const float * W1;  // [d, h]
    const float * b1;  // [h]
    const float * W2;  // [h, d]
    const float * b2;  // [d]
} dep_sae_weights;

typedef struct dep_sae_grads {
    float * W1;
    float * b1;
    float * W2;
    float * b2;
} dep_sae_grads;

// Floats of workspace that dep_sae_forward fills and dep_sae_backward reads (same B, d, h).
size_t dep_sae_workspace_floats(int32_t n_samples, int32_t d, int32_t h);

// Forward + loss. X: [B, 16, d]; k: [B]; z (out): [B, 16, h]; xhat (out, nullable): [B, 16, d];
// loss (out): the batch loss; sample_terms (out, nullable): [B, 2] = (recon_b, kl_b) per sample.
dep_kstatus dep_sae_forward(const dep_kernel_opts * opts, const dep_sae_params * params, const dep_sae_weights * w,
                            int32_t n_samples, const float * X, const int32_t * k, float * z, float * xhat,
                            float * loss, float * sample_terms, float * workspace);

// Backward of the batch loss plus the upstream gradient dz_up ([B, 16, h], nullable = 0; padding rows
// ignored). Writes (accumulate = 0) or adds to (accumulate = 1) every gradient; dX (nullable): [B, 16, d].
dep_kstatus dep_sae_backward(const dep_kernel_opts * opts, const dep_sae_params * params, const dep_sae_weights * w,
                             int32_t n_samples, const float * X, const int32_t * k, const float * z,
                             const float * dz_up, float * workspace, dep_sae_grads * grads, float * dX,
                             int32_t accumulate);

// ---- 4. projector MLP: y = GELU(x A1 + c1) A2 + c2 (h -> H -> H) --------------------------------------
// One projector over N rows; DEP uses two (his rows, diff rows) with separate weights — call it twice.
typedef struct dep_proj_weights {
    const float * A1;  // [h, H]
    const float * c1;  // [H]
    const float * A2;  // [H, H]
    const float * c2;  // [H]
} dep_proj_weights;

typedef struct dep_proj_grads {
    float * A1;
    float * c1;
    float * A2;
    float * c2;
} dep_proj_grads;

size_t dep_proj_workspace_floats(int32_t n_rows, int32_t h, int32_t H);

// x: [N, h]; y (out): [N, H]. Keeps the activations in workspace for the backward.
dep_kstatus dep_proj_forward(const dep_kernel_opts * opts, int32_t h, int32_t H, int32_t n_rows, const float * x,
                             const dep_proj_weights * w, float * y, float * workspace);

// dy: [N, H]; dx (out, nullable): [N, h]. accumulate as in dep_sae_backward.
dep_kstatus dep_proj_backward(const dep_kernel_opts * opts, int32_t h, int32_t H, int32_t n_rows, const float * x,
                              const dep_proj_weights * w, const float * dy, float * workspace, dep_proj_grads * grads,
                              float * dx, int32_t accumulate);

// ---- 5. AdamW, in place (PyTorch torch.optim.AdamW semantics) ----------------------------------------
//   p -= lr*wd*p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)       (t = step, 1-based)
typedef struct dep_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
    int32_t step;  // 1-based step number after this update
} dep_adamw_params;

dep_adamw_params dep_adamw_default_params(void);  // lr 1e-5, 0.9, 0.999, 1e-8, wd 0.025, step 1

dep_kstatus dep_adamw_step(const dep_kernel_opts * opts, const dep_adamw_params * params, int64_t n, float * p,
                           const float * g, float * m, float * v);

#ifdef __cplusplus
}
#endif
