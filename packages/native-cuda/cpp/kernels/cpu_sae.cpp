// Optimized CPU SAE forward+loss and backward (SPEC §4, §6), composed of the blocked GEMM with fused
// epilogues:
//   forward : z = GELU(X W1 + b1)  [GEMM, epilogue bias+GELU keeps a1]
//             X^ = GELU(z W2 + b2) [GEMM, epilogue bias+GELU keeps a2]
//             one pass per valid row: SmoothL1 sum and its gradient times GELU'(a2) -> da2 (the loss
//             gradient does not depend on the upstream, so it is ready before the backward is called);
//             one pass per sample: rho_hat, KL and its per-unit gradient coefficient -> kgrad.
//   backward: dz = mask·(dz_up + kgrad); dW2 = z^T da2; db2 = colsum da2;
//             da1 = (dz + da2 W2^T) ⊙ GELU'(a1)   [GEMM accumulating into dz, epilogue GELU-grad]
//             dW1 = X^T da1; db1 = colsum da1; dX = da1 W1^T - dSmoothL1/dX (when asked).
// Padding rows: z and da2 are zeroed there, so they add nothing to any product.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "internal.h"

namespace dep_k {

dep_kstatus cpu_sae_forward(int nt, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                            const int32_t * k, float * z, float * xhat_out, float * loss, float * terms, float * ws) {
    const IsaOps & ops = cpu_ops();
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    float *a1 = ws + L.a1, *a2 = ws + L.a2, *xh = ws + L.xhat, *da2 = ws + L.da2, *kg = ws + L.kgrad;

    cpu_gemm(ops, Gemm{M, h, d, X, d, 1, w.W1, h, 1, z, h, 0, EPI_BIAS_GELU, w.b1, a1, nullptr}, nt);
    for (int64_t r = 0; r < M; ++r)
        if (!sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[r / DEP_SAE_ROWS]))
            std::memset(z + r * h, 0, sizeof(float) * h);
    cpu_gemm(ops, Gemm{M, d, h, z, h, 1, w.W2, d, 1, xh, d, 0, p.linear_output ? EPI_BIAS : EPI_BIAS_GELU, w.b2, a2,
                       nullptr},
             nt);
    if (p.linear_output) std::memcpy(a2, xh, sizeof(float) * M * d);

    const float rho = p.rho;
    std::vector<double> sample_loss(B);
    parallel_for(nt, B, [&](int64_t b0, int64_t b1) {
    for (int32_t b = static_cast<int32_t>(b0); b < b1; ++b) {
        const int32_t n = 2 * k[b];
        const float coef = static_cast<float>(p.recon_weight / (static_cast<double>(B) * n * d));
        double rec = 0.0;
        for (int32_t r = 0; r < DEP_SAE_ROWS; ++r) {
            const int64_t row = static_cast<int64_t>(b) * DEP_SAE_ROWS + r;
            float * g = da2 + row * d;
            if (!sae_row_valid(r, k[b])) {
                std::memset(g, 0, sizeof(float) * d);
                continue;
            }
            rec += ops.smoothl1(xh + row * d, X + row * d, d, coef, g);
            if (!p.linear_output) ops.gelu_grad_mul(g, a2 + row * d, d);
        }
        rec /= static_cast<double>(n) * d;
        // rho_hat over the sample's valid rows (padding rows of z are zero, so summing all 16 is exact)
        // (summed in double: rho_hat can be a small difference of positive and negative GELU outputs, and
        // the KL gradient -rho/rho_hat amplifies its relative error)
        float * kgb = kg + static_cast<int64_t>(b) * h;
        double kl = 0.0;
        const double gscale = static_cast<double>(p.recon_weight) * p.kl_weight / (static_cast<double>(B) * h * n);
        for (int32_t j = 0; j < h; ++j) {
            double sum = 0.0;
            for (int32_t r = 0; r < DEP_SAE_ROWS; ++r) sum += z[(static_cast<int64_t>(b) * DEP_SAE_ROWS + r) * h + j];
            const double raw = sum / static_cast<double>(n);
            const double rh = std::min(std::max(raw, 1e-6), 1.0 - 1e-6);
            kl += rho * std::log(rho / rh) + (1.0 - rho) * std::log((1.0 - rho) / (1.0 - rh));
            const bool pass = raw >= 1e-6 && raw <= 1.0 - 1e-6;
            kgb[j] = pass ? static_cast<float>(gscale * (-rho / rh + (1.0 - rho) / (1.0 - rh))) : 0.0f;
        }
        kl /= h;
        if (terms) {
            terms[2 * b] = static_cast<float>(rec);
            terms[2 * b + 1] = static_cast<float>(kl);
        }
        sample_loss[b] = static_cast<double>(p.recon_weight) * (rec + p.kl_weight * kl);
    }
    });
    double total = 0.0;
    for (double l : sample_loss) total += l;
    *loss = static_cast<float>(total / B);
    if (xhat_out) std::memcpy(xhat_out, xh, sizeof(float) * M * d);
    return DEP_KOK;
}

dep_kstatus cpu_sae_backward(int nt, const dep_sae_params & p, const dep_sae_weights & w, int32_t B, const float * X,
                             const int32_t * k, const float * z, const float * dz_up, float * ws,
                             const dep_sae_grads & g, float * dX, int acc) {
    const IsaOps & ops = cpu_ops();
    const int32_t d = p.d, h = p.h;
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    const SaeWs L = sae_ws_layout(B, d, h);
    float *a1 = ws + L.a1, *da2 = ws + L.da2, *dz = ws + L.dz, *kg = ws + L.kgrad, *xh = ws + L.xhat;

    parallel_for(nt, M, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
        const int32_t b = static_cast<int32_t>(r / DEP_SAE_ROWS);
        float * o = dz + r * h;
        if (!sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[b])) {
            std::memset(o, 0, sizeof(float) * h);
            continue;
        }
        const float * kgb = kg + static_cast<int64_t>(b) * h;
        if (dz_up)
            for (int32_t j = 0; j < h; ++j) o[j] = dz_up[r * h + j] + kgb[j];
        else
            std::memcpy(o, kgb, sizeof(float) * h);
    }
    });
    // decoder
    cpu_gemm(ops, Gemm{h, d, M, z, 1, h, da2, d, 1, g.W2, d, acc, EPI_NONE, nullptr, nullptr, nullptr}, nt);
    cpu_colsum(da2, M, d, d, g.b2, acc, nt);
    cpu_gemm(ops, Gemm{M, h, d, da2, d, 1, w.W2, 1, d, dz, h, 1, EPI_GELU_GRAD, nullptr, nullptr, a1}, nt);
    // dz now holds da1 (zero on padding rows: their dz and da2 rows were zero)
    cpu_gemm(ops, Gemm{d, h, M, X, 1, d, dz, h, 1, g.W1, h, acc, EPI_NONE, nullptr, nullptr, nullptr}, nt);
    cpu_colsum(dz, M, h, h, g.b1, acc, nt);
    if (dX) {
        const float recw = p.recon_weight;
        parallel_for(nt, M, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int32_t b = static_cast<int32_t>(r / DEP_SAE_ROWS);
            float * o = dX + r * d;
            if (!sae_row_valid(static_cast<int32_t>(r % DEP_SAE_ROWS), k[b])) {
                std::memset(o, 0, sizeof(float) * d);
                continue;
            }
            const float coef = static_cast<float>(recw / (static_cast<double>(B) * 2 * k[b] * d));
            ops.smoothl1(xh + r * d, X + r * d, d, -coef, o);  // d/dX SmoothL1(X^ - X) = -d/dX^
        }
        });
        cpu_gemm(ops, Gemm{M, d, h, dz, h, 1, w.W1, 1, h, dX, d, 1, EPI_NONE, nullptr, nullptr, nullptr}, nt);
        // padding rows: dz rows are zero, so dX stays zero there
    }
    return DEP_KOK;
}

}  // namespace dep_k
