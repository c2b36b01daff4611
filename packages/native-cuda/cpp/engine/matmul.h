// The engine's matrix products against a frozen weight: the only place the matmul library is named.
// Two implementations of one interface: oneDNN (matmul_onednn.cpp, F32 and bf16) and plain loops
// (matmul_portable.cpp, F32, for builds without oneDNN). A CUDA backend is a third (cuBLAS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dep::engine {

// An array that is not zeroed when allocated (a weight is written whole right after: zeroing 2 GB first
// would cost a pass over it).
template <typename T>
class UninitArray {
  public:
    void allocate(size_t n) {
        p_.reset(new T[n]);
        n_ = n;
    }
    T * data() { return p_.get(); }
    const T * data() const { return p_.get(); }
    size_t size() const { return n_; }

  private:
    std::unique_ptr<T[]> p_;
    size_t n_ = 0;
};

// A frozen weight W [n_out, n_in], row-major as the GGUF stores it (n_in contiguous), in the engine's dtype:
// exactly one of f32 / bf16 is filled.
struct Weight {
    int64_t n_out = 0, n_in = 0;
    UninitArray<float> f32;
    UninitArray<uint16_t> bf16;
    size_t bytes() const { return f32.size() * sizeof(float) + bf16.size() * sizeof(uint16_t); }
};

// Writes rows [row0, row0 + n_rows) of a weight as F32 into dst; false with err set on failure.
using WeightRows = std::function<bool(int64_t row0, int64_t n_rows, float * dst, std::string & err)>;

class Matmul {
  public:
    // bf16: weights are stored as bf16 and the activations are rounded to bf16 at each product (F32
    // accumulation). Returns nullptr with a message when this build or CPU cannot.
    static std::unique_ptr<Matmul> create(bool bf16, int n_threads, std::string & err);
    virtual ~Matmul() = default;

    bool bf16() const { return bf16_; }
    // Stores src (n_out * n_in floats, row-major) as a weight in this matmul's dtype.
    Weight make_weight(const float * src, int64_t n_out, int64_t n_in) const;
    // The same from a source of rows (a GGUF tensor being dequantized), read in blocks of rows across the
    // threads and stored as they come: no whole-tensor F32 copy. false with err set when a read fails.
    bool load_weight(int64_t n_out, int64_t n_in, const WeightRows & rows, Weight & w, std::string & err) const;

    // Y[M, n_out] = X[M, n_in] W^T (accumulate: Y +=).
    void forward(const float * X, int64_t M, const Weight & W, float * Y, bool accumulate);
    // dX[M, n_in] = dY[M, n_out] W (accumulate: dX +=): the backward of forward() to its input.
    void backward(const float * dY, int64_t M, const Weight & W, float * dX, bool accumulate);
    // F32 product of activations (attention): C[M, N] = alpha * op(A)[M, K] op(B)[K, N] (accumulate: C +=).
    // Row-major with leading dimensions; ta: A is stored [K, M] (lda its row stride), tb likewise for B.
    void gemm(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, bool ta, const float * B, int64_t ldb,
              bool tb, float * C, int64_t ldc, float alpha, bool accumulate);
    // The same on bf16 operands (F32 accumulation and output): attention in bf16 mode.
    void gemm(int64_t M, int64_t N, int64_t K, const uint16_t * A, int64_t lda, bool ta, const uint16_t * B,
              int64_t ldb, bool tb, float * C, int64_t ldc, float alpha, bool accumulate);
    // wall milliseconds spent in forward/backward/gemm since the last reset
    double elapsed_ms = 0;
    // the library primitives held for the shapes seen (bounded: shapes follow the sequence length)
    virtual size_t primitives() const { return 0; }

  protected:
    virtual void forward_impl(const float * X, int64_t M, const Weight & W, float * Y, bool accumulate) = 0;
    virtual void backward_impl(const float * dY, int64_t M, const Weight & W, float * dX, bool accumulate) = 0;
    // A and B are float, or bf16 (uint16_t) when bf16 is set
    virtual void gemm_impl(bool bf16, int64_t M, int64_t N, int64_t K, const void * A, int64_t lda, bool ta,
                           const void * B, int64_t ldb, bool tb, float * C, int64_t ldc, float alpha,
                           bool accumulate) = 0;
    explicit Matmul(bool bf16, int n_threads) : bf16_(bf16), n_threads_(n_threads) {}
    bool bf16_;
    int n_threads_;
};

// "onednn 2.6.3 (avx512_core_bf16)" or "portable (built without oneDNN)".
const char * matmul_name();
bool matmul_supports_bf16();
// bf16 computed by the CPU itself (AVX512_BF16 or AMX), not emulated.
bool matmul_has_bf16_units();

// Round-to-nearest-even F32 -> bf16 (NaN kept quiet), and back.
// Branch-free so that loops over it vectorize.
inline uint16_t to_bf16(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u >> 16) | 0x40u;
    const uint32_t nan = 0u - static_cast<uint32_t>((u & 0x7fffffffu) > 0x7f800000u);  // all ones for a NaN
    return static_cast<uint16_t>(rounded ^ ((rounded ^ quiet) & nan));
}
inline float from_bf16(uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
// dst = bf16(src * scale), in the calling thread (AVX512_BF16's conversion where the CPU has it).
void to_bf16_span(const float * src, uint16_t * dst, int64_t n, float scale = 1.0f);
// The same over n_threads threads (scale 1).
void to_bf16_rows(const float * src, uint16_t * dst, int64_t n, int n_threads);

}  // namespace dep::engine
