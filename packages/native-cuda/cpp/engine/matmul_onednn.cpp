// Matmul on oneDNN: one primitive per (shape, direction, accumulate), created on first use and kept (the
// backward's without M where that is faster, below). The
// weight is read in place in both directions (forward: W^T as a strided "ba" view; backward: W as "ab"),
// so one copy serves both; oneDNN's brgemm kernels pack the panels they need per call.
#include <dnnl.hpp>
#include <map>
#include <tuple>

#include "matmul.h"

namespace dep::engine {

namespace {

using dt = dnnl::memory::data_type;

const char * isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        default: return "other";
    }
}

class OneDnnMatmul final : public Matmul {
  public:
    OneDnnMatmul(bool bf16, int n_threads)
        : Matmul(bf16, n_threads), eng_(dnnl::engine::kind::cpu, 0), stream_(eng_),
          runtime_m_backward_(dnnl::get_effective_cpu_isa() != dnnl::cpu_isa::avx512_core_amx) {}

    void forward_impl(const float * X, int64_t M, const Weight & W, float * Y, bool accumulate) override {
        run(X, M, W.n_in, W.n_out, W, /*transposed=*/true, Y, accumulate);
    }
    void backward_impl(const float * dY, int64_t M, const Weight & W, float * dX, bool accumulate) override {
        run(dY, M, W.n_out, W.n_in, W, /*transposed=*/false, dX, accumulate);
    }

    void gemm_impl(bool bf16, int64_t M, int64_t N, int64_t K, const void * A, int64_t lda, bool ta, const void * B,
                   int64_t ldb, bool tb, float * C, int64_t ldc, float alpha, bool accumulate) override {
        uint32_t alpha_bits;
        __builtin_memcpy(&alpha_bits, &alpha, 4);
        const GemmKey key{M, N, K, lda, ldb, ldc, ta, tb, accumulate, alpha_bits, bf16};
        auto it = gemms_.find(key);
        if (it == gemms_.end()) {
            bound(gemms_);
            using dims = dnnl::memory::dims;
            const dt in = bf16 ? dt::bf16 : dt::f32;
            dnnl::memory::desc a_md(dims{M, K}, in, ta ? dims{1, lda} : dims{lda, 1});
            dnnl::memory::desc b_md(dims{K, N}, in, tb ? dims{1, ldb} : dims{ldb, 1});
            dnnl::memory::desc c_md(dims{M, N}, dt::f32, dims{ldc, 1});
            it = gemms_.emplace(key, make_entry(a_md, b_md, c_md, alpha, accumulate)).first;
        }
        execute(it->second, const_cast<void *>(A), const_cast<void *>(B), C);
    }

    size_t primitives() const override { return cache_.size() + gemms_.size(); }

  private:
    using GemmKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool, bool, uint32_t, bool>;

    // C[M, N] (+)= A[M, K] B[K, N], B read from W: transposed -> B = W^T (W is [N, K]), else B = W ([K, N]).
    void run(const float * A, int64_t M, int64_t K, int64_t N, const Weight & W, bool transposed, float * C,
             bool accumulate) {
        if (M == 0) return;
        const bool runtime_m = !transposed && runtime_m_backward_;
        const auto key = std::make_tuple(runtime_m ? -1 : M, K, N, transposed, accumulate);
        auto it = cache_.find(key);
        if (it == cache_.end()) {
            bound(cache_);
            const dnnl::memory::dim m = runtime_m ? DNNL_RUNTIME_DIM_VAL : M;
            const dt in = bf16_ ? dt::bf16 : dt::f32;
            dnnl::memory::desc a_md({m, K}, in, {K, 1});
            dnnl::memory::desc b_md({K, N}, in, transposed ? dnnl::memory::format_tag::ba : dnnl::memory::format_tag::ab);
            dnnl::memory::desc c_md({m, N}, dt::f32, {N, 1});
            it = cache_.emplace(key, make_entry(a_md, b_md, c_md, 1.0f, accumulate)).first;
        }
        Entry e = it->second;
        if (runtime_m) {
            e.a = dnnl::memory::desc({M, K}, bf16_ ? dt::bf16 : dt::f32, {K, 1});
            e.c = dnnl::memory::desc({M, N}, dt::f32, {N, 1});
        }
        void * a_ptr = const_cast<float *>(A);
        if (bf16_) {
            a_bf16_.resize(static_cast<size_t>(M * K));
            to_bf16_rows(A, a_bf16_.data(), M * K, n_threads_);
            a_ptr = a_bf16_.data();
        }
        void * b_ptr = bf16_ ? static_cast<void *>(const_cast<uint16_t *>(W.bf16.data()))
                             : static_cast<void *>(const_cast<float *>(W.f32.data()));
        execute(e, a_ptr, b_ptr, C);
    }

    struct Entry {
        dnnl::matmul prim;
        dnnl::memory::desc a, b, c;
    };

    // C = alpha * A B (+ C when accumulate)
    Entry make_entry(const dnnl::memory::desc & a, const dnnl::memory::desc & b, const dnnl::memory::desc & c,
                     float alpha, bool accumulate) {
        dnnl::primitive_attr attr;
        if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
        if (accumulate) {
            dnnl::post_ops po;
            po.append_sum(1.0f);
            attr.set_post_ops(po);
        }
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, eng_);
        return Entry{dnnl::matmul(pd), a, b, c};
    }

    // Shapes follow the sequence length, so a training run over many lengths would keep adding primitives
    // (each holds its generated code); past kMaxPrimitives a cache starts again (creating one takes ~1 ms).
    static constexpr size_t kMaxPrimitives = 512;
    template <typename Map>
    static void bound(Map & m) {
        if (m.size() >= kMaxPrimitives) m.clear();
    }

    void execute(Entry & e, void * A, void * B, float * C) {
        dnnl::memory a(e.a, eng_, A), b(e.b, eng_, B), c(e.c, eng_, C);
        e.prim.execute(stream_, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
        stream_.wait();
    }
    dnnl::engine eng_;
    dnnl::stream stream_;
    std::map<std::tuple<int64_t, int64_t, int64_t, bool, bool>, Entry> cache_;
    std::map<GemmKey, Entry> gemms_;
    std::vector<uint16_t> a_bf16_;
    // The backward products (W read as [n_out, n_in]) with M known only at run time: oneDNN then runs its
    // gemm kernels, which beat its brgemm ones in that direction without AMX (bf16, 2-core EPYC, TinyLlama
    // at 384 positions: the FFN's three 10-13% faster), and one primitive serves every sequence length.
    // With AMX, brgemm is the one that uses the tiles.
    bool runtime_m_backward_;
};

}  // namespace

bool matmul_supports_bf16() {
    // oneDNN 2.6 runs bf16 matmuls on AVX-512 (emulated below AVX512_BF16) and AMX, not on AVX2
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
           isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

bool matmul_has_bf16_units() {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

const char * matmul_name() {
    static const std::string name = [] {
        const dnnl_version_t * v = dnnl_version();
        return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
               " (" + isa_name(dnnl::get_effective_cpu_isa()) + ")";
    }();
    return name.c_str();
}

std::unique_ptr<Matmul> Matmul::create(bool bf16, int n_threads, std::string & err) {
    if (bf16 && !matmul_supports_bf16()) {
        err = std::string("bf16 matmuls need a CPU with AVX-512 (oneDNN here: ") + matmul_name() + "); use dtype f32";
        return nullptr;
    }
    try {
        return std::unique_ptr<Matmul>(new OneDnnMatmul(bf16, n_threads));
    } catch (const dnnl::error & e) {
        err = std::string("oneDNN: ") + e.what();
        return nullptr;
    }
}

}  // namespace dep::engine
