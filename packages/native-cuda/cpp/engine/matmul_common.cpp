// What both matmul implementations share: weight storage in the engine dtype, bf16 rounding.
#include "matmul.h"

#include <chrono>

namespace dep::engine {

void to_bf16_rows(const float * src, uint16_t * dst, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

void Matmul::forward(const float * X, int64_t M, const Weight & W, float * Y, bool accumulate) {
    const auto t0 = std::chrono::steady_clock::now();
    forward_impl(X, M, W, Y, accumulate);
    elapsed_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void Matmul::backward(const float * dY, int64_t M, const Weight & W, float * dX, bool accumulate) {
    const auto t0 = std::chrono::steady_clock::now();
    backward_impl(dY, M, W, dX, accumulate);
    elapsed_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void Matmul::gemm(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, bool ta, const float * B, int64_t ldb,
                  bool tb, float * C, int64_t ldc, float alpha, bool accumulate) {
    if (M == 0 || N == 0) return;
    const auto t0 = std::chrono::steady_clock::now();
    gemm_impl(false, M, N, K, A, lda, ta, B, ldb, tb, C, ldc, alpha, accumulate);
    elapsed_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void Matmul::gemm(int64_t M, int64_t N, int64_t K, const uint16_t * A, int64_t lda, bool ta, const uint16_t * B,
                  int64_t ldb, bool tb, float * C, int64_t ldc, float alpha, bool accumulate) {
    if (M == 0 || N == 0) return;
    const auto t0 = std::chrono::steady_clock::now();
    gemm_impl(true, M, N, K, A, lda, ta, B, ldb, tb, C, ldc, alpha, accumulate);
    elapsed_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Weight Matmul::make_weight(const float * src, int64_t n_out, int64_t n_in) const {
    Weight w;
    w.n_out = n_out;
    w.n_in = n_in;
    const int64_t n = n_out * n_in;
    if (bf16_) {
        w.bf16.resize(static_cast<size_t>(n));
        to_bf16_rows(src, w.bf16.data(), n, n_threads_);
    } else {
        w.f32.assign(src, src + n);
    }
    return w;
}

}  // namespace dep::engine
