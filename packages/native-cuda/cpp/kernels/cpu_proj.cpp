// Optimized CPU projector MLP y = GELU(x A1 + c1) A2 + c2, forward and backward, as fused GEMMs:
//   forward : g = GELU(x A1 + c1) [epilogue bias+GELU keeps u];  y = g A2 + c2 [epilogue bias]
//   backward: dA2 = g^T dy; dc2 = colsum dy; du = (dy A2^T) ⊙ GELU'(u) [epilogue GELU-grad];
//             dA1 = x^T du; dc1 = colsum du; dx = du A1^T.
#include "internal.h"

namespace dep_k {

dep_kstatus cpu_proj_forward(int nt, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                             float * y, float * ws) {
    const IsaOps & ops = cpu_ops();
    const ProjWs L = proj_ws_layout(N, h, H);
    float *u = ws + L.u, *g = ws + L.g;
    cpu_gemm(ops, Gemm{N, H, h, x, h, 1, w.A1, H, 1, g, H, 0, EPI_BIAS_GELU, w.c1, u, nullptr}, nt);
    cpu_gemm(ops, Gemm{N, H, H, g, H, 1, w.A2, H, 1, y, H, 0, EPI_BIAS, w.c2, nullptr, nullptr}, nt);
    return DEP_KOK;
}

dep_kstatus cpu_proj_backward(int nt, int32_t h, int32_t H, int32_t N, const float * x, const dep_proj_weights & w,
                              const float * dy, float * ws, const dep_proj_grads & gr, float * dx, int acc) {
    const IsaOps & ops = cpu_ops();
    const ProjWs L = proj_ws_layout(N, h, H);
    float *u = ws + L.u, *g = ws + L.g, *du = ws + L.du;
    cpu_gemm(ops, Gemm{H, H, N, g, 1, H, dy, H, 1, gr.A2, H, acc, EPI_NONE, nullptr, nullptr, nullptr}, nt);
    cpu_colsum(dy, N, H, H, gr.c2, acc, nt);
    cpu_gemm(ops, Gemm{N, H, H, dy, H, 1, w.A2, 1, H, du, H, 0, EPI_GELU_GRAD, nullptr, nullptr, u}, nt);
    cpu_gemm(ops, Gemm{h, H, N, x, 1, h, du, H, 1, gr.A1, H, acc, EPI_NONE, nullptr, nullptr, nullptr}, nt);
    cpu_colsum(du, N, H, H, gr.c1, acc, nt);
    if (dx) cpu_gemm(ops, Gemm{N, h, H, du, H, 1, w.A1, 1, H, dx, h, 0, EPI_NONE, nullptr, nullptr, nullptr}, nt);
    return DEP_KOK;
}

}  // namespace dep_k
