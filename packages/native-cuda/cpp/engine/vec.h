// What the engine's elementwise loops share: per-ISA clones, a vectorizable exp, and contiguous chunks
// over the OpenMP threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

// The hot inner loops, compiled per ISA and picked at load (ifunc): the files themselves build for any
// x86-64. A clone's ISA does not reach an OpenMP region's outlined body, so the cloned functions are the
// loops over one chunk, called from inside the region.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DEP_ENGINE_X86_GCC 1
#define DEP_ENGINE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DEP_ENGINE_CLONES
#endif

namespace dep::engine {

// exp(x) for x <= 0 in a form the compiler vectorizes (libm's expf is a call per element): 2^n * p(r),
// r = x - n ln2, degree-6 polynomial, ~1 ulp.
inline float exp_nonpositive(float x) {
    x = std::max(x, -87.0f);
    const float n = std::nearbyint(x * 1.44269504088896341f);
    const float r = x - n * 0.693145751953125f - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, 4);
    return p * scale;
}

// 1 / (1 + exp(-x)) through exp_nonpositive(-|x|), so that it never overflows.
inline float sigmoid(float x) {
    const float e = exp_nonpositive(-std::fabs(x));
    const float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

// f(begin, end) on nt contiguous chunks of [0, n), one per thread.
template <typename F>
void parallel_chunks(int64_t n, int nt, F && f) {
    if (nt <= 1 || n < 4096) return f(int64_t{0}, n);
#pragma omp parallel num_threads(nt)
    {
        const int64_t k = omp_get_num_threads(), per = (n + k - 1) / k, a = per * omp_get_thread_num();
        if (a < n) f(a, std::min(n, a + per));
    }
}

}  // namespace dep::engine
