// CUDA versions of the DEP kernels (see dep/kernels.h for the semantics; reference.cpp is the truth).
//   nvcc via CMake when DEP_HAVE_CUDA (DEP_CUDA=AUTO finds nvcc); CMAKE_CUDA_ARCHITECTURES 80;90.
// Kernels:
//   gemm_f32_kernel    64x64x16 shared-memory tiles, 4x4 register micro-tile per thread, any strides,
//                      fused epilogues (bias, bias+GELU keeping the pre-activation, x GELU'(pre)).
//   gemm_bf16_kernel   the same contract on tensor cores: tiles converted F32 -> BF16 into shared
//                      memory, wmma 16x16x16 with F32 accumulation, epilogue from a shared F32 tile.
//   diff_embed_kernel  one block per target: warp-per-peer norms, weights, then a coalesced weighted
//                      gather over the peers' rows (F32/F16/BF16 storage, F32 accumulation).
//   sae_* / colsum / adamw / user_means: elementwise and reduction kernels of the loss and updates.
// Host entry points (cuda_*) copy host buffers through one device arena (grown, never shrunk, under a
// mutex) and call the device-pointer versions in namespace cudadev (cuda_device.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../internal.h"
#include "cuda_device.h"

namespace dep_k {
namespace {

int g_bf16 = -1;  // -1: not read from the environment yet

// ---- device math -------------------------------------------------------------------------------------
__device__ __forceinline__ float gelu_dev(float x) { return 0.5f * x * erfcf(-0.70710678118654752f * x); }
__device__ __forceinline__ float gelu_grad_dev(float x) {
    return 0.5f * erfcf(-0.70710678118654752f * x) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

__device__ __forceinline__ float load_emb(const void * base, dep_dtype t, int64_t i) {
    if (t == DEP_DTYPE_F32) return static_cast<const float *>(base)[i];
    if (t == DEP_DTYPE_F16) return __half2float(static_cast<const __half *>(base)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(base)[i]);
}

struct GemmArgs {
    int64_t M, N, K;
    const float * A;
    int64_t rsa, csa;
    const float * B;
    int64_t rsb, csb;
    float * C;
    int64_t ldc;
    int acc;
    int epi;
    const float * bias;
    float * pre;
    const float * pre_in;
};

__device__ __forceinline__ void epilogue_store(const GemmArgs & g, int64_t r, int64_t c, float v) {
    float * cp = g.C + r * g.ldc + c;
    if (g.acc) v += *cp;
    if (g.epi == EPI_BIAS || g.epi == EPI_BIAS_GELU) {
        if (g.bias) v += g.bias[c];
        if (g.epi == EPI_BIAS_GELU) {
            if (g.pre) g.pre[r * g.ldc + c] = v;
            v = gelu_dev(v);
        }
    } else if (g.epi == EPI_GELU_GRAD) {
        v *= gelu_grad_dev(g.pre_in[r * g.ldc + c]);
    }
    *cp = v;
}

// ---- F32 SGEMM -----------------------------------------------------------------------------------------
constexpr int BM = 64, BN = 64, BK = 16;

__global__ void __launch_bounds__(256) gemm_f32_kernel(GemmArgs g) {
    __shared__ float As[BK][BM + 4];
    __shared__ float Bs[BK][BN + 4];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int64_t row0 = static_cast<int64_t>(blockIdx.y) * BM, col0 = static_cast<int64_t>(blockIdx.x) * BN;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
        for (int i = tid; i < BM * BK; i += 256) {
            // walk the unit-stride dimension fastest so global reads coalesce
            const int r = g.csa == 1 ? i / BK : i % BM, c = g.csa == 1 ? i % BK : i / BM;
            const int64_t gr = row0 + r, gc = k0 + c;
            As[c][r] = (gr < g.M && gc < g.K) ? g.A[gr * g.rsa + gc * g.csa] : 0.0f;
        }
        for (int i = tid; i < BK * BN; i += 256) {
            const int r = g.csb == 1 ? i / BN : i % BK, c = g.csb == 1 ? i % BN : i / BK;
            const int64_t gr = k0 + r, gc = col0 + c;
            Bs[r][c] = (gr < g.K && gc < g.N) ? g.B[gr * g.rsb + gc * g.csb] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[kk][ty * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int64_t r = row0 + ty * 4 + i, c = col0 + tx * 4 + j;
            if (r < g.M && c < g.N) epilogue_store(g, r, c, acc[i][j]);
        }
}

// ---- BF16 tensor-core GEMM -------------------------------------------------------------------------------
constexpr int TBM = 64, TBN = 64, TBK = 32;

__global__ void __launch_bounds__(128) gemm_bf16_kernel(GemmArgs g) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    __shared__ __nv_bfloat16 As[TBM][TBK + 8];
    __shared__ __nv_bfloat16 Bs[TBK][TBN + 8];
    __shared__ float Cs[TBM][TBN + 4];
    const int tid = threadIdx.x, warp = tid / 32;
    const int wr = (warp / 2) * 32, wc = (warp % 2) * 32;  // 4 warps, 32x32 each
    const int64_t row0 = static_cast<int64_t>(blockIdx.y) * TBM, col0 = static_cast<int64_t>(blockIdx.x) * TBN;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
    for (int64_t k0 = 0; k0 < g.K; k0 += TBK) {
        for (int i = tid; i < TBM * TBK; i += 128) {
            const int r = g.csa == 1 ? i / TBK : i % TBM, c = g.csa == 1 ? i % TBK : i / TBM;
            const int64_t gr = row0 + r, gc = k0 + c;
            As[r][c] = __float2bfloat16((gr < g.M && gc < g.K) ? g.A[gr * g.rsa + gc * g.csa] : 0.0f);
        }
        for (int i = tid; i < TBK * TBN; i += 128) {
            const int r = g.csb == 1 ? i / TBN : i % TBK, c = g.csb == 1 ? i % TBN : i / TBK;
            const int64_t gr = k0 + r, gc = col0 + c;
            Bs[r][c] = __float2bfloat16((gr < g.K && gc < g.N) ? g.B[gr * g.rsb + gc * g.csb] : 0.0f);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TBK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &As[wr + 16 * i][kk], TBK + 8);
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &Bs[kk][wc + 16 * j], TBN + 8);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            wmma::store_matrix_sync(&Cs[wr + 16 * i][wc + 16 * j], acc[i][j], TBN + 4, wmma::mem_row_major);
    __syncthreads();
    for (int i = tid; i < TBM * TBN; i += 128) {
        const int r = i / TBN, c = i % TBN;
        const int64_t gr = row0 + r, gc = col0 + c;
        if (gr < g.M && gc < g.N) epilogue_store(g, gr, gc, Cs[r][c]);
    }
#endif
}

void gemm(const GemmArgs & g) {
    if (g.M <= 0 || g.N <= 0) return;
    if (cudadev::gemm_bf16()) {
        dim3 grid(static_cast<unsigned>((g.N + TBN - 1) / TBN), static_cast<unsigned>((g.M + TBM - 1) / TBM));
        gemm_bf16_kernel<<<grid, 128>>>(g);
    } else {
        dim3 grid(static_cast<unsigned>((g.N + BN - 1) / BN), static_cast<unsigned>((g.M + BM - 1) / BM));
        gemm_f32_kernel<<<grid, 256>>>(g);
    }
}

GemmArgs G(int64_t M, int64_t N, int64_t K, const float * A, int64_t rsa, int64_t csa, const float * B, int64_t rsb,
           int64_t csb, float * C, int64_t ldc, int acc, int epi = EPI_NONE, const float * bias = nullptr,
           float * pre = nullptr, const float * pre_in = nullptr) {
    return GemmArgs{M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, acc, epi, bias, pre, pre_in};
}

// ---- reductions and elementwise --------------------------------------------------------------------------
__device__ __forceinline__ float block_sum(float v, float * sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / 32 ? sh[threadIdx.x] : 0.0f;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    __syncthreads();
    return v;  // valid in thread 0
}

__global__ void colsum_kernel(const float * X, int64_t rows, int64_t cols, float * out, int acc) {
    const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    float s = acc ? out[j] : 0.0f;
    for (int64_t i = 0; i < rows; ++i) s += X[i * cols + j];
    out[j] = s;
}

void colsum(const float * X, int64_t rows, int64_t cols, float * out, int acc) {
    colsum_kernel<<<static_cast<unsigned>((cols + 255) / 256), 256>>>(X, rows, cols, out, acc);
}

__device__ __forceinline__ bool row_valid(int64_t row, const int32_t * k) {
    return static_cast<int32_t>(row % DEP_SAE_ROWS & 7) < k[row / DEP_SAE_ROWS];
}

__global__ void mask_rows_kernel(float * z, const int32_t * k, int64_t M, int32_t h) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < M * h && !row_valid(i / h, k)) z[i] = 0.0f;
}

// one block per row: SmoothL1 sum of the row and da2 = coef * dSmoothL1 * GELU'(a2)
__global__ void sae_recon_kernel(const float * xh, const float * X, const float * a2, const int32_t * k, int32_t d,
                                 int32_t B, float recon_w, int linear, float * da2, float * row_sums) {
    __shared__ float sh[32];
    const int64_t row = blockIdx.x;
    const bool valid = row_valid(row, k);
    const float coef = recon_w / (static_cast<float>(B) * 2.0f * k[row / DEP_SAE_ROWS] * d);
    float s = 0.0f;
    for (int32_t j = threadIdx.x; j < d; j += blockDim.x) {
        const int64_t i = row * d + j;
        if (!valid) {
            da2[i] = 0.0f;
            continue;
        }
        const float df = xh[i] - X[i], a = fabsf(df);
        s += a < 1.0f ? 0.5f * df * df : a - 0.5f;
        float gr = coef * (a < 1.0f ? df : copysignf(1.0f, df));
        if (!linear) gr *= gelu_grad_dev(a2[i]);
        da2[i] = gr;
    }
    s = block_sum(s, sh);
    if (threadIdx.x == 0) row_sums[row] = s;
}

// one thread per (sample, unit): rho_hat, the KL term (summed per sample in double) and its gradient
__global__ void sae_kl_kernel(const float * z, const int32_t * k, int32_t B, int32_t h, float rho, float recon_w,
                              float kl_w, float * kgrad, double * kl_sum) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<int64_t>(B) * h) return;
    const int32_t b = static_cast<int32_t>(i / h), j = static_cast<int32_t>(i % h), n = 2 * k[b];
    double s = 0.0;
    for (int r = 0; r < DEP_SAE_ROWS; ++r) s += z[(static_cast<int64_t>(b) * DEP_SAE_ROWS + r) * h + j];
    const double raw = s / n, rh = fmin(fmax(raw, 1e-6), 1.0 - 1e-6);
    atomicAdd(&kl_sum[b], rho * log(rho / rh) + (1.0 - rho) * log((1.0 - rho) / (1.0 - rh)));
    const bool pass = raw >= 1e-6 && raw <= 1.0 - 1e-6;
    const double gs = static_cast<double>(recon_w) * kl_w / (static_cast<double>(B) * h * n);
    kgrad[i] = pass ? static_cast<float>(gs * (-rho / rh + (1.0 - rho) / (1.0 - rh))) : 0.0f;
}

__global__ void sae_finalize_kernel(const float * row_sums, const double * kl_sum, const int32_t * k, int32_t B,
                                    int32_t d, int32_t h, float recon_w, float kl_w, float * loss, float * terms) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    double tot = 0.0;
    for (int32_t b = 0; b < B; ++b) {
        double rec = 0.0;
        for (int r = 0; r < DEP_SAE_ROWS; ++r) rec += row_sums[b * DEP_SAE_ROWS + r];
        rec /= 2.0 * k[b] * d;
        const double kl = kl_sum[b] / h;
        terms[2 * b] = static_cast<float>(rec);
        terms[2 * b + 1] = static_cast<float>(kl);
        tot += static_cast<double>(recon_w) * (rec + kl_w * kl);
    }
    *loss = static_cast<float>(tot / B);
}

__global__ void sae_dz_init_kernel(float * dz, const float * up, const float * kgrad, const int32_t * k, int64_t M,
                                   int32_t h) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= M * h) return;
    const int64_t row = i / h;
    dz[i] = row_valid(row, k) ? kgrad[(row / DEP_SAE_ROWS) * h + i % h] + (up ? up[i] : 0.0f) : 0.0f;
}

__global__ void sae_dx_direct_kernel(float * dX, const float * xh, const float * X, const int32_t * k, int64_t M,
                                     int32_t d, int32_t B, float recon_w) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= M * d) return;
    const int64_t row = i / d;
    if (!row_valid(row, k)) {
        dX[i] = 0.0f;
        return;
    }
    const float coef = recon_w / (static_cast<float>(B) * 2.0f * k[row / DEP_SAE_ROWS] * d);
    const float df = xh[i] - X[i];
    dX[i] = -coef * (fabsf(df) < 1.0f ? df : copysignf(1.0f, df));
}

__global__ void adamw_kernel(int64_t n, float * p, const float * g, float * m, float * v, float lr, float b1, float b2,
                             float eps, float wd, float bc1, float bc2s) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float gi = g[i];
        const float mi = b1 * m[i] + (1.0f - b1) * gi;
        const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * wd * p[i] + (lr / bc1) * mi / (sqrtf(vi) / bc2s + eps);
    }
}

__global__ void user_means_kernel(const void * emb, dep_dtype t, int32_t d, const int64_t * off, float * means) {
    const int32_t u = blockIdx.x;
    const int64_t r0 = off[u], r1 = off[u + 1];
    for (int32_t j = threadIdx.x; j < d; j += blockDim.x) {
        double s = 0.0;
        for (int64_t r = r0; r < r1; ++r) s += load_emb(emb, t, r * d + j);
        means[static_cast<int64_t>(u) * d + j] = static_cast<float>(s / static_cast<double>(r1 - r0));
    }
}

// one block (256 threads) per target
__global__ void __launch_bounds__(256) diff_embed_kernel(const void * emb, dep_dtype t, int32_t d, const float * means,
                                                         const int64_t * self_row, const int32_t * self_user,
                                                         const int64_t * poff, const int64_t * prow,
                                                         const int32_t * puser, dep_diff_weighting wm, float * out,
                                                         float * wts) {
    const int32_t tg = blockIdx.x;
    const int64_t p0 = poff[tg], n = poff[tg + 1] - p0;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    float * s = wts + p0;  // norms first, then the weights, in place
    if (wm != DEP_DIFF_UNIFORM) {
        const float * mu = means + static_cast<int64_t>(self_user[tg]) * d;
        for (int64_t r = warp; r < n; r += nw) {
            const float * mr = means + static_cast<int64_t>(puser[p0 + r]) * d;
            float acc = 0.0f;
            for (int32_t j = lane; j < d; j += 32) {
                const float df = mu[j] - mr[j];
                acc = fmaf(df, df, acc);
            }
            for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
            if (lane == 0) s[r] = sqrtf(acc);
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {  // the weighting rule, as diff_weights() in common.cpp
        if (wm == DEP_DIFF_UNIFORM) {
            for (int64_t r = 0; r < n; ++r) s[r] = 1.0f / static_cast<float>(n);
        } else {
            double sum = 0.0;
            for (int64_t r = 0; r < n; ++r) sum += s[r];
            if (wm == DEP_DIFF_REFERENCE && !(sum > 0.0)) {
                for (int64_t r = 0; r < n; ++r) s[r] = 1.0f / static_cast<float>(n);
            } else {
                const double scale = wm == DEP_DIFF_REFERENCE ? 1.0 / sum : 1.0;
                double mx = -1e300, z = 0.0;
                for (int64_t r = 0; r < n; ++r) mx = fmax(mx, s[r] * scale);
                for (int64_t r = 0; r < n; ++r) z += exp(s[r] * scale - mx);
                for (int64_t r = 0; r < n; ++r) s[r] = static_cast<float>(exp(s[r] * scale - mx) / z);
            }
        }
    }
    __syncthreads();
    for (int32_t j = threadIdx.x; j < d; j += blockDim.x) {
        float acc = load_emb(emb, t, self_row[tg] * d + j);
        int64_t r = 0;
        for (; r + 4 <= n; r += 4) {  // four independent loads in flight per thread
            const float e0 = load_emb(emb, t, prow[p0 + r] * d + j), e1 = load_emb(emb, t, prow[p0 + r + 1] * d + j);
            const float e2 = load_emb(emb, t, prow[p0 + r + 2] * d + j), e3 = load_emb(emb, t, prow[p0 + r + 3] * d + j);
            acc -= s[r] * e0 + s[r + 1] * e1 + s[r + 2] * e2 + s[r + 3] * e3;
        }
        for (; r < n; ++r) acc -= s[r] * load_emb(emb, t, prow[p0 + r] * d + j);
        out[static_cast<int64_t>(tg) * d + j] = acc;
    }
}

unsigned blocks_for(int64_t n, int threads = 256) { return static_cast<unsigned>((n + threads - 1) / threads); }

// ---- the device arena used by the host entry points -------------------------------------------------------
std::mutex g_mu;
char * g_arena = nullptr;
size_t g_cap = 0;

struct Arena {
    std::lock_guard<std::mutex> lock{g_mu};
    size_t used = 0;
    std::vector<std::pair<size_t, size_t>> parts;
    // reserve bytes (256-aligned); returns the offset
    size_t take(size_t bytes) {
        const size_t off = used;
        used += (bytes + 255) / 256 * 256;
        return off;
    }
    bool commit() {
        if (used <= g_cap) return true;
        if (g_arena) cudaFree(g_arena);
        g_arena = nullptr;
        g_cap = 0;
        if (cudaMalloc(&g_arena, used) != cudaSuccess) return false;
        g_cap = used;
        return true;
    }
    template <class T>
    T * at(size_t off) const {
        return reinterpret_cast<T *>(g_arena + off);
    }
};

dep_kstatus cuda_fail(cudaError_t e, const char * what) {
    return fail(DEP_KERR_DEVICE, std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace

// ---- cudadev: device-pointer API --------------------------------------------------------------------------
namespace cudadev {

void set_gemm_bf16(int on) { g_bf16 = on ? 1 : 0; }
int gemm_bf16() {
    if (g_bf16 < 0) {
        const char * e = std::getenv("DEP_CUDA_GEMM");
        g_bf16 = e && std::string(e) == "bf16" ? 1 : 0;
    }
    if (!g_bf16) return 0;
    static const int tensor_bf16 = [] {  // BF16 wmma needs sm_80+; older devices keep the F32 path
        cudaDeviceProp prop;
        return cudaGetDeviceProperties(&prop, 0) == cudaSuccess && prop.major >= 8 ? 1 : 0;
    }();
    return tensor_bf16;
}

dep_kstatus sync() {
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) e = cudaGetLastError();
    return e == cudaSuccess ? DEP_KOK : cuda_fail(e, "kernel");
}

void user_means(const void * emb, dep_dtype dtype, int32_t d, const int64_t * off, int32_t n_users, float * means) {
    user_means_kernel<<<n_users, 256>>>(emb, dtype, d, off, means);
}

void diff_embed(const void * emb, dep_dtype dtype, int32_t d, const float * means, int32_t T, const int64_t * self_row,
                const int32_t * self_user, const int64_t * poff, const int64_t * prow, const int32_t * puser,
                dep_diff_weighting wm, float * out, float * weights) {
    diff_embed_kernel<<<T, 256>>>(emb, dtype, d, means, self_row, self_user, poff, prow, puser, wm, out, weights);
}

void sae_forward(const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X, const int32_t * k,
                 float * z, float * loss, float * terms, float * ws) {
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    float *a1 = ws + L.a1, *a2 = ws + L.a2, *xh = ws + L.xhat, *da2 = ws + L.da2, *kg = ws + L.kgrad;
    // loss reduction scratch: M row sums, then B doubles (L.scratch is even, the arena 256-aligned)
    float * row_sums = ws + L.scratch;
    double * kl_sum = reinterpret_cast<double *>(ws + L.scratch + ((M + 1) / 2) * 2);
    gemm(G(M, h, d, X, d, 1, w.W1, h, 1, z, h, 0, EPI_BIAS_GELU, w.b1, a1));
    mask_rows_kernel<<<blocks_for(M * h), 256>>>(z, k, M, h);
    gemm(G(M, d, h, z, h, 1, w.W2, d, 1, xh, d, 0, p.linear_output ? EPI_BIAS : EPI_BIAS_GELU, w.b2, a2));
    if (p.linear_output) cudaMemcpyAsync(a2, xh, sizeof(float) * M * d, cudaMemcpyDeviceToDevice);
    sae_recon_kernel<<<static_cast<unsigned>(M), 256>>>(xh, X, a2, k, d, B, p.recon_weight, p.linear_output, da2, row_sums);
    cudaMemsetAsync(kl_sum, 0, sizeof(double) * B);
    sae_kl_kernel<<<blocks_for(static_cast<int64_t>(B) * h), 256>>>(z, k, B, h, p.rho, p.recon_weight, p.kl_weight, kg, kl_sum);
    sae_finalize_kernel<<<1, 32>>>(row_sums, kl_sum, k, B, d, h, p.recon_weight, p.kl_weight, loss, terms);
}

void sae_backward(const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X, const int32_t * k,
                  const float * z, const float * dz_up, float * ws, const dep_sae_grads & g, float * dX, int acc) {
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    float *a1 = ws + L.a1, *da2 = ws + L.da2, *dz = ws + L.dz, *kg = ws + L.kgrad, *xh = ws + L.xhat;
    sae_dz_init_kernel<<<blocks_for(M * h), 256>>>(dz, dz_up, kg, k, M, h);
    gemm(G(h, d, M, z, 1, h, da2, d, 1, g.W2, d, acc));
    colsum(da2, M, d, g.b2, acc);
    gemm(G(M, h, d, da2, d, 1, w.W2, 1, d, dz, h, 1, EPI_GELU_GRAD, nullptr, nullptr, a1));
    gemm(G(d, h, M, X, 1, d, dz, h, 1, g.W1, h, acc));
    colsum(dz, M, h, g.b1, acc);
    if (dX) {
        sae_dx_direct_kernel<<<blocks_for(M * d), 256>>>(dX, xh, X, k, M, d, B, p.recon_weight);
        gemm(G(M, d, h, dz, h, 1, w.W1, 1, h, dX, d, 1));
    }
}

void proj_forward(int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w, float * y, float * ws) {
    const ProjWs L = proj_ws_layout(N, h, H);
    gemm(G(N, H, h, x, h, 1, w.A1, H, 1, ws + L.g, H, 0, EPI_BIAS_GELU, w.c1, ws + L.u));
    gemm(G(N, H, H, ws + L.g, H, 1, w.A2, H, 1, y, H, 0, EPI_BIAS, w.c2));
}

void proj_backward(int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w, const float * dy,
                   float * ws, const dep_proj_grads & gr, float * dx, int acc) {
    const ProjWs L = proj_ws_layout(N, h, H);
    float *u = ws + L.u, *g = ws + L.g, *du = ws + L.du;
    gemm(G(H, H, N, g, 1, H, dy, H, 1, gr.A2, H, acc));
    colsum(dy, N, H, gr.c2, acc);
    gemm(G(N, H, H, dy, H, 1, w.A2, 1, H, du, H, 0, EPI_GELU_GRAD, nullptr, nullptr, u));
    gemm(G(h, H, N, x, 1, h, du, H, 1, gr.A1, H, acc));
    colsum(du, N, H, gr.c1, acc);
    if (dx) gemm(G(N, h, H, du, H, 1, w.A1, 1, H, dx, h, 0));
}

void adamw(const dep_adamw_params & p, int64_t n, float * pp, const float * g, float * m, float * v) {
    const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), p.step));
    const float bc2s = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(p.beta2), p.step)));
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65535));
    adamw_kernel<<<blocks, 256>>>(n, pp, g, m, v, p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, bc1, bc2s);
}

void * dmalloc(size_t bytes) {
    void * p = nullptr;
    return cudaMalloc(&p, bytes) == cudaSuccess ? p : nullptr;
}
void dfree(void * p) { cudaFree(p); }
void h2d(void * dst, const void * src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); }
void d2h(void * dst, const void * src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost); }
void copy2d(void * dst, size_t dpitch, const void * src, size_t spitch, size_t width, size_t height) {
    cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, cudaMemcpyDeviceToDevice);
}

double time_ms(void (*fn)(void *), void * ctx, int runs) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; ++i) fn(ctx);
    cudaDeviceSynchronize();
    std::vector<float> t;
    for (int i = 0; i < runs; ++i) {
        cudaEventRecord(a);
        fn(ctx);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        t.push_back(ms);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

double copy_probe_gbs(size_t bytes, int runs) {
    struct Ctx {
        void *a, *b;
        size_t n;
    } c{dmalloc(bytes), dmalloc(bytes), bytes};
    if (!c.a || !c.b) return 0.0;
    cudaMemset(c.a, 1, bytes);
    const double ms = time_ms([](void * p) {
        auto * x = static_cast<Ctx *>(p);
        cudaMemcpyAsync(x->b, x->a, x->n, cudaMemcpyDeviceToDevice);
    }, &c, runs);
    dfree(c.a);
    dfree(c.b);
    return 2.0 * static_cast<double>(bytes) / (ms * 1e6);
}

const char * device_name() {
    static char name[256] = "";
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) std::snprintf(name, sizeof name, "%s", prop.name);
    return name;
}

}  // namespace cudadev

// ---- host entry points (backend cuda of dep/kernels.h) ------------------------------------------------------
int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

#define ARENA_OR_FAIL(ar) \
    if (!(ar).commit()) return fail(DEP_KERR_DEVICE, "cuda: out of device memory for the arena")

dep_kstatus cuda_user_means(int, const void * emb, dep_dtype dtype, int32_t d, const int64_t * off, int32_t n_users,
                            float * means) {
    Arena ar;
    const size_t eb = static_cast<size_t>(off[n_users]) * d * dtype_size(dtype);
    const size_t oE = ar.take(eb), oO = ar.take(sizeof(int64_t) * (n_users + 1)),
                 oM = ar.take(sizeof(float) * n_users * d);
    ARENA_OR_FAIL(ar);
    cudadev::h2d(ar.at<char>(oE), emb, eb);
    cudadev::h2d(ar.at<char>(oO), off, sizeof(int64_t) * (n_users + 1));
    cudadev::user_means(ar.at<char>(oE), dtype, d, ar.at<int64_t>(oO), n_users, ar.at<float>(oM));
    dep_kstatus st = cudadev::sync();
    if (st == DEP_KOK) cudadev::d2h(means, ar.at<char>(oM), sizeof(float) * n_users * d);
    return st;
}

dep_kstatus cuda_diff_embed(int, const void * emb, dep_dtype dtype, int32_t d, const float * means, int32_t T,
                            const int64_t * self_row, const int32_t * self_user, const int64_t * poff,
                            const int64_t * prow, const int32_t * puser, dep_diff_weighting wm, float * out,
                            float * wout) {
    // the rows used are scattered over the table: copy the whole table (n_rows is not passed here, so
    // copy up to the largest row referenced)
    int64_t max_row = 0;
    int32_t max_user = 0;
    for (int32_t t = 0; t < T; ++t) max_row = std::max(max_row, self_row[t]), max_user = std::max(max_user, self_user[t]);
    const int64_t np = poff[T];
    for (int64_t i = 0; i < np; ++i) max_row = std::max(max_row, prow[i]), max_user = std::max(max_user, puser[i]);
    const size_t eb = static_cast<size_t>(max_row + 1) * d * dtype_size(dtype);
    const size_t mb = static_cast<size_t>(max_user + 1) * d * sizeof(float);
    Arena ar;
    const size_t oE = ar.take(eb), oMe = ar.take(mb), oSR = ar.take(8 * T), oSU = ar.take(4 * T),
                 oPO = ar.take(8 * (T + 1)), oPR = ar.take(8 * np), oPU = ar.take(4 * np), oO = ar.take(4ull * T * d),
                 oW = ar.take(4 * np);
    ARENA_OR_FAIL(ar);
    cudadev::h2d(ar.at<char>(oE), emb, eb);
    cudadev::h2d(ar.at<char>(oMe), means, mb);
    cudadev::h2d(ar.at<char>(oSR), self_row, 8 * T);
    cudadev::h2d(ar.at<char>(oSU), self_user, 4 * T);
    cudadev::h2d(ar.at<char>(oPO), poff, 8 * (T + 1));
    cudadev::h2d(ar.at<char>(oPR), prow, 8 * np);
    cudadev::h2d(ar.at<char>(oPU), puser, 4 * np);
    cudadev::diff_embed(ar.at<char>(oE), dtype, d, ar.at<float>(oMe), T, ar.at<int64_t>(oSR), ar.at<int32_t>(oSU),
                        ar.at<int64_t>(oPO), ar.at<int64_t>(oPR), ar.at<int32_t>(oPU), wm, ar.at<float>(oO),
                        ar.at<float>(oW));
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    cudadev::d2h(out, ar.at<char>(oO), 4ull * T * d);
    if (wout) cudadev::d2h(wout, ar.at<char>(oW), 4 * np);
    return DEP_KOK;
}

namespace {
struct SaeDev {
    size_t W1, b1, W2, b2, X, k, z, ws, terms, loss;
};
SaeDev sae_take(Arena & ar, const dep_sae_params & p, int32_t B) {
    const size_t d = p.d, h = p.h, M = static_cast<size_t>(B) * DEP_SAE_ROWS;
    SaeDev s;
    s.W1 = ar.take(4 * d * h), s.b1 = ar.take(4 * h), s.W2 = ar.take(4 * h * d), s.b2 = ar.take(4 * d);
    s.X = ar.take(4 * M * d), s.k = ar.take(4 * B), s.z = ar.take(4 * M * h);
    s.ws = ar.take(4 * static_cast<size_t>(sae_ws_layout(B, p.d, p.h).total)), s.terms = ar.take(8 * B), s.loss = ar.take(4);
    return s;
}
void sae_upload(const Arena & ar, const SaeDev & s, const dep_sae_params & p, const dep_sae_weights & w, int32_t B,
                const float * X, const int32_t * k) {
    const size_t d = p.d, h = p.h, M = static_cast<size_t>(B) * DEP_SAE_ROWS;
    cudadev::h2d(ar.at<char>(s.W1), w.W1, 4 * d * h);
    cudadev::h2d(ar.at<char>(s.b1), w.b1, 4 * h);
    cudadev::h2d(ar.at<char>(s.W2), w.W2, 4 * h * d);
    cudadev::h2d(ar.at<char>(s.b2), w.b2, 4 * d);
    cudadev::h2d(ar.at<char>(s.X), X, 4 * M * d);
    cudadev::h2d(ar.at<char>(s.k), k, 4 * B);
}
dep_sae_weights sae_dw(const Arena & ar, const SaeDev & s) {
    return {ar.at<float>(s.W1), ar.at<float>(s.b1), ar.at<float>(s.W2), ar.at<float>(s.b2)};
}
}  // namespace

dep_kstatus cuda_sae_forward(int, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                             const int32_t * k, float * z, float * xhat, float * loss, float * terms, float * ws) {
    Arena ar;
    const SaeDev s = sae_take(ar, p, B);
    ARENA_OR_FAIL(ar);
    sae_upload(ar, s, p, w, B, X, k);
    cudadev::sae_forward(p, sae_dw(ar, s), B, ar.at<float>(s.X), ar.at<int32_t>(s.k), ar.at<float>(s.z),
                         ar.at<float>(s.loss), ar.at<float>(s.terms), ar.at<float>(s.ws));
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    const size_t M = static_cast<size_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, p.d, p.h);
    cudadev::d2h(z, ar.at<char>(s.z), 4 * M * p.h);
    cudadev::d2h(ws, ar.at<char>(s.ws), 4 * static_cast<size_t>(L.total));  // activations for the backward
    if (xhat) cudadev::d2h(xhat, ar.at<float>(s.ws) + L.xhat, 4 * M * p.d);
    cudadev::d2h(loss, ar.at<char>(s.loss), 4);
    if (terms) cudadev::d2h(terms, ar.at<char>(s.terms), 8 * B);
    return DEP_KOK;
}

dep_kstatus cuda_sae_backward(int, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                              const int32_t * k, const float * z, const float * dz_up, float * ws,
                              const dep_sae_grads & g, float * dX, int acc) {
    Arena ar;
    const SaeDev s = sae_take(ar, p, B);
    const size_t d = p.d, h = p.h, M = static_cast<size_t>(B) * DEP_SAE_ROWS;
    const size_t oUp = ar.take(4 * M * h), oGW1 = ar.take(4 * d * h), oGb1 = ar.take(4 * h), oGW2 = ar.take(4 * h * d),
                 oGb2 = ar.take(4 * d), oDX = ar.take(4 * M * d);
    ARENA_OR_FAIL(ar);
    sae_upload(ar, s, p, w, B, X, k);
    const SaeWs L = sae_ws_layout(B, p.d, p.h);
    cudadev::h2d(ar.at<char>(s.z), z, 4 * M * h);
    cudadev::h2d(ar.at<char>(s.ws), ws, 4 * static_cast<size_t>(L.total));
    if (dz_up) cudadev::h2d(ar.at<char>(oUp), dz_up, 4 * M * h);
    if (acc) {
        cudadev::h2d(ar.at<char>(oGW1), g.W1, 4 * d * h);
        cudadev::h2d(ar.at<char>(oGb1), g.b1, 4 * h);
        cudadev::h2d(ar.at<char>(oGW2), g.W2, 4 * h * d);
        cudadev::h2d(ar.at<char>(oGb2), g.b2, 4 * d);
    }
    dep_sae_grads dg{ar.at<float>(oGW1), ar.at<float>(oGb1), ar.at<float>(oGW2), ar.at<float>(oGb2)};
    cudadev::sae_backward(p, sae_dw(ar, s), B, ar.at<float>(s.X), ar.at<int32_t>(s.k), ar.at<float>(s.z),
                          dz_up ? ar.at<float>(oUp) : nullptr, ar.at<float>(s.ws), dg, dX ? ar.at<float>(oDX) : nullptr,
                          acc);
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    cudadev::d2h(g.W1, dg.W1, 4 * d * h);
    cudadev::d2h(g.b1, dg.b1, 4 * h);
    cudadev::d2h(g.W2, dg.W2, 4 * h * d);
    cudadev::d2h(g.b2, dg.b2, 4 * d);
    if (dX) cudadev::d2h(dX, ar.at<char>(oDX), 4 * M * d);
    return DEP_KOK;
}

namespace {
struct ProjDev {
    size_t A1, c1, A2, c2, x, ws;
};
ProjDev proj_take(Arena & ar, int32_t h, int32_t H, int32_t N) {
    ProjDev s;
    s.A1 = ar.take(4ull * h * H), s.c1 = ar.take(4ull * H), s.A2 = ar.take(4ull * H * H), s.c2 = ar.take(4ull * H);
    s.x = ar.take(4ull * N * h), s.ws = ar.take(4 * static_cast<size_t>(proj_ws_layout(N, h, H).total));
    return s;
}
void proj_upload(const Arena & ar, const ProjDev & s, int32_t h, int32_t H, int32_t N, const dep_proj_weights & w,
                 const float * x) {
    cudadev::h2d(ar.at<char>(s.A1), w.A1, 4ull * h * H);
    cudadev::h2d(ar.at<char>(s.c1), w.c1, 4ull * H);
    cudadev::h2d(ar.at<char>(s.A2), w.A2, 4ull * H * H);
    cudadev::h2d(ar.at<char>(s.c2), w.c2, 4ull * H);
    cudadev::h2d(ar.at<char>(s.x), x, 4ull * N * h);
}
dep_proj_weights proj_dw(const Arena & ar, const ProjDev & s) {
    return {ar.at<float>(s.A1), ar.at<float>(s.c1), ar.at<float>(s.A2), ar.at<float>(s.c2)};
}
}  // namespace

dep_kstatus cuda_proj_forward(int, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                              float * y, float * ws) {
    Arena ar;
    const ProjDev s = proj_take(ar, h, H, N);
    const size_t oY = ar.take(4ull * N * H);
    ARENA_OR_FAIL(ar);
    proj_upload(ar, s, h, H, N, w, x);
    cudadev::proj_forward(h, H, N, ar.at<float>(s.x), proj_dw(ar, s), ar.at<float>(oY), ar.at<float>(s.ws));
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    cudadev::d2h(y, ar.at<char>(oY), 4ull * N * H);
    cudadev::d2h(ws, ar.at<char>(s.ws), 4 * static_cast<size_t>(proj_ws_layout(N, h, H).total));
    return DEP_KOK;
}

dep_kstatus cuda_proj_backward(int, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                               const float * dy, float * ws, const dep_proj_grads & g, float * dx, int acc) {
    Arena ar;
    const ProjDev s = proj_take(ar, h, H, N);
    const size_t oDy = ar.take(4ull * N * H), oA1 = ar.take(4ull * h * H), oc1 = ar.take(4ull * H),
                 oA2 = ar.take(4ull * H * H), oc2 = ar.take(4ull * H), oDx = ar.take(4ull * N * h);
    ARENA_OR_FAIL(ar);
    proj_upload(ar, s, h, H, N, w, x);
    cudadev::h2d(ar.at<char>(s.ws), ws, 4 * static_cast<size_t>(proj_ws_layout(N, h, H).total));
    cudadev::h2d(ar.at<char>(oDy), dy, 4ull * N * H);
    if (acc) {
        cudadev::h2d(ar.at<char>(oA1), g.A1, 4ull * h * H);
        cudadev::h2d(ar.at<char>(oc1), g.c1, 4ull * H);
        cudadev::h2d(ar.at<char>(oA2), g.A2, 4ull * H * H);
        cudadev::h2d(ar.at<char>(oc2), g.c2, 4ull * H);
    }
    dep_proj_grads dg{ar.at<float>(oA1), ar.at<float>(oc1), ar.at<float>(oA2), ar.at<float>(oc2)};
    cudadev::proj_backward(h, H, N, ar.at<float>(s.x), proj_dw(ar, s), ar.at<float>(oDy), ar.at<float>(s.ws), dg,
                           dx ? ar.at<float>(oDx) : nullptr, acc);
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    cudadev::d2h(g.A1, dg.A1, 4ull * h * H);
    cudadev::d2h(g.c1, dg.c1, 4ull * H);
    cudadev::d2h(g.A2, dg.A2, 4ull * H * H);
    cudadev::d2h(g.c2, dg.c2, 4ull * H);
    if (dx) cudadev::d2h(dx, ar.at<char>(oDx), 4ull * N * h);
    return DEP_KOK;
}

dep_kstatus cuda_adamw(int, const dep_adamw_params & p, int64_t n, float * pp, const float * g, float * m, float * v) {
    Arena ar;
    const size_t oP = ar.take(4 * n), oG = ar.take(4 * n), oM = ar.take(4 * n), oV = ar.take(4 * n);
    ARENA_OR_FAIL(ar);
    cudadev::h2d(ar.at<char>(oP), pp, 4 * n);
    cudadev::h2d(ar.at<char>(oG), g, 4 * n);
    cudadev::h2d(ar.at<char>(oM), m, 4 * n);
    cudadev::h2d(ar.at<char>(oV), v, 4 * n);
    cudadev::adamw(p, n, ar.at<float>(oP), ar.at<float>(oG), ar.at<float>(oM), ar.at<float>(oV));
    dep_kstatus st = cudadev::sync();
    if (st != DEP_KOK) return st;
    cudadev::d2h(pp, ar.at<char>(oP), 4 * n);
    cudadev::d2h(m, ar.at<char>(oM), 4 * n);
    cudadev::d2h(v, ar.at<char>(oV), 4 * n);
    return DEP_KOK;
}

}  // namespace dep_k
