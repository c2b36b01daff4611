// CUDA kernels vs the scalar reference, through the public API (backend cuda): F32 GEMM path to 1e-5,
// BF16 tensor-core path (DEP_CUDA_GEMM=bf16 / set_gemm_bf16) to 2e-2. Exits 77 (ctest: skipped) with the
// reason printed when the build has no CUDA kernels or the machine has no device.
#include <cmath>
#include <cstdio>
#include <vector>

#include "check.h"
#include "dep/kernels.h"
#include "kernel_util.h"
#ifdef DEP_WITH_CUDA
#include "cuda/cuda_device.h"
#endif

using namespace dep_test;

#ifdef DEP_WITH_CUDA
static const dep_kernel_opts REF{DEP_KBACKEND_REFERENCE, 1};
static const dep_kernel_opts GPU{DEP_KBACKEND_CUDA, 1};

static void check_err(const char * what, const std::vector<float> & a, const std::vector<float> & b, double tol) {
    const double e = rel_err(a, b);
    CHECK_MSG(e <= tol, "%s: rel err %.3g > %.3g", what, e, tol);
    std::printf("  %-28s rel err %.3g\n", what, e);
}

static void run_all(double tol) {
    Rng rng(21);
    // user means + diff embed, every dtype and weighting; d odd, T = 1 included
    for (int32_t d : {37, 1024})
        for (int32_t T : {1, 50}) {
            const int64_t n_rows = 300;
            const int32_t n_users = 7;
            auto emb = randv(rng, n_rows * d);
            std::vector<int64_t> off = {0, 10, 50, 90, 150, 200, 260, 300};
            std::vector<float> mr(n_users * d), mg(mr.size());
            CHECK(dep_user_means(&REF, emb.data(), DEP_DTYPE_F32, n_rows, d, off.data(), n_users, mr.data()) == DEP_KOK);
            CHECK(dep_user_means(&GPU, emb.data(), DEP_DTYPE_F32, n_rows, d, off.data(), n_users, mg.data()) == DEP_KOK);
            check_err("user_means", mg, mr, 1e-5);
            std::vector<int64_t> self(T), poff(T + 1, 0), prow;
            std::vector<int32_t> su(T), pu;
            for (int32_t t = 0; t < T; ++t) {
                self[t] = rng.below(n_rows);
                su[t] = static_cast<int32_t>(rng.below(n_users));
                const int64_t np = 1 + rng.below(70);
                for (int64_t r = 0; r < np; ++r) prow.push_back(rng.below(n_rows)), pu.push_back(static_cast<int32_t>(rng.below(n_users)));
                poff[t + 1] = static_cast<int64_t>(prow.size());
            }
            for (int wm = 0; wm < 3; ++wm) {
                std::vector<float> a(T * d), b(T * d);
                dep_diff_embed(&REF, emb.data(), DEP_DTYPE_F32, n_rows, d, mr.data(), n_users, T, self.data(), su.data(),
                               poff.data(), prow.data(), pu.data(), static_cast<dep_diff_weighting>(wm), a.data(), nullptr);
                CHECK(dep_diff_embed(&GPU, emb.data(), DEP_DTYPE_F32, n_rows, d, mr.data(), n_users, T, self.data(),
                                     su.data(), poff.data(), prow.data(), pu.data(), static_cast<dep_diff_weighting>(wm),
                                     b.data(), nullptr) == DEP_KOK);
                check_err("diff_embed", b, a, 1e-5);
            }
        }
    // SAE forward + backward, k = 1..8
    for (auto sh : {std::vector<int32_t>{3, 37, 19}, std::vector<int32_t>{16, 1024, 512}}) {
        const int32_t B = sh[0], d = sh[1], h = sh[2];
        const size_t M = static_cast<size_t>(B) * 16;
        dep_sae_params p = dep_sae_default_params(d, h);
        auto W1 = randv(rng, d * h, 1.0f / std::sqrt(d)), b1 = randv(rng, h, 0.1f), W2 = randv(rng, h * d, 1.0f / std::sqrt(h)),
             b2 = randv(rng, d, 0.1f), X = randv(rng, M * d), up = randv(rng, M * h, 0.01f);
        for (auto & v : b1) v += 0.5f;  // rho_hat away from 0 (see test_kernels.cpp on conditioning)
        std::vector<int32_t> k(B);
        for (int32_t b = 0; b < B; ++b) k[b] = 1 + b % 8;
        dep_sae_weights w{W1.data(), b1.data(), W2.data(), b2.data()};
        std::vector<float> out[2][7];
        for (int be = 0; be < 2; ++be) {
            const dep_kernel_opts & o = be ? GPU : REF;
            std::vector<float> ws(dep_sae_workspace_floats(B, d, h)), z(M * h), terms(2 * B), gW1(d * h), gb1(h),
                gW2(h * d), gb2(d), dX(M * d);
            float loss = 0;
            CHECK(dep_sae_forward(&o, &p, &w, B, X.data(), k.data(), z.data(), nullptr, &loss, terms.data(), ws.data()) == DEP_KOK);
            dep_sae_grads g{gW1.data(), gb1.data(), gW2.data(), gb2.data()};
            CHECK(dep_sae_backward(&o, &p, &w, B, X.data(), k.data(), z.data(), up.data(), ws.data(), &g, dX.data(), 0) == DEP_KOK);
            out[be][0] = z, out[be][1] = terms, out[be][2] = gW1, out[be][3] = gb1, out[be][4] = gW2, out[be][5] = gb2,
            out[be][6] = dX;
        }
        const char * names[] = {"sae z", "sae terms", "sae dW1", "sae db1", "sae dW2", "sae db2", "sae dX"};
        for (int i = 0; i < 7; ++i) check_err(names[i], out[1][i], out[0][i], tol);
    }
    // projector
    for (auto sh : {std::vector<int32_t>{5, 19, 45}, std::vector<int32_t>{128, 512, 1024}}) {
        const int32_t N = sh[0], h = sh[1], H = sh[2];
        auto A1 = randv(rng, h * H, 1.0f / std::sqrt(h)), c1 = randv(rng, H, 0.1f), A2 = randv(rng, static_cast<size_t>(H) * H, 1.0f / std::sqrt(H)),
             c2 = randv(rng, H, 0.1f), x = randv(rng, N * h), dy = randv(rng, N * H);
        dep_proj_weights w{A1.data(), c1.data(), A2.data(), c2.data()};
        std::vector<float> out[2][6];
        for (int be = 0; be < 2; ++be) {
            const dep_kernel_opts & o = be ? GPU : REF;
            std::vector<float> ws(dep_proj_workspace_floats(N, h, H)), y(N * H), gA1(h * H), gc1(H), gA2(static_cast<size_t>(H) * H), gc2(H), dx(N * h);
            CHECK(dep_proj_forward(&o, h, H, N, x.data(), &w, y.data(), ws.data()) == DEP_KOK);
            dep_proj_grads g{gA1.data(), gc1.data(), gA2.data(), gc2.data()};
            CHECK(dep_proj_backward(&o, h, H, N, x.data(), &w, dy.data(), ws.data(), &g, dx.data(), 0) == DEP_KOK);
            out[be][0] = y, out[be][1] = gA1, out[be][2] = gc1, out[be][3] = gA2, out[be][4] = gc2, out[be][5] = dx;
        }
        const char * names[] = {"proj y", "proj dA1", "proj dc1", "proj dA2", "proj dc2", "proj dx"};
        for (int i = 0; i < 6; ++i) check_err(names[i], out[1][i], out[0][i], tol);
    }
    // AdamW
    {
        const int64_t n = 10007;
        auto p0 = randv(rng, n), g = randv(rng, n);
        std::vector<float> pa = p0, pb = p0, ma(n, 0), mb(n, 0), va(n, 0), vb(n, 0);
        dep_adamw_params ap{1e-3f, 0.9f, 0.999f, 1e-8f, 0.025f, 1};
        for (int s = 1; s <= 10; ++s) {
            ap.step = s;
            dep_adamw_step(&REF, &ap, n, pa.data(), g.data(), ma.data(), va.data());
            CHECK(dep_adamw_step(&GPU, &ap, n, pb.data(), g.data(), mb.data(), vb.data()) == DEP_KOK);
        }
        check_err("adamw", pb, pa, 1e-6);
    }
}
#endif

int main() {
#ifndef DEP_WITH_CUDA
    std::printf("SKIP: this build has no CUDA kernels (nvcc was not found at configure time, or DEP_CUDA=OFF)\n");
    return 77;
#else
    if (!dep_kernels_cuda_available()) {
        std::printf("SKIP: the CUDA kernels are compiled in, but no CUDA device is present\n");
        return 77;
    }
    std::printf("device: %s\nF32 GEMM path (tolerance 1e-5):\n", dep_k::cudadev::device_name());
    dep_k::cudadev::set_gemm_bf16(0);
    run_all(1e-5);
    std::printf("BF16 tensor-core GEMM path (tolerance 2e-2):\n");
    dep_k::cudadev::set_gemm_bf16(1);
    run_all(2e-2);
    dep_k::cudadev::set_gemm_bf16(0);
    TEST_MAIN_RETURN();
#endif
}
