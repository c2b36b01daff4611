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
                float * sr = w.s.data() + row * i1;
                float mx = -std::numeric_limits<float>::infinity();
                for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, sr[j]);
                float sum = 0.0f;
                for (int64_t j = 0; j <= i; ++j) {
                    sr[j] = std::exp(sr[j] - mx);
                    sum += sr[j];
                }
                const float inv = 1.0f / sum;
                for (int64_t j = 0; j <= i; ++j) sr[j] *= inv;
                for (int64_t j = i + 1; j < i1; ++j) sr[j] = 0.0f;
                lse[(h0 + row / nb) * T + i] = mx + std::log(sum);
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
                const float l = lse[(h0 + row / nb) * T + i];
                const float * dor = w.doc.data() + row * hd;
                const float * orow = w.oc.data() + row * hd;
                float D = 0.0f;
                for (int64_t d = 0; d < hd; ++d) D += dor[d] * orow[d];
                float * sr = w.s.data() + row * i1;
                float * dpr = w.dp.data() + row * i1;
                for (int64_t j = 0; j <= i; ++j) {
                    sr[j] = std::exp(sr[j] - l);    // P
                    dpr[j] = sr[j] * (dpr[j] - D);  // dS (scale applied in the products below)
                }
                for (int64_t j = i + 1; j < i1; ++j) sr[j] = dpr[j] = 0.0f;
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
