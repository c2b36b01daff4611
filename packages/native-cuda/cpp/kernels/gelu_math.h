// Branchless float exp / erfc / exact-erf GELU for the vectorized CPU epilogues. Written as scalar
// inline functions so that the per-ISA translation units (compiled with -mavx512f / -mavx2) vectorize
// the loops that call them (`#pragma omp simd`).
//   exp_f:  Cephes expf polynomial after n = round(x log2 e) range reduction (~1 ulp; |r| <= ln2/2).
//   erfc_f: Numerical Recipes erfcc (Chebyshev fit, fractional error < 1.2e-7 everywhere), so GELU keeps
//           its relative accuracy in the negative tail where GELU(x) -> 0.
// GELU(x) = 0.5 x erfc(-x/sqrt 2) = x Phi(x);  GELU'(x) = Phi(x) + x phi(x).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dep_k {

static inline float exp_f(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    // round to nearest with the 1.5*2^23 trick (std::floor does not vectorize under -ftrapping-math)
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
    return y * __builtin_bit_cast(float, e);  // 2^n (a bit cast, so the loops calling this vectorize)
}

// erfc(x) for any x
static inline float erfc_f(float x) {
    float z = std::fabs(x);
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float ans = t * exp_f(-z * z + p);
    return x >= 0.0f ? ans : 2.0f - ans;
}

static inline float gelu_f(float x) { return 0.5f * x * erfc_f(-0.70710678118654752f * x); }

static inline float gelu_grad_f(float x) {
    float cdf = 0.5f * erfc_f(-0.70710678118654752f * x);
    float pdf = 0.39894228040143268f * exp_f(-0.5f * x * x);
    return cdf + x * pdf;
}

// exact references in double (used by reference.cpp and the tests)
static inline double gelu_d(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
static inline double gelu_grad_d(double x) {
    return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

}  // namespace dep_k
