// What both matmul implementations share: weight storage in the engine dtype, bf16 rounding.
#include "matmul.h"

namespace dep::engine {

void to_bf16_rows(const float * src, uint16_t * dst, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

Weight Matmul::make_weight(const float * src, int64_t n_out, int64_t n_in) const {
    Weight w;
    w.n_out = n_out;
    w.n_in = n_in;
    const int64_t n = n_out * n_in;
    if (bf16_) {
        w.bf16.resize(static_cast<size_t>(n));
        to_bf16_rows(src, w.bf16.data(), n, n_threads_);
    } else {
        w.f32.assign(src, src + n);
    }
    return w;
}

}  // namespace dep::engine
