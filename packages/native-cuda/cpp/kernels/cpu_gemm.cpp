// Optimized CPU GEMM (BLIS-style): C[M,N] (+)= A·B for arbitrary row/column strides of A and B, so one
// routine serves x·W, dY·W^T and X^T·dY. Loops: jc (NC) -> pc (KC, pack B) -> ic (MC, pack A) -> jr (NR)
// -> ir (MR) -> micro-kernel from the IsaOps table. Epilogues (bias, bias+GELU storing the pre-activation,
// multiply by GELU'(pre)) run on each register tile right after its last K block, while it is in L1.
// Threads: the larger of M and N is split into n_threads contiguous ranges (whole tiles); each thread
// runs the loop nest on its range with its own packing buffers (thread_local, grown once, never in the
// hot loop); threads come from the pool of threads.cpp. Also: the ISA dispatch (cpu_ops) and a threaded column sum for bias gradients.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "internal.h"

namespace dep_k {

const IsaOps & cpu_ops() {
    static const IsaOps * ops = [] {
        const char * cap = std::getenv("DEP_KERNELS_ISA");
        std::string c = cap ? cap : "";
        __builtin_cpu_init();
        if (c != "avx2" && c != "generic" && __builtin_cpu_supports("avx512f")) return &isa_ops_avx512();
        if (c != "generic" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c"))
            return &isa_ops_avx2();
        return &isa_ops_generic();
    }();
    return *ops;
}

namespace {

constexpr int64_t KC = 384;
constexpr int64_t NC = 1536;

struct alignas(64) PackBufs {
    std::vector<float> a, b;
};

// Ap: for each MR-row panel of the block, K x MR (row i, col k at [k*MR + i]); zero-padded rows.
void pack_a(const Gemm & g, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR, float * Ap) {
    for (int64_t ip = 0; ip < mc; ip += MR) {
        int64_t mr = std::min<int64_t>(MR, mc - ip);
        float * dst = Ap + ip * kc;
        const float * src = g.A + (i0 + ip) * g.rsa + k0 * g.csa;
        if (g.csa == 1) {
            for (int64_t i = 0; i < mr; ++i) {
                const float * s = src + i * g.rsa;
                for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = s[k];
            }
        } else {
            for (int64_t k = 0; k < kc; ++k) {
                const float * s = src + k * g.csa;
                for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = s[i * g.rsa];
            }
        }
        if (mr < MR)
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t i = mr; i < MR; ++i) dst[k * MR + i] = 0.0f;
    }
}

// Bp: for each NR-column panel, K x NR (row k, col j at [k*NR + j]); zero-padded columns.
void pack_b(const IsaOps & ops, const Gemm & g, int64_t j0, int64_t nc, int64_t k0, int64_t kc, int NR, float * Bp) {
    for (int64_t jp = 0; jp < nc; jp += NR) {
        int64_t nr = std::min<int64_t>(NR, nc - jp);
        float * dst = Bp + jp * kc;
        const float * src = g.B + k0 * g.rsb + (j0 + jp) * g.csb;
        if (g.csb == 1) {
            for (int64_t k = 0; k < kc; ++k) {
                const float * s = src + k * g.rsb;
                float * d = dst + k * NR;
                std::memcpy(d, s, nr * sizeof(float));
                for (int64_t j = nr; j < NR; ++j) d[j] = 0.0f;
            }
        } else if (g.rsb == 1 && ops.pack_bt) {
            ops.pack_bt(src, g.csb, kc, nr, dst);  // transposed source (B = W^T): 8x8 register transposes
        } else {
            for (int64_t j = 0; j < nr; ++j) {
                const float * s = src + j * g.csb;
                for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = s[k * g.rsb];
            }
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t j = nr; j < NR; ++j) dst[k * NR + j] = 0.0f;
        }
    }
}

void epilogue(const IsaOps & ops, const Gemm & g, int64_t i0, int64_t mr, int64_t j0, int64_t nr) {
    for (int64_t i = i0; i < i0 + mr; ++i) {
        float * c = g.C + i * g.ldc + j0;
        switch (g.epi) {
            case EPI_BIAS: ops.bias_act(c, g.bias ? g.bias + j0 : nullptr, nullptr, nr, 0); break;
            case EPI_BIAS_GELU:
                ops.bias_act(c, g.bias ? g.bias + j0 : nullptr, g.pre ? g.pre + i * g.ldc + j0 : nullptr, nr, 1);
                break;
            case EPI_GELU_GRAD: ops.gelu_grad_mul(c, g.pre_in + i * g.ldc + j0, nr); break;
            default: break;
        }
    }
}

// the loop nest over C[m0:m1, n0:n1]
void gemm_range(const IsaOps & ops, const Gemm & g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int MR = ops.MR, NR = ops.NR;
    const int64_t MC = MR * 16;
    thread_local PackBufs bufs;
    const size_t need_a = static_cast<size_t>(MC * KC), need_b = static_cast<size_t>(NC * KC);
    if (bufs.a.size() < need_a) bufs.a.resize(need_a);
    if (bufs.b.size() < need_b) bufs.b.resize(need_b);
    float * Ap = bufs.a.data();
    float * Bp = bufs.b.data();
    alignas(64) float tile[16 * 64];  // edge tiles (MR <= 16, NR <= 64)

    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = std::min(NC, n1 - jc);
        for (int64_t pc = 0; pc < g.K || pc == 0; pc += KC) {
            const int64_t kc = std::min(KC, g.K - pc);
            const bool last_k = pc + KC >= g.K;
            const int add = (pc > 0 || g.accumulate) ? 1 : 0;
            if (kc > 0) pack_b(ops, g, jc, nc, pc, kc, NR, Bp);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                const int64_t mc = std::min(MC, m1 - ic);
                if (kc > 0) pack_a(g, ic, mc, pc, kc, MR, Ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = std::min<int64_t>(NR, nc - jr);
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t mr = std::min<int64_t>(MR, mc - ir);
                        float * c = g.C + (ic + ir) * g.ldc + jc + jr;
                        if (kc > 0) {
                            if (mr == MR && nr == NR) {
                                ops.micro(kc, Ap + ir * kc, Bp + jr * kc, c, g.ldc, add);
                            } else {
                                ops.micro(kc, Ap + ir * kc, Bp + jr * kc, tile, NR, 0);
                                for (int64_t i = 0; i < mr; ++i)
                                    for (int64_t j = 0; j < nr; ++j)
                                        c[i * g.ldc + j] = (add ? c[i * g.ldc + j] : 0.0f) + tile[i * NR + j];
                            }
                        } else if (!add) {
                            for (int64_t i = 0; i < mr; ++i)
                                for (int64_t j = 0; j < nr; ++j) c[i * g.ldc + j] = 0.0f;
                        }
                        if (last_k && g.epi != EPI_NONE) epilogue(ops, g, ic + ir, mr, jc + jr, nr);
                    }
                }
            }
            if (kc <= 0) break;
        }
    }
}

}  // namespace

void cpu_gemm(const IsaOps & ops, const Gemm & g, int n_threads) {
    if (g.M <= 0 || g.N <= 0) return;
    const bool split_n = g.N >= g.M;
    const int64_t len = split_n ? g.N : g.M;
    const int64_t unit = split_n ? ops.NR : ops.MR;
    const int64_t tiles = (len + unit - 1) / unit;
    int nt = static_cast<int>(std::min<int64_t>(std::max(1, n_threads), tiles));
    if (nt <= 1) {
        gemm_range(ops, g, 0, g.M, 0, g.N);
        return;
    }
    parallel(nt, [&](int t) {
        const int64_t a = tiles * t / nt * unit, b = std::min(len, tiles * (t + 1) / nt * unit);
        if (a < b) {
            if (split_n) gemm_range(ops, g, 0, g.M, a, b);
            else gemm_range(ops, g, a, b, 0, g.N);
        }
    });
}

void cpu_colsum(const float * X, int64_t rows, int64_t cols, int64_t ld, float * out, int accumulate, int n_threads) {
    const int64_t chunk = 256;
    const int64_t nchunks = (cols + chunk - 1) / chunk;
    parallel_for(n_threads, nchunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
        const int64_t j0 = c * chunk, j1 = std::min(cols, j0 + chunk);
        float acc[chunk];
        for (int64_t j = j0; j < j1; ++j) acc[j - j0] = accumulate ? out[j] : 0.0f;
        for (int64_t i = 0; i < rows; ++i) {
            const float * x = X + i * ld;
#pragma omp simd
            for (int64_t j = j0; j < j1; ++j) acc[j - j0] += x[j];
        }
        for (int64_t j = j0; j < j1; ++j) out[j] = acc[j - j0];
    }
    });
}

}  // namespace dep_k
