// Matmul without a library (builds where CMake did not find oneDNN): F32 loops, rows split over threads.
// Slow next to oneDNN; dep_grad_engine_matmul_name() says this path ran.
#include "matmul.h"

namespace dep::engine {

namespace {

class PortableMatmul final : public Matmul {
  public:
    explicit PortableMatmul(int n_threads) : Matmul(false, n_threads) {}

    void forward_impl(const float * X, int64_t M, const Weight & W, float * Y, bool accumulate) override {
        const int64_t K = W.n_in, N = W.n_out;
        const float * w = W.f32.data();
#pragma omp parallel for collapse(2) num_threads(n_threads_) schedule(static)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
                const float * x = X + m * K;
                const float * wr = w + n * K;
                float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                for (int64_t k = 0; k < K; ++k) acc += x[k] * wr[k];
                Y[m * N + n] = accumulate ? Y[m * N + n] + acc : acc;
            }
    }

    void backward_impl(const float * dY, int64_t M, const Weight & W, float * dX, bool accumulate) override {
        const int64_t K = W.n_in, N = W.n_out;
        const float * w = W.f32.data();
#pragma omp parallel for num_threads(n_threads_) schedule(static)
        for (int64_t m = 0; m < M; ++m) {
            float * dx = dX + m * K;
            if (!accumulate)
                for (int64_t k = 0; k < K; ++k) dx[k] = 0.0f;
            for (int64_t n = 0; n < N; ++n) {
                const float g = dY[m * N + n];
                const float * wr = w + n * K;
#pragma omp simd
                for (int64_t k = 0; k < K; ++k) dx[k] += g * wr[k];
            }
        }
    }

    void gemm_impl(bool bf16, int64_t M, int64_t N, int64_t K, const void * A, int64_t lda, bool ta, const void * B,
                   int64_t ldb, bool tb, float * C, int64_t ldc, float alpha, bool accumulate) override {
        if (bf16)
            gemm_loops(M, N, K, static_cast<const uint16_t *>(A), lda, ta, static_cast<const uint16_t *>(B), ldb, tb, C,
                       ldc, alpha, accumulate);
        else
            gemm_loops(M, N, K, static_cast<const float *>(A), lda, ta, static_cast<const float *>(B), ldb, tb, C, ldc,
                       alpha, accumulate);
    }

  private:
    static float value(float x) { return x; }
    static float value(uint16_t x) { return from_bf16(x); }

    template <typename E>
    void gemm_loops(int64_t M, int64_t N, int64_t K, const E * A, int64_t lda, bool ta, const E * B, int64_t ldb,
                    bool tb, float * C, int64_t ldc, float alpha, bool accumulate) {
#pragma omp parallel for num_threads(n_threads_) schedule(static)
        for (int64_t m = 0; m < M; ++m) {
            float * c = C + m * ldc;
            if (!accumulate)
                for (int64_t n = 0; n < N; ++n) c[n] = 0.0f;
            for (int64_t k = 0; k < K; ++k) {
                const float a = alpha * value(ta ? A[k * lda + m] : A[m * lda + k]);
                if (!tb) {
                    const E * b = B + k * ldb;
#pragma omp simd
                    for (int64_t n = 0; n < N; ++n) c[n] += a * value(b[n]);
                } else {
                    for (int64_t n = 0; n < N; ++n) c[n] += a * value(B[n * ldb + k]);
                }
            }
        }
    }
};

}  // namespace

bool matmul_supports_bf16() { return false; }
bool matmul_has_bf16_units() { return false; }
const char * matmul_name() { return "portable (built without oneDNN)"; }

std::unique_ptr<Matmul> Matmul::create(bool bf16, int n_threads, std::string & err) {
    if (bf16) {
        err = "bf16 needs oneDNN, and this build has none (install libdnnl-dev and rebuild); use dtype f32";
        return nullptr;
    }
    return std::unique_ptr<Matmul>(new PortableMatmul(n_threads));
}

}  // namespace dep::engine
