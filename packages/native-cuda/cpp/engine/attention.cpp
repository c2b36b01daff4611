// Causal grouped-query attention on the matmul library, flash-style in blocks of queries: per kv head and
// block of B query rows (all the query heads that share that kv head, stacked), the scores against the
// keys up to the block's end are one product, the softmax runs over them in place (masked past the
// diagonal; log-sum-exp kept), and the weighted values another product. Memory: O(B * T) per block, never
// T x T. The backward recomputes the block's probabilities from the log-sum-exp and forms dQ, dK, dV with
// three more products (dK and dV only for keys from p0 on). The scalar versions in layers.cpp are the
// reference the tests hold these to.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "layers.h"
#include "matmul.h"

namespace dep::engine {

namespace {

constexpr int64_t kBlock = 128;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DEP_ENGINE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DEP_ENGINE_CLONES
#endif

// exp(x) for x <= 0 in a form the compiler vectorizes (libm's expf is a call per element, and the softmax
// does T^2/2 of them per head and layer): 2^n * p(r), r = x - n ln2, degree-6 polynomial, ~1 ulp.
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

// One score row of query position i (keys [0, n)): softmax over [0, i], zero past it; returns the lse.
DEP_ENGINE_CLONES
float softmax_row(float * sr, int64_t i, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, sr[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j <= i; ++j) {
        sr[j] = exp_nonpositive(sr[j] - mx);
        sum += sr[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) sr[j] *= inv;
    for (int64_t j = i + 1; j < n; ++j) sr[j] = 0.0f;
    return mx + std::log(sum);
}

// The backward of one row: sr holds scale * q.k (becomes P), dpr holds dO.v (becomes dS / scale).
DEP_ENGINE_CLONES
void dsoftmax_row(float * sr, float * dpr, const float * dor, const float * orow, int64_t hd, float lse, int64_t i,
                  int64_t n) {
    float D = 0.0f;
#pragma omp simd reduction(+ : D)
    for (int64_t d = 0; d < hd; ++d) D += dor[d] * orow[d];
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) {
        const float p = exp_nonpositive(sr[j] - lse);
        sr[j] = p;
        dpr[j] = p * (dpr[j] - D);
    }
    for (int64_t j = i + 1; j < n; ++j) sr[j] = dpr[j] = 0.0f;
}

// Copies rows [i0, i1) of the group's heads out of x [T, n_head * hd] into c [group][i1 - i0][hd].
void gather_group(const float * x, int64_t width, int64_t h0, int64_t group, int64_t hd, int64_t i0, int64_t i1,
                  int64_t row0, float * c) {
    const int64_t nb = i1 - i0;
    for (int64_t r = 0; r < group; ++r)
        for (int64_t i = i0; i < i1; ++i)
            std::memcpy(c + (r * nb + i - i0) * hd, x + (i - row0) * width + (h0 + r) * hd, sizeof(float) * hd);
}

void scatter_group(const float * c, float * x, int64_t width, int64_t h0, int64_t group, int64_t hd, int64_t i0,
                   int64_t i1, int64_t row0) {
    const int64_t nb = i1 - i0;
    for (int64_t r = 0; r < group; ++r)
        for (int64_t i = i0; i < i1; ++i)
            std::memcpy(x + (i - row0) * width + (h0 + r) * hd, c + (r * nb + i - i0) * hd, sizeof(float) * hd);
}

}  // namespace

void attention_forward(Matmul & mm, const AttentionShape & s, const float * q, const float * k, const float * v,
                       float * out, float * lse, AttentionScratch & w, int nt) {
    const int64_t T = s.T, hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
    w.resize(group * std::min(kBlock, T), T, hd);
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
        const int64_t h0 = g * group;
        for (int64_t i0 = 0; i0 < T; i0 += kBlock) {
            const int64_t i1 = std::min(T, i0 + kBlock), nb = i1 - i0, rows = group * nb;
            gather_group(q, nq, h0, group, hd, i0, i1, 0, w.qc.data());
            // S [rows, i1] = scale * Qc K[0:i1]^T
            mm.gemm(rows, i1, hd, w.qc.data(), hd, false, k + g * hd, nkv, true, w.s.data(), i1, s.scale, false);
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t row = 0; row < rows; ++row) {
                const int64_t i = i0 + row % nb;  // this row's query position
                lse[(h0 + row / nb) * T + i] = softmax_row(w.s.data() + row * i1, i, i1);
            }
            // Oc [rows, hd] = P V[0:i1]
            mm.gemm(rows, hd, i1, w.s.data(), i1, false, v + g * hd, nkv, false, w.oc.data(), hd, 1.0f, false);
            scatter_group(w.oc.data(), out, nq, h0, group, hd, i0, i1, 0);
        }
    }
}

void attention_backward(Matmul & mm, const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                        const float * k, const float * v, const float * out, const float * lse, float * dq, float * dk,
                        float * dv, AttentionScratch & w, int nt) {
    const int64_t T = s.T, hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
    const int64_t M = T - p0;
    if (M <= 0) return;
    w.resize(group * std::min(kBlock, M), T, hd);
    std::fill(dk, dk + M * nkv, 0.0f);
    std::fill(dv, dv + M * nkv, 0.0f);
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
        const int64_t h0 = g * group;
        for (int64_t i0 = p0; i0 < T; i0 += kBlock) {
            const int64_t i1 = std::min(T, i0 + kBlock), nb = i1 - i0, rows = group * nb;
            gather_group(q, nq, h0, group, hd, i0, i1, 0, w.qc.data());
            gather_group(dout, nq, h0, group, hd, i0, i1, p0, w.doc.data());
            gather_group(out, nq, h0, group, hd, i0, i1, 0, w.oc.data());
            // P from the saved log-sum-exp; dP = dO V^T
            mm.gemm(rows, i1, hd, w.qc.data(), hd, false, k + g * hd, nkv, true, w.s.data(), i1, s.scale, false);
            mm.gemm(rows, i1, hd, w.doc.data(), hd, false, v + g * hd, nkv, true, w.dp.data(), i1, 1.0f, false);
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t row = 0; row < rows; ++row) {
                const int64_t i = i0 + row % nb;
                dsoftmax_row(w.s.data() + row * i1, w.dp.data() + row * i1, w.doc.data() + row * hd,
                             w.oc.data() + row * hd, hd, lse[(h0 + row / nb) * T + i], i, i1);
            }
            // dQc = scale dS K[0:i1]
            mm.gemm(rows, hd, i1, w.dp.data(), i1, false, k + g * hd, nkv, false, w.oc.data(), hd, s.scale, false);
            scatter_group(w.oc.data(), dq, nq, h0, group, hd, i0, i1, p0);
            // keys [p0, i1): dK += scale dS^T Qc, dV += P^T dOc (summed over the group's heads: K = rows)
            const int64_t nk = i1 - p0;
            mm.gemm(nk, hd, rows, w.dp.data() + p0, i1, true, w.qc.data(), hd, false, dk + g * hd, nkv, s.scale, true);
            mm.gemm(nk, hd, rows, w.s.data() + p0, i1, true, w.doc.data(), hd, false, dv + g * hd, nkv, 1.0f, true);
        }
    }
}

void AttentionScratch::resize(int64_t rows, int64_t T, int64_t hd) {
    const auto need = [](std::vector<float> & b, int64_t n) {
        if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
    };
    need(qc, rows * hd), need(oc, rows * hd), need(doc, rows * hd), need(s, rows * T), need(dp, rows * T);
}

}  // namespace dep::engine
