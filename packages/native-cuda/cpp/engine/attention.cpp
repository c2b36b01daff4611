// Causal grouped-query attention on the matmul library, flash-style in blocks of queries: per kv head and
// block of B query rows (all the query heads that share that kv head, stacked), the scores against the
// keys up to the block's end are one product, the softmax runs over them in place (masked past the
// diagonal; log-sum-exp kept), and the weighted values another product. Memory: O(B * T) per block, never
// T x T. The backward recomputes the block's probabilities from the log-sum-exp and forms dQ, dK, dV with
// three more products (dK and dV only for keys from p0 on). The scalar versions in layers.cpp are the
// reference the tests hold these to.
// In bf16 mode the products' operands are bf16 (F32 accumulation, F32 scores and softmax), as flash
// attention does it on matrix units: K and V rounded once per call, each block's Q, dO, P and dS as they
// are formed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "layers.h"
#include "matmul.h"
#include "vec.h"

namespace dep::engine {

namespace {

constexpr int64_t kBlock = 128;

// Copies n values as the operand type: F32 as is, bf16 rounded.
inline void put_span(float * d, const float * x, int64_t n) { std::memcpy(d, x, sizeof(float) * n); }
inline void put_span(uint16_t * d, const float * x, int64_t n) { to_bf16_span(x, d, n); }

// One score row of query position i (keys [0, n)), in place: exp(s - max) over [0, i], zero past it.
// Returns the lse; *inv = 1 / sum, the factor that makes the row the softmax (applied by the caller, as it
// stores the row).
DEP_ENGINE_CLONES
float softmax_row(float * sr, int64_t i, int64_t n, float * inv) {
    // the max in 16 lanes: a reduction through std::max stays scalar (its NaN rule is not vmaxps's), and a
    // scalar chain of maxima is latency-bound
    float lanes[16];
    for (float & l : lanes) l = -std::numeric_limits<float>::infinity();
    int64_t j0 = 0;
    for (; j0 + 16 <= i + 1; j0 += 16)
        for (int l = 0; l < 16; ++l) lanes[l] = sr[j0 + l] > lanes[l] ? sr[j0 + l] : lanes[l];
    float mx = -std::numeric_limits<float>::infinity();
    for (float l : lanes) mx = std::max(mx, l);
    for (int64_t j = j0; j <= i; ++j) mx = std::max(mx, sr[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j <= i; ++j) {
        sr[j] = exp_nonpositive(sr[j] - mx);
        sum += sr[j];
    }
    for (int64_t j = i + 1; j < n; ++j) sr[j] = 0.0f;
    *inv = 1.0f / sum;
    return mx + std::log(sum);
}

// The backward of one row, in place: sr holds scale * q.k (becomes P), dpr holds dO.v (becomes dS / scale),
// D = dO.o.
DEP_ENGINE_CLONES
void dsoftmax_row(float * sr, float * dpr, float D, float lse, int64_t i, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) {
        const float p = exp_nonpositive(sr[j] - lse);
        sr[j] = p;
        dpr[j] = p * (dpr[j] - D);
    }
    for (int64_t j = i + 1; j < n; ++j) sr[j] = dpr[j] = 0.0f;
}

// A row times f as the operand type: bf16 mode stores a rounded copy, F32 mode scales the row in place.
void store_row(const float * src, uint16_t * dst, int64_t n, float f = 1.0f) { to_bf16_span(src, dst, n, f); }
DEP_ENGINE_CLONES
void store_row(float * src, float * dst, int64_t n, float f = 1.0f) {
    if (f == 1.0f) return;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dst[j] = src[j] * f;
}

// Copies rows [i0, i1) of the group's heads out of x [T, n_head * hd] (its row i at (i - row0)) into
// c [group][i1 - i0][hd], as the operand type.
template <typename E>
void gather_group(const float * x, int64_t width, int64_t h0, int64_t group, int64_t hd, int64_t i0, int64_t i1,
                  int64_t row0, E * c) {
    const int64_t nb = i1 - i0;
    for (int64_t r = 0; r < group; ++r)
        for (int64_t i = i0; i < i1; ++i) put_span(c + (r * nb + i - i0) * hd, x + (i - row0) * width + (h0 + r) * hd, hd);
}

void scatter_group(const float * c, float * x, int64_t width, int64_t h0, int64_t group, int64_t hd, int64_t i0,
                   int64_t i1, int64_t row0) {
    const int64_t nb = i1 - i0;
    for (int64_t r = 0; r < group; ++r)
        for (int64_t i = i0; i < i1; ++i)
            std::memcpy(x + (i - row0) * width + (h0 + r) * hd, c + (r * nb + i - i0) * hd, sizeof(float) * hd);
}

// The operand buffers of one mode: F32 mode computes on the F32 buffers in place (P over S, dS over dP);
// bf16 mode has bf16 copies beside them.
template <typename E>
struct Operands;
template <>
struct Operands<float> {
    float *qc, *doc, *p, *ds;
    const float *k, *v;
    Operands(AttentionScratch & w, const float * k_, const float * v_, int64_t, int)
        : qc(w.qc.data()), doc(w.doc.data()), p(w.s.data()), ds(w.dp.data()), k(k_), v(v_) {}
};
template <>
struct Operands<uint16_t> {
    uint16_t *qc, *doc, *p, *ds;
    const uint16_t *k, *v;
    Operands(AttentionScratch & w, const float * k_, const float * v_, int64_t n, int nt)
        : qc(w.qcb.data()), doc(w.docb.data()), p(w.pb.data()), ds(w.dsb.data()), k(w.kb.data()), v(w.vb.data()) {
        to_bf16_rows(k_, w.kb.data(), n, nt);
        to_bf16_rows(v_, w.vb.data(), n, nt);
    }
};

template <typename E>
void forward_blocks(Matmul & mm, const AttentionShape & s, const float * q, const float * k, const float * v,
                    float * out, float * lse, AttentionScratch & w, int nt) {
    const int64_t T = s.T, hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
    w.resize(s, T, mm.bf16());
    Operands<E> o(w, k, v, T * nkv, nt);
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
        const int64_t h0 = g * group;
        for (int64_t i0 = 0; i0 < T; i0 += kBlock) {
            const int64_t i1 = std::min(T, i0 + kBlock), nb = i1 - i0, rows = group * nb;
            gather_group(q, nq, h0, group, hd, i0, i1, 0, o.qc);
            // S [rows, i1] = scale * Qc K[0:i1]^T
            mm.gemm(rows, i1, hd, o.qc, hd, false, o.k + g * hd, nkv, true, w.s.data(), i1, s.scale, false);
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t row = 0; row < rows; ++row) {
                const int64_t i = i0 + row % nb;  // this row's query position
                float inv;
                lse[(h0 + row / nb) * T + i] = softmax_row(w.s.data() + row * i1, i, i1, &inv);
                store_row(w.s.data() + row * i1, o.p + row * i1, i1, inv);
            }
            // Oc [rows, hd] = P V[0:i1]
            mm.gemm(rows, hd, i1, o.p, i1, false, o.v + g * hd, nkv, false, w.oc.data(), hd, 1.0f, false);
            scatter_group(w.oc.data(), out, nq, h0, group, hd, i0, i1, 0);
        }
    }
}

template <typename E>
void backward_blocks(Matmul & mm, const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                     const float * k, const float * v, const float * out, const float * lse, float * dq, float * dk,
                     float * dv, AttentionScratch & w, int nt) {
    const int64_t T = s.T, hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
    const int64_t M = T - p0;
    w.resize(s, p0, mm.bf16());
    Operands<E> o(w, k, v, T * nkv, nt);
    // D[h][i - p0] = dO . O, the softmax backward's row term
    float * D = w.dsum.data();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = p0; i < T; ++i)
        for (int64_t h = 0; h < s.n_head; ++h) {
            const float * a = dout + (i - p0) * nq + h * hd;
            const float * b = out + i * nq + h * hd;
            float acc = 0.0f;
            for (int64_t d = 0; d < hd; ++d) acc += a[d] * b[d];
            D[h * M + i - p0] = acc;
        }
    std::fill(dk, dk + M * nkv, 0.0f);
    std::fill(dv, dv + M * nkv, 0.0f);
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
        const int64_t h0 = g * group;
        for (int64_t i0 = p0; i0 < T; i0 += kBlock) {
            const int64_t i1 = std::min(T, i0 + kBlock), nb = i1 - i0, rows = group * nb;
            gather_group(q, nq, h0, group, hd, i0, i1, 0, o.qc);
            gather_group(dout, nq, h0, group, hd, i0, i1, p0, o.doc);
            // S from the saved log-sum-exp; dP = dO V^T
            mm.gemm(rows, i1, hd, o.qc, hd, false, o.k + g * hd, nkv, true, w.s.data(), i1, s.scale, false);
            mm.gemm(rows, i1, hd, o.doc, hd, false, o.v + g * hd, nkv, true, w.dp.data(), i1, 1.0f, false);
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t row = 0; row < rows; ++row) {
                const int64_t i = i0 + row % nb, h = h0 + row / nb;
                dsoftmax_row(w.s.data() + row * i1, w.dp.data() + row * i1, D[h * M + i - p0], lse[h * T + i], i, i1);
                store_row(w.s.data() + row * i1, o.p + row * i1, i1);
                store_row(w.dp.data() + row * i1, o.ds + row * i1, i1);
            }
            // dQc = scale dS K[0:i1]
            mm.gemm(rows, hd, i1, o.ds, i1, false, o.k + g * hd, nkv, false, w.oc.data(), hd, s.scale, false);
            scatter_group(w.oc.data(), dq, nq, h0, group, hd, i0, i1, p0);
            // keys [p0, i1): dK += scale dS^T Qc, dV += P^T dOc (summed over the group's heads: K = rows)
            const int64_t nk = i1 - p0;
            mm.gemm(nk, hd, rows, o.ds + p0, i1, true, o.qc, hd, false, dk + g * hd, nkv, s.scale, true);
            mm.gemm(nk, hd, rows, o.p + p0, i1, true, o.doc, hd, false, dv + g * hd, nkv, 1.0f, true);
        }
    }
}

}  // namespace

void attention_forward(Matmul & mm, const AttentionShape & s, const float * q, const float * k, const float * v,
                       float * out, float * lse, AttentionScratch & w, int nt) {
    if (mm.bf16())
        forward_blocks<uint16_t>(mm, s, q, k, v, out, lse, w, nt);
    else
        forward_blocks<float>(mm, s, q, k, v, out, lse, w, nt);
}

void attention_backward(Matmul & mm, const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                        const float * k, const float * v, const float * out, const float * lse, float * dq, float * dk,
                        float * dv, AttentionScratch & w, int nt) {
    if (s.T - p0 <= 0) return;
    if (mm.bf16())
        backward_blocks<uint16_t>(mm, s, p0, dout, q, k, v, out, lse, dq, dk, dv, w, nt);
    else
        backward_blocks<float>(mm, s, p0, dout, q, k, v, out, lse, dq, dk, dv, w, nt);
}

template <typename Visit>
void AttentionScratch::each_size(const AttentionShape & sh, int64_t p0, bool bf16, Visit visit) {
    // a block of query rows (the forward's: the backward's has at most as many) against all T keys
    const int64_t rows = sh.n_head / sh.n_head_kv * std::min(kBlock, sh.T), T = sh.T, hd = sh.head_dim;
    const int64_t kv = T * sh.n_head_kv * hd;
    visit(qc, rows * hd), visit(oc, rows * hd), visit(doc, rows * hd), visit(s, rows * T), visit(dp, rows * T);
    visit(dsum, sh.n_head * (T - p0));
    if (bf16) {
        visit(qcb, rows * hd), visit(docb, rows * hd), visit(pb, rows * T), visit(dsb, rows * T);
        visit(kb, kv), visit(vb, kv);
    }
}

void AttentionScratch::resize(const AttentionShape & sh, int64_t p0, bool bf16) {
    each_size(sh, p0, bf16, [](auto & buffer, int64_t n) {
        if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
    });
}

size_t attention_scratch_bytes(const AttentionShape & s, int64_t p0, bool bf16) {
    AttentionScratch none;  // empty: each_size only reads its buffers' types
    size_t bytes = 0;
    none.each_size(s, p0, bf16, [&](auto & buffer, int64_t n) { bytes += static_cast<size_t>(n) * sizeof(buffer[0]); });
    return bytes;
}

}  // namespace dep::engine
