// Device-pointer entry points of the CUDA kernels (kernels.cu). The public host API (dep/kernels.h,
// backend cuda) copies host buffers through a device arena into these; a GPU-resident training loop or
// the benchmark calls them directly on device buffers. Only compiled when DEP_WITH_CUDA.
#pragma once

#include "dep/kernels.h"

namespace dep_k {
namespace cudadev {

// GEMM precision of the SAE / projector kernels: F32 (CUDA cores, the tested 1e-5 path) or BF16 tensor
// cores (wmma 16x16x16, F32 accumulation; 2e-2). Default F32; DEP_CUDA_GEMM=bf16 in the environment or
// set_gemm_bf16(1) switches.
void set_gemm_bf16(int on);
int gemm_bf16();

// All pointers are device pointers; `k` and the index arrays live on the device too. `loss` is a device
// float. Calls are asynchronous on the default stream; sync() waits and maps errors to dep_kstatus.
dep_kstatus sync();
void user_means(const void * emb, dep_dtype dtype, int32_t d, const int64_t * off, int32_t n_users, float * means);
void diff_embed(const void * emb, dep_dtype dtype, int32_t d, const float * means, int32_t T, const int64_t * self_row,
                const int32_t * self_user, const int64_t * poff, const int64_t * prow, const int32_t * puser,
                dep_diff_weighting wm, float * out, float * weights /* [n_peers], required: scratch */);
void sae_forward(const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X, const int32_t * k,
                 float * z, float * loss, float * terms /* [2B] required */, float * ws);
void sae_backward(const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X, const int32_t * k,
                  const float * z, const float * dz_up, float * ws, const dep_sae_grads & g, float * dX, int acc);
void proj_forward(int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w, float * y, float * ws);
void proj_backward(int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w, const float * dy,
                   float * ws, const dep_proj_grads & g, float * dx, int acc);
void adamw(const dep_adamw_params & p, int64_t n, float * pp, const float * g, float * m, float * v);

// device memory helpers for tests / bench
void * dmalloc(size_t bytes);
void dfree(void * p);
void h2d(void * dst, const void * src, size_t bytes);
void d2h(void * dst, const void * src, size_t bytes);
// device-to-device strided copy of `height` rows of `width` bytes (async)
void copy2d(void * dst, size_t dpitch, const void * src, size_t spitch, size_t width, size_t height);
// copy-bandwidth probe: median GB/s (read + write) of cudaMemcpy device-to-device over `bytes`
double copy_probe_gbs(size_t bytes, int runs);
// milliseconds of a callable, timed with CUDA events (median of runs after warm-up)
double time_ms(void (*fn)(void *), void * ctx, int runs);
const char * device_name();

}  // namespace cudadev
}  // namespace dep_k
