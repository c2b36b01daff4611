// dep_grad_engine_gemm_probe: what the matmul library reaches here on one shape (the bench's
// "gemmProbeTflops"), through the engine's own Matmul so it measures the path the engine takes.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "dep/grad_engine.h"
#include "matmul.h"

extern "C" double dep_grad_engine_gemm_probe(dep_grad_engine_dtype dtype, int32_t m, int32_t k, int32_t n,
                                             int32_t n_threads) {
    if (m < 1 || k < 1 || n < 1 || n_threads < 1) return -1.0;
    std::string err;
    omp_set_num_threads(n_threads);
    auto mm = dep::engine::Matmul::create(dtype == DEP_GRAD_ENGINE_BF16, n_threads, err);
    if (!mm) return -1.0;
    std::vector<float> w(static_cast<size_t>(n) * k), x(static_cast<size_t>(m) * k), y(static_cast<size_t>(m) * n);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 40503u) % 1000) * 1e-3f - 0.5f;
    const dep::engine::Weight W = mm->make_weight(w.data(), n, k);
    double best = 1e30;
    for (int rep = 0; rep < 4; ++rep) {  // the first run creates the primitive; the best of the rest counts
        const auto t0 = std::chrono::steady_clock::now();
        mm->forward(x.data(), m, W, y.data(), false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (rep > 0) best = std::min(best, s);
    }
    return 2.0 * m * k * n / best / 1e12;
}
