#include "layers.h"

#include "vec.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dep::engine {

namespace {

inline float dot(const float * a, const float * b, int64_t n) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

inline void axpy(float a, const float * x, float * y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void rmsnorm_forward(const float * x, const float * w, float * y, float * rstd, int64_t T, int64_t D, float eps,
                     int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < T; ++t) {
        const float * xr = x + t * D;
        // ggml accumulates the sum of squares in double (ggml_vec_dot-free loop in ggml_compute_forward_rms_norm)
        double ss = 0.0;
        for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xr[i]) * xr[i];
        const float r = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(D)) + eps);
        rstd[t] = r;
        float * yr = y + t * D;
        for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * r * w[i];
    }
}

void rmsnorm_backward_add(const float * dy, const float * x, const float * w, const float * rstd, float * dx,
                          int64_t T, int64_t D, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < T; ++t) {
        const float * g = dy + t * D;
        const float * xr = x + t * D;
        const float r = rstd[t];
        // dx = r * (g*w - xhat * mean(g*w*xhat)), xhat = x * r
        double s = 0.0;
        for (int64_t i = 0; i < D; ++i) s += static_cast<double>(g[i]) * w[i] * xr[i];
        const float c = static_cast<float>(s / static_cast<double>(D)) * r * r;
        float * d = dx + t * D;
        for (int64_t i = 0; i < D; ++i) d[i] += r * (g[i] * w[i] - xr[i] * c);
    }
}

void add_bias(float * y, const float * b, int64_t T, int64_t N, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < N; ++i) y[t * N + i] += b[i];
}

void Rope::prepare(int64_t T, float freq_base, float freq_scale, const float * freq_factors) {
    const int64_t half = n_rot / 2;
    if (static_cast<int64_t>(cos.size()) >= T * half) return;
    cos.resize(static_cast<size_t>(T * half));
    sin.resize(static_cast<size_t>(T * half));
    // the same float recurrence as ggml's rope cache, so the angles agree to the last bit
    const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
    for (int64_t p = 0; p < T; ++p) {
        float theta = static_cast<float>(p);
        for (int64_t i = 0; i < half; ++i) {
            const float ff = freq_factors ? freq_factors[i] : 1.0f;
            const float th = freq_scale * (theta / ff);
            cos[static_cast<size_t>(p * half + i)] = std::cos(th);
            sin[static_cast<size_t>(p * half + i)] = std::sin(th);
            theta *= theta_scale;
        }
    }
}

static void rope_apply(const Rope & rope, float * x, int64_t T, int64_t pos0, int32_t n_heads, float sign, int nt) {
    const int64_t half = rope.n_rot / 2, hd = rope.head_dim, width = hd * n_heads;
    const int64_t stride = rope.neox ? half : 1;  // distance between a pair's two elements
    const int64_t step = rope.neox ? 1 : 2;       // distance between consecutive pairs
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < T; ++t) {
        const float * c = rope.cos.data() + (pos0 + t) * half;
        const float * s = rope.sin.data() + (pos0 + t) * half;
        for (int32_t h = 0; h < n_heads; ++h) {
            float * xh = x + t * width + h * hd;
            for (int64_t i = 0; i < half; ++i) {
                float * a = xh + i * step;
                float * b = a + stride;
                const float x0 = *a, x1 = *b, sn = sign * s[i];
                *a = x0 * c[i] - x1 * sn;
                *b = x0 * sn + x1 * c[i];
            }
        }
    }
}

void rope_forward(const Rope & rope, float * x, int64_t T, int64_t pos0, int32_t n_heads, int nt) {
    rope_apply(rope, x, T, pos0, n_heads, 1.0f, nt);
}
void rope_backward(const Rope & rope, float * dx, int64_t T, int64_t pos0, int32_t n_heads, int nt) {
    rope_apply(rope, dx, T, pos0, n_heads, -1.0f, nt);
}

namespace {

// One query row of one head: scores against keys [0, i], softmax, weighted sum of values.
DEP_ENGINE_CLONES
void attend_row(const float * qi, const float * k, const float * v, int64_t i, int64_t kv_stride, int64_t hd,
                float scale, float * s, float * o, float * lse) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j <= i; ++j) {
        s[j] = dot(qi, k + j * kv_stride, hd) * scale;
        mx = std::max(mx, s[j]);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j <= i; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    for (int64_t d = 0; d < hd; ++d) o[d] = 0.0f;
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j <= i; ++j) axpy(s[j] * inv, v + j * kv_stride, o, hd);
    *lse = mx + std::log(sum);
}

// dq for one query row; returns D_i = dout_i . out_i.
DEP_ENGINE_CLONES
float attend_row_dq(const float * qi, const float * doi, const float * oi, const float * k, const float * v, int64_t i,
                    int64_t kv_stride, int64_t hd, float scale, float lse, float * dqi) {
    const float Di = dot(doi, oi, hd);
    for (int64_t d = 0; d < hd; ++d) dqi[d] = 0.0f;
    for (int64_t j = 0; j <= i; ++j) {
        const float * kj = k + j * kv_stride;
        const float p = std::exp(dot(qi, kj, hd) * scale - lse);
        const float ds = p * (dot(doi, v + j * kv_stride, hd) - Di);
        axpy(ds * scale, kj, dqi, hd);
    }
    return Di;
}

// dk, dv for one key row j from the queries i in [j, T) of one head (adds).
DEP_ENGINE_CLONES
void attend_col_dkdv(const float * kj, const float * vj, const float * q, const float * dout, const float * lse,
                     const float * Dh, int64_t j, int64_t T, int64_t p0, int64_t q_stride, int64_t hd, float scale,
                     float * dkj, float * dvj) {
    for (int64_t i = j; i < T; ++i) {
        const float * qi = q + i * q_stride;
        const float * doi = dout + (i - p0) * q_stride;
        const float p = std::exp(dot(qi, kj, hd) * scale - lse[i]);
        const float ds = p * (dot(doi, vj, hd) - Dh[i]);
        axpy(ds * scale, qi, dkj, hd);
        axpy(p, doi, dvj, hd);
    }
}

}  // namespace

void attention_forward_scalar(const AttentionShape & s, const float * q, const float * k, const float * v,
                              float * out, float * lse, int nt) {
    const int64_t hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
#pragma omp parallel num_threads(nt)
    {
        std::vector<float> scores(static_cast<size_t>(s.T));
#pragma omp for collapse(2) schedule(dynamic, 16)
        for (int64_t h = 0; h < s.n_head; ++h)
            for (int64_t i = 0; i < s.T; ++i) {
                const int64_t kvh = h / group;
                attend_row(q + i * nq + h * hd, k + kvh * hd, v + kvh * hd, i, nkv, hd, s.scale, scores.data(),
                           out + i * nq + h * hd, lse + h * s.T + i);
            }
    }
}

void attention_backward_scalar(const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                               const float * k, const float * v, const float * out, const float * lse, float * dq,
                               float * dk, float * dv, float * scratch, int nt) {
    const int64_t T = s.T, hd = s.head_dim, nq = hd * s.n_head, nkv = hd * s.n_head_kv, group = s.n_head / s.n_head_kv;
    float * D = scratch;  // [n_head, T]: dout_i . out_i
    // pass 1: dq per query row (and D)
#pragma omp parallel for collapse(2) num_threads(nt) schedule(dynamic, 16)
    for (int64_t h = 0; h < s.n_head; ++h)
        for (int64_t i = p0; i < T; ++i) {
            const int64_t kvh = h / group;
            D[h * T + i] = attend_row_dq(q + i * nq + h * hd, dout + (i - p0) * nq + h * hd, out + i * nq + h * hd,
                                         k + kvh * hd, v + kvh * hd, i, nkv, hd, s.scale, lse[h * T + i],
                                         dq + (i - p0) * nq + h * hd);
        }
    // pass 2: dk, dv per key row, summed over the query heads that share it
#pragma omp parallel for collapse(2) num_threads(nt) schedule(dynamic, 16)
    for (int64_t kvh = 0; kvh < s.n_head_kv; ++kvh)
        for (int64_t j = p0; j < T; ++j) {
            float * dkj = dk + (j - p0) * nkv + kvh * hd;
            float * dvj = dv + (j - p0) * nkv + kvh * hd;
            for (int64_t d = 0; d < hd; ++d) dkj[d] = dvj[d] = 0.0f;
            for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h)
                attend_col_dkdv(k + j * nkv + kvh * hd, v + j * nkv + kvh * hd, q + h * hd, dout + h * hd,
                                lse + h * T, D + h * T, j, T, p0, nq, hd, s.scale, dkj, dvj);
        }
}

namespace {

DEP_ENGINE_CLONES
void swiglu_forward_span(const float * g, const float * u, float * h, int64_t n) {
    for (int64_t i = 0; i < n; ++i) h[i] = g[i] * sigmoid(g[i]) * u[i];
}

DEP_ENGINE_CLONES
void swiglu_backward_span(const float * dh, const float * g, const float * u, float * dg, float * du, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float sg = sigmoid(g[i]), d = dh[i];
        du[i] = d * g[i] * sg;
        dg[i] = d * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

}  // namespace

void swiglu_forward(const float * g, const float * u, float * h, int64_t n, int nt) {
    parallel_chunks(n, nt, [&](int64_t a, int64_t b) { swiglu_forward_span(g + a, u + a, h + a, b - a); });
}

void swiglu_backward(const float * dh, const float * g, const float * u, float * dg, float * du, int64_t n, int nt) {
    parallel_chunks(n, nt, [&](int64_t a, int64_t b) {
        swiglu_backward_span(dh + a, g + a, u + a, dg + a, du + a, b - a);
    });
}

double cross_entropy_forward_backward(float * logits, const int32_t * labels, int64_t n, int64_t V, int nt) {
    double total = 0.0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : total)
    for (int64_t r = 0; r < n; ++r) {
        float * row = logits + r * V;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < V; ++j) mx = std::max(mx, row[j]);
        double sum = 0.0;
        for (int64_t j = 0; j < V; ++j) sum += std::exp(static_cast<double>(row[j] - mx));
        const double lse = static_cast<double>(mx) + std::log(sum);
        total += lse - row[labels[r]];
        const float inv_n = 1.0f / static_cast<float>(n);
        for (int64_t j = 0; j < V; ++j) row[j] = static_cast<float>(std::exp(row[j] - lse)) * inv_n;
        row[labels[r]] -= inv_n;
    }
    return total / static_cast<double>(n);
}

}  // namespace dep::engine
