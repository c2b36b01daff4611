// Scalar reference versions of every kernel: plain loops, double accumulation, no blocking, no threads.
// They define the semantics the optimized CPU and CUDA versions are tested against (see kernels.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gelu_math.h"
#include "internal.h"

namespace dep_k {

namespace {
// C[M,N] = A[M,K] · B[K,N] with strides (double accumulation)
void ref_matmul(int64_t M, int64_t N, int64_t K, const float * A, int64_t rsa, int64_t csa, const float * B,
                int64_t rsb, int64_t csb, std::vector<double> & C) {
    C.assign(static_cast<size_t>(M * N), 0.0);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t kk = 0; kk < K; ++kk) {
            const double a = A[i * rsa + kk * csa];
            if (a == 0.0) continue;
            for (int64_t j = 0; j < N; ++j) C[i * N + j] += a * B[kk * rsb + j * csb];
        }
}
void store(float * dst, const std::vector<double> & src, int acc) {
    for (size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<float>((acc ? dst[i] : 0.0) + src[i]);
}
void colsum(const float * X, int64_t rows, int64_t cols, float * out, int acc) {
    for (int64_t j = 0; j < cols; ++j) {
        double s = acc ? out[j] : 0.0;
        for (int64_t i = 0; i < rows; ++i) s += X[i * cols + j];
        out[j] = static_cast<float>(s);
    }
}
}  // namespace

dep_kstatus ref_user_means(int, const void * emb, dep_dtype dtype, int32_t d, const int64_t * off, int32_t n_users,
                           float * means) {
    for (int32_t u = 0; u < n_users; ++u)
        for (int32_t j = 0; j < d; ++j) {
            double s = 0.0;
            for (int64_t r = off[u]; r < off[u + 1]; ++r) s += load_elem(emb, dtype, r * d + j);
            means[static_cast<int64_t>(u) * d + j] = static_cast<float>(s / static_cast<double>(off[u + 1] - off[u]));
        }
    return DEP_KOK;
}

dep_kstatus ref_diff_embed(int, const void * emb, dep_dtype dtype, int32_t d, const float * means, int32_t T,
                           const int64_t * self_row, const int32_t * self_user, const int64_t * poff,
                           const int64_t * prow, const int32_t * puser, dep_diff_weighting wm, float * out,
                           float * wout) {
    std::vector<float> s, w;
    for (int32_t t = 0; t < T; ++t) {
        const int64_t p0 = poff[t], n = poff[t + 1] - p0;
        s.assign(n, 0.0f);
        w.assign(n, 0.0f);
        for (int64_t r = 0; r < n; ++r) {
            double acc = 0.0;
            for (int32_t j = 0; j < d; ++j) {
                double df = static_cast<double>(means[static_cast<int64_t>(self_user[t]) * d + j]) -
                            means[static_cast<int64_t>(puser[p0 + r]) * d + j];
                acc += df * df;
            }
            s[r] = static_cast<float>(std::sqrt(acc));
        }
        diff_weights(s.data(), n, wm, w.data());
        if (wout) std::copy(w.begin(), w.end(), wout + p0);
        for (int32_t j = 0; j < d; ++j) {
            double acc = load_elem(emb, dtype, self_row[t] * d + j);
            for (int64_t r = 0; r < n; ++r) acc -= static_cast<double>(w[r]) * load_elem(emb, dtype, prow[p0 + r] * d + j);
            out[static_cast<int64_t>(t) * d + j] = static_cast<float>(acc);
        }
    }
    return DEP_KOK;
}

dep_kstatus ref_sae_forward(int, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                            const int32_t * k, float * z, float * xhat_out, float * loss, float * terms, float * ws) {
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    float *a1 = ws + L.a1, *a2 = ws + L.a2, *xh = ws + L.xhat, *da2 = ws + L.da2, *kg = ws + L.kgrad;
    std::vector<double> C;
    ref_matmul(M, h, d, X, d, 1, w.W1, h, 1, C);
    for (int64_t r = 0; r < M; ++r) {
        const bool valid = sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[r / DEP_SAE_ROWS]);
        for (int32_t j = 0; j < h; ++j) {
            const double pre = C[r * h + j] + w.b1[j];
            a1[r * h + j] = static_cast<float>(pre);
            z[r * h + j] = valid ? static_cast<float>(gelu_d(pre)) : 0.0f;
        }
    }
    ref_matmul(M, d, h, z, h, 1, w.W2, d, 1, C);
    for (int64_t i = 0; i < M * d; ++i) {
        const double pre = C[i] + w.b2[i % d];
        a2[i] = static_cast<float>(pre);
        xh[i] = static_cast<float>(p.linear_output ? pre : gelu_d(pre));
    }
    double total = 0.0;
    for (int32_t b = 0; b < B; ++b) {
        const int32_t n = 2 * k[b];
        double rec = 0.0;
        const double coef = p.recon_weight / (static_cast<double>(B) * n * d);
        for (int32_t r = 0; r < DEP_SAE_ROWS; ++r) {
            const int64_t row = static_cast<int64_t>(b) * DEP_SAE_ROWS + r;
            const bool valid = sae_row_valid(r, k[b]);
            for (int32_t j = 0; j < d; ++j) {
                const int64_t i = row * d + j;
                if (!valid) {
                    da2[i] = 0.0f;
                    continue;
                }
                const double df = static_cast<double>(xh[i]) - X[i];
                const double a = std::fabs(df);
                rec += a < 1.0 ? 0.5 * df * df : a - 0.5;
                double g = a < 1.0 ? df : (df > 0 ? 1.0 : -1.0);
                g *= coef;
                if (!p.linear_output) g *= gelu_grad_d(a2[i]);
                da2[i] = static_cast<float>(g);
            }
        }
        rec /= static_cast<double>(n) * d;
        double kl = 0.0;
        const double gscale = static_cast<double>(p.recon_weight) * p.kl_weight / (static_cast<double>(B) * h * n);
        for (int32_t j = 0; j < h; ++j) {
            double s = 0.0;
            for (int32_t r = 0; r < DEP_SAE_ROWS; ++r)
                if (sae_row_valid(r, k[b])) s += z[(static_cast<int64_t>(b) * DEP_SAE_ROWS + r) * h + j];
            const double raw = s / n;
            const double rh = std::min(std::max(raw, 1e-6), 1.0 - 1e-6);
            const double rho = p.rho;
            kl += rho * std::log(rho / rh) + (1.0 - rho) * std::log((1.0 - rho) / (1.0 - rh));
            const bool pass = raw >= 1e-6 && raw <= 1.0 - 1e-6;
            kg[static_cast<int64_t>(b) * h + j] =
                pass ? static_cast<float>(gscale * (-rho / rh + (1.0 - rho) / (1.0 - rh))) : 0.0f;
        }
        kl /= h;
        if (terms) {
            terms[2 * b] = static_cast<float>(rec);
            terms[2 * b + 1] = static_cast<float>(kl);
        }
        total += static_cast<double>(p.recon_weight) * (rec + p.kl_weight * kl);
    }
    *loss = static_cast<float>(total / B);
    if (xhat_out) std::memcpy(xhat_out, xh, sizeof(float) * M * d);
    return DEP_KOK;
}

dep_kstatus ref_sae_backward(int, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                             const int32_t * k, const float * z, const float * dz_up, float * ws,
                             const dep_sae_grads & g, float * dX, int acc) {
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    const float *a1 = ws + L.a1, *da2 = ws + L.da2, *kg = ws + L.kgrad, *xh = ws + L.xhat;
    float * da1 = ws + L.dz;
    std::vector<double> C;
    ref_matmul(h, d, M, z, 1, h, da2, d, 1, C);
    store(g.W2, C, acc);
    colsum(da2, M, d, g.b2, acc);
    ref_matmul(M, h, d, da2, d, 1, w.W2, 1, d, C);  // da2 W2^T
    for (int64_t r = 0; r < M; ++r) {
        const int32_t b = static_cast<int32_t>(r / DEP_SAE_ROWS);
        const bool valid = sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[b]);
        for (int32_t j = 0; j < h; ++j) {
            const int64_t i = r * h + j;
            double dz = valid ? C[i] + kg[static_cast<int64_t>(b) * h + j] + (dz_up ? dz_up[i] : 0.0f) : 0.0;
            da1[i] = static_cast<float>(dz * gelu_grad_d(a1[i]));
        }
    }
    ref_matmul(d, h, M, X, 1, d, da1, h, 1, C);
    store(g.W1, C, acc);
    colsum(da1, M, h, g.b1, acc);
    if (dX) {
        ref_matmul(M, d, h, da1, h, 1, w.W1, 1, h, C);
        for (int64_t r = 0; r < M; ++r) {
            const int32_t b = static_cast<int32_t>(r / DEP_SAE_ROWS);
            const bool valid = sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[b]);
            const double coef = p.recon_weight / (static_cast<double>(B) * 2 * k[b] * d);
            for (int32_t j = 0; j < d; ++j) {
                const int64_t i = r * d + j;
                if (!valid) {
                    dX[i] = 0.0f;
                    continue;
                }
                const double df = static_cast<double>(xh[i]) - X[i];
                const double gs = std::fabs(df) < 1.0 ? df : (df > 0 ? 1.0 : -1.0);
                dX[i] = static_cast<float>(C[i] - coef * gs);
            }
        }
    }
    return DEP_KOK;
}

dep_kstatus ref_proj_forward(int, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                             float * y, float * ws) {
    const ProjWs L = proj_ws_layout(N, h, H);
    float *u = ws + L.u, *g = ws + L.g;
    std::vector<double> C;
    ref_matmul(N, H, h, x, h, 1, w.A1, H, 1, C);
    for (int64_t i = 0; i < static_cast<int64_t>(N) * H; ++i) {
        const double pre = C[i] + w.c1[i % H];
        u[i] = static_cast<float>(pre);
        g[i] = static_cast<float>(gelu_d(pre));
    }
    ref_matmul(N, H, H, g, H, 1, w.A2, H, 1, C);
    for (int64_t i = 0; i < static_cast<int64_t>(N) * H; ++i) y[i] = static_cast<float>(C[i] + w.c2[i % H]);
    return DEP_KOK;
}

dep_kstatus ref_proj_backward(int, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                              const float * dy, float * ws, const dep_proj_grads & gr, float * dx, int acc) {
    const ProjWs L = proj_ws_layout(N, h, H);
    const float *u = ws + L.u, *g = ws + L.g;
    float * du = ws + L.du;
    std::vector<double> C;
    ref_matmul(H, H, N, g, 1, H, dy, H, 1, C);
    store(gr.A2, C, acc);
    colsum(dy, N, H, gr.c2, acc);
    ref_matmul(N, H, H, dy, H, 1, w.A2, 1, H, C);
    for (int64_t i = 0; i < static_cast<int64_t>(N) * H; ++i) du[i] = static_cast<float>(C[i] * gelu_grad_d(u[i]));
    ref_matmul(h, H, N, x, 1, h, du, H, 1, C);
    store(gr.A1, C, acc);
    colsum(du, N, H, gr.c1, acc);
    if (dx) {
        ref_matmul(N, h, H, du, H, 1, w.A1, 1, H, C);
        store(dx, C, 0);
    }
    return DEP_KOK;
}

dep_kstatus ref_adamw(int, const dep_adamw_params & p, int64_t n, float * pp, const float * g, float * m, float * v) {
    const double bc1 = 1.0 - std::pow(static_cast<double>(p.beta1), p.step);
    const double bc2 = 1.0 - std::pow(static_cast<double>(p.beta2), p.step);
    for (int64_t i = 0; i < n; ++i) {
        const double pi = pp[i] - static_cast<double>(p.lr) * p.weight_decay * pp[i];
        m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g[i];
        v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g[i] * g[i];
        const double denom = std::sqrt(static_cast<double>(v[i])) / std::sqrt(bc2) + p.eps;
        pp[i] = static_cast<float>(pi - (p.lr / bc1) * m[i] / denom);
    }
    return DEP_KOK;
}

}  // namespace dep_k
