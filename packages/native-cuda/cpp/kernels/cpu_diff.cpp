// Optimized CPU user means and fused difference embedding. One pass per target: peer norms from the
// (cache-resident) user means, weights, then out = e[self] - sum_r w_r e[peer_r] accumulated in an
// L1-resident F32 row while each peer row streams through once (F16/BF16 rows are widened in registers,
// so half storage halves the bytes moved). Targets are split statically over the threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "internal.h"

namespace dep_k {

dep_kstatus cpu_user_means(int nt, const void * emb, dep_dtype dtype, int32_t d, const int64_t * off,
                           int32_t n_users, float * means) {
    const IsaOps & ops = cpu_ops();
    const size_t es = dtype_size(dtype);
    parallel_for(nt, n_users, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
        float * m = means + static_cast<int64_t>(u) * d;
        std::fill(m, m + d, 0.0f);
        const int64_t n = off[u + 1] - off[u];
        for (int64_t r = off[u]; r < off[u + 1]; ++r)
            ops.axpy_row(m, -1.0f, static_cast<const char *>(emb) + r * d * es, dtype, d,
                         r + 2 < off[u + 1] ? static_cast<const char *>(emb) + (r + 2) * d * es : nullptr);
        const float inv = 1.0f / static_cast<float>(n);
        for (int32_t j = 0; j < d; ++j) m[j] *= inv;
    }
    });
    return DEP_KOK;
}

dep_kstatus cpu_diff_embed(int nt, const void * emb, dep_dtype dtype, int32_t d, const float * means, int32_t T,
                           const int64_t * self_row, const int32_t * self_user, const int64_t * poff,
                           const int64_t * prow, const int32_t * puser, dep_diff_weighting wm, float * out,
                           float * wout) {
    const IsaOps & ops = cpu_ops();
    const size_t row_bytes = static_cast<size_t>(d) * dtype_size(dtype);
    const char * base = static_cast<const char *>(emb);
    parallel_for(nt, T, [&](int64_t t0, int64_t t1) {
        std::vector<float> s, w;  // per thread, sized once to the largest peer list it meets
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t p0 = poff[t], n = poff[t + 1] - p0;
            if (static_cast<int64_t>(s.size()) < n) {
                s.resize(n);
                w.resize(n);
            }
            const float * mu = means + static_cast<int64_t>(self_user[t]) * d;
            auto mean_of = [&](int64_t r) { return means + static_cast<int64_t>(puser[p0 + r]) * d; };
            auto row_of = [&](int64_t r) { return base + prow[p0 + r] * row_bytes; };
            if (wm != DEP_DIFF_UNIFORM)
                for (int64_t r = 0; r < n; ++r) {
                    // prefetch the mean two peers ahead; at the end, the first embedding rows
                    const void * pf = r + 2 < n ? static_cast<const void *>(mean_of(r + 2))
                                                : (r + 2 - n < n ? static_cast<const void *>(row_of(r + 2 - n)) : nullptr);
                    if (r + 2 >= n && r + 2 - n < 4)  // the first four rows: the gather pipeline's start
                        for (int64_t q = r + 2 - n; q < 4 && q < n; q += 2) __builtin_prefetch(row_of(q));
                    s[r] = std::sqrt(ops.sqdist(mu, mean_of(r), d, pf));
                }
            diff_weights(s.data(), n, wm, w.data());
            if (wout) std::copy(w.data(), w.data() + n, wout + p0);
            float * o = out + static_cast<int64_t>(t) * d;
            ops.load_row(o, base + self_row[t] * row_bytes, dtype, d);
            int64_t r = 0;
            for (; r + 4 <= n; r += 4) {  // four peers at a time; prefetch the next four
                const void * rows[4] = {row_of(r), row_of(r + 1), row_of(r + 2), row_of(r + 3)};
                const void * pf[4] = {nullptr, nullptr, nullptr, nullptr};
                for (int q = 0; q < 4; ++q) {
                    if (r + 4 + q < n) pf[q] = row_of(r + 4 + q);
                    else if (q == 0 && t + 1 < t1) pf[q] = base + self_row[t + 1] * row_bytes;
                    else if (q == 1 && t + 1 < t1 && wm != DEP_DIFF_UNIFORM)
                        pf[q] = means + static_cast<int64_t>(puser[poff[t + 1]]) * d;
                }
                ops.axpy4_row(o, &w[r], rows, dtype, d, pf);
            }
            for (; r < n; ++r) ops.axpy_row(o, w[r], row_of(r), dtype, d, nullptr);
        }
    });
    return DEP_KOK;
}

dep_kstatus cpu_adamw(int nt, const dep_adamw_params & p, int64_t n, float * pp, const float * g, float * m,
                      float * v) {
    const IsaOps & ops = cpu_ops();
    const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(p.beta1), p.step));
    const float bc2s = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(p.beta2), p.step)));
    const int64_t chunk = 1 << 14;
    const int64_t nchunks = (n + chunk - 1) / chunk;
    parallel_for(nt, nchunks, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t i0 = c * chunk, len = std::min(chunk, n - i0);
            ops.adamw(len, pp + i0, g + i0, m + i0, v + i0, p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, bc1, bc2s);
        }
    });
    return DEP_KOK;
}

}  // namespace dep_k
