// What both matmul implementations share: weight storage in the engine dtype, bf16 rounding.
#include "matmul.h"

#include "vec.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>

namespace dep::engine {

namespace {

DEP_ENGINE_CLONES
void to_bf16_loop(const float * src, uint16_t * dst, int64_t n, float scale) {
    for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i] * scale);
}

#ifdef DEP_ENGINE_X86_GCC
// AVX512_BF16's own conversion (one instruction per 16 values, round to nearest even; it reads and writes
// subnormals as zero, which bf16 products on these CPUs do anyway).
__attribute__((target("avx512f,avx512bf16,avx512vl"))) void to_bf16_avx512bf16(const float * src, uint16_t * dst,
                                                                               int64_t n, float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256bh r = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(src + i), s));
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + i), reinterpret_cast<const __m256i &>(r));
    }
    to_bf16_loop(src + i, dst + i, n - i, scale);
}
// __builtin_cpu_init first: this initializer runs among the static constructors
const bool kHasAvx512Bf16 = (__builtin_cpu_init(), __builtin_cpu_supports("avx512bf16"));
#endif

}  // namespace

void to_bf16_span(const float * src, uint16_t * dst, int64_t n, float scale) {
#ifdef DEP_ENGINE_X86_GCC
    if (kHasAvx512Bf16) return to_bf16_avx512bf16(src, dst, n, scale);
#endif
    to_bf16_loop(src, dst, n, scale);
}

void to_bf16_rows(const float * src, uint16_t * dst, int64_t n, int n_threads) {
    parallel_chunks(n, n_threads, [&](int64_t a, int64_t b) { to_bf16_span(src + a, dst + a, b - a); });
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
    std::string err;
    load_weight(
        n_out, n_in,
        [&](int64_t row0, int64_t n_rows, float * dst, std::string &) {
            std::memcpy(dst, src + row0 * n_in, sizeof(float) * static_cast<size_t>(n_rows * n_in));
            return true;
        },
        w, err);
    return w;
}

bool Matmul::load_weight(int64_t n_out, int64_t n_in, const WeightRows & rows, Weight & w, std::string & err) const {
    w = Weight{};
    w.n_out = n_out;
    w.n_in = n_in;
    const size_t n = static_cast<size_t>(n_out * n_in);
    if (bf16_)
        w.bf16.allocate(n);
    else
        w.f32.allocate(n);
    constexpr int64_t kRows = 64;  // per block: 64 rows of 5632 F32 values is 1.4 MB, within a core's cache
    bool ok = true;
#pragma omp parallel num_threads(n_threads_)
    {
        std::vector<float> block;
        std::string why;
#pragma omp for schedule(dynamic)
        for (int64_t r0 = 0; r0 < n_out; r0 += kRows) {
            const int64_t nr = std::min(kRows, n_out - r0);
            float * dst = bf16_ ? (block.resize(static_cast<size_t>(nr * n_in)), block.data()) : w.f32.data() + r0 * n_in;
            if (!rows(r0, nr, dst, why)) {
#pragma omp critical(dep_load_weight)
                if (ok) ok = false, err = why;
                continue;
            }
            if (bf16_) to_bf16_span(dst, w.bf16.data() + r0 * n_in, nr * n_in);
        }
    }
    return ok;
}

}  // namespace dep::engine
