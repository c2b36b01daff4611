// dep_grad_engine: load (GGUF -> weights in the engine dtype), the forward pass over every position, and
// the backward pass to the soft rows over positions from the first soft row on. Each layer's forward and
// backward are named functions (layer_forward / layer_backward) over the pieces in layers.h, with the
// matrix products on matmul.h.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "dep/grad_engine.h"
#include "ggml.h"
#include "llm/ggml_grad/gguf_weights.h"
#include "llm/ggml_grad/grad_model.h"
#include "layers.h"
#include "matmul.h"

using dep::engine::Matmul;
using dep::engine::Weight;

namespace {

struct LayerWeights {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv, bo;
    Weight wq, wk, wv, wo, w_gate, w_up, w_down;
};

// One layer's forward activations: what its backward reads (the normalised inputs of the projections are
// not among them: with no weight gradients nothing reads them again). The attention half covers all T
// positions; the FFN half (g, u, rstd2) all T when the layer is kept, one block of rows when it is
// recomputed (the FFN is row-local: the backward recomputes it block by block).
struct Acts {
    std::vector<float> q, k, v, att, xmid, rstd1, lse;
    std::vector<float> g, u, rstd2;
    size_t bytes() const {
        size_t n = 0;
        for (const auto * b : {&q, &k, &v, &att, &xmid, &rstd1, &lse, &g, &u, &rstd2}) n += b->size();
        return n * sizeof(float);
    }
};

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
void fit(std::vector<T> & v, size_t n) {
    if (v.size() != n) v.assign(n, T{});
}

}  // namespace

struct dep_grad_engine {
    dep_grad_engine_params params{};
    dep::grad::Hparams hp;
    std::unique_ptr<dep::grad::GgufWeights> file;  // token rows are read from it per call
    const ggml_tensor * tok_embd = nullptr;
    std::vector<float> out_norm, rope_freqs;
    Weight output;
    std::vector<LayerWeights> layers;
    std::unique_ptr<Matmul> mm;
    dep::engine::Rope rope;
    std::atomic<bool> abort{false};
    double load_ms = 0;
    size_t weight_bytes = 0;
    double attention_ms = 0;  // this call's, so far

    // per-call buffers, kept between calls (same shapes reuse them)
    std::vector<float> X;        // [n_layer + 1][T][D]: every layer's input, and the last layer's output
    std::vector<Acts> kept;      // the layers whose activations are kept, from layer 0 on
    Acts work;                   // the others', one layer at a time
    std::vector<float> xn, hb, dub, dxn, datt, dq, dk, dv, dmid, dout, xf, rstdf, logits, dxf;
    dep::engine::AttentionScratch attn;

    int nt() const { return params.n_threads; }
    int64_t nq() const { return static_cast<int64_t>(hp.head_dim) * hp.n_head; }
    int64_t nkv() const { return static_cast<int64_t>(hp.head_dim) * hp.n_head_kv; }
    int64_t block_rows(int64_t T) const { return std::min<int64_t>(T, params.ffn_block_rows); }

    // How many layers keep their activations (the rest are recomputed), and the bytes the call will hold.
    struct Plan {
        int32_t n_kept;
        size_t bytes;
    };
    Plan plan(int64_t T, int64_t M, int32_t n_targets) const;

    bool load(const std::string & path, std::string & err);
    void attention_half_forward(const LayerWeights & L, const float * x, int64_t T, Acts & a);
    void ffn_block_forward(const LayerWeights & L, const float * xmid, int64_t n, float * g, float * u, float * rstd2);
    void layer_forward(const LayerWeights & L, const float * x, int64_t T, Acts & a, bool keep, float * out);
    void layer_backward(const LayerWeights & L, Acts & a, bool kept_ffn, const float * x, int64_t T, int64_t p0,
                        float * d);
    size_t held_bytes() const;
    int loss_and_grad(const dep_segment * segments, int32_t n_segments, const int32_t * targets, int32_t n_targets,
                      float * loss, float * const * grads, dep_grad_engine_stats & st, std::string & err);
};

// ---- load ------------------------------------------------------------------------------------------------

bool dep_grad_engine::load(const std::string & path, std::string & err) {
    file = dep::grad::GgufWeights::open(path, err);
    if (!file) return false;
    if (!dep::grad::read_hparams(*file, hp, err)) return false;
    std::string why;
    mm = Matmul::create(params.dtype == DEP_GRAD_ENGINE_BF16, nt(), why);
    if (!mm) {
        err = path + ": " + why;
        return false;
    }
    const dep::grad::GgufWeights & w = *file;
    std::vector<float> tmp;
    // a tensor of the expected shape (want < 0: any size in that dimension)
    auto find = [&](const std::string & name, const std::vector<int64_t> & want, bool required) -> const ggml_tensor * {
        const ggml_tensor * t = w.find(name);
        if (!t) {
            if (required) err = path + ": tensor " + name + " is missing";
            return nullptr;
        }
        for (size_t d = 0; d < 4; ++d) {
            const int64_t n = d < want.size() ? want[d] : 1;
            if (n >= 0 && t->ne[d] != n) {
                err = path + ": tensor " + name + " has an unexpected shape";
                return nullptr;
            }
        }
        return t;
    };
    // the same, dequantized into tmp
    auto read = [&](const std::string & name, const std::vector<int64_t> & want, bool required) -> const ggml_tensor * {
        const ggml_tensor * t = find(name, want, required);
        if (!t) return nullptr;
        tmp.resize(static_cast<size_t>(ggml_nelements(t)));
        if (!w.rows_to_f32(t, 0, ggml_nrows(t), tmp.data(), nt(), err)) {
            err = path + ": " + name + ": " + err;
            return nullptr;
        }
        return t;
    };
    auto vec = [&](const std::string & name, int64_t n, bool required, std::vector<float> & out) {
        if (!read(name, {n}, required)) return !required && err.empty();
        out = tmp;
        weight_bytes += out.size() * sizeof(float);
        return true;
    };
    // a matrix, dequantized block by block straight into the engine's dtype
    auto mat = [&](const std::string & name, int64_t n_in, int64_t n_out, Weight & out) {
        const ggml_tensor * t = find(name, {n_in, n_out}, true);
        if (!t) return false;
        const auto rows = [&](int64_t row0, int64_t n_rows, float * dst, std::string & why) {
            return w.rows_to_f32(t, row0, n_rows, dst, 1, why);
        };
        if (!mm->load_weight(n_out, n_in, rows, out, err)) {
            err = path + ": " + name + ": " + err;
            return false;
        }
        weight_bytes += out.bytes();
        return true;
    };
    const int64_t D = hp.n_embd;
    tok_embd = w.find("token_embd.weight");
    if (!tok_embd || tok_embd->ne[0] != D || ggml_n_dims(tok_embd) != 2) {
        err = path + ": tensor token_embd.weight is missing or not [n_embd, n_vocab]";
        return false;
    }
    hp.n_vocab = static_cast<int32_t>(tok_embd->ne[1]);
    hp.tied_output = w.find("output.weight") == nullptr;
    if (!vec("output_norm.weight", D, true, out_norm)) return false;
    if (!mat(hp.tied_output ? "token_embd.weight" : "output.weight", D, hp.n_vocab, output)) return false;
    if (!vec("rope_freqs.weight", hp.n_rot / 2, false, rope_freqs)) return false;
    const ggml_tensor * gate0 = w.find("blk.0.ffn_gate.weight");
    if (!gate0) {
        err = path + ": tensor blk.0.ffn_gate.weight is missing";
        return false;
    }
    hp.n_ff = static_cast<int32_t>(gate0->ne[1]);
    layers.resize(static_cast<size_t>(hp.n_layer));
    for (int32_t il = 0; il < hp.n_layer; ++il) {
        if (abort.load()) {
            err = "aborted";
            return false;
        }
        LayerWeights & L = layers[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        if (w.find(p + "attn_qkv.weight") || w.find(p + "ffn_gate.bias") || w.find(p + "ffn_up.bias") ||
            w.find(p + "ffn_down.bias")) {
            err = path + ": fused attn_qkv tensors and FFN biases are not supported by the native engine";
            return false;
        }
        if (!vec(p + "attn_norm.weight", D, true, L.attn_norm) || !vec(p + "ffn_norm.weight", D, true, L.ffn_norm) ||
            !vec(p + "attn_q.bias", nq(), false, L.bq) || !vec(p + "attn_k.bias", nkv(), false, L.bk) ||
            !vec(p + "attn_v.bias", nkv(), false, L.bv) || !vec(p + "attn_output.bias", D, false, L.bo) ||
            !mat(p + "attn_q.weight", D, nq(), L.wq) || !mat(p + "attn_k.weight", D, nkv(), L.wk) ||
            !mat(p + "attn_v.weight", D, nkv(), L.wv) || !mat(p + "attn_output.weight", nq(), D, L.wo) ||
            !mat(p + "ffn_gate.weight", D, hp.n_ff, L.w_gate) || !mat(p + "ffn_up.weight", D, hp.n_ff, L.w_up) ||
            !mat(p + "ffn_down.weight", hp.n_ff, D, L.w_down))
            return false;
    }
    rope.n_rot = hp.n_rot;
    rope.head_dim = hp.head_dim;
    rope.neox = hp.rope_mode == GGML_ROPE_TYPE_NEOX;
    // every weight is copied out; only token rows are read from the file from now on
    file->release_pages();
    return true;
}

// ---- one layer -------------------------------------------------------------------------------------------

// xmid = x + W_o attn(rope(W_q xn1 + bq), rope(W_k xn1 + bk), W_v xn1 + bv), xn1 = rmsnorm(x): all T rows.
void dep_grad_engine::attention_half_forward(const LayerWeights & L, const float * x, int64_t T, Acts & a) {
    const int64_t D = hp.n_embd;
    fit(a.q, T * nq()), fit(a.k, T * nkv()), fit(a.v, T * nkv()), fit(a.att, T * nq());
    fit(a.xmid, T * D), fit(a.rstd1, T), fit(a.lse, T * hp.n_head), fit(xn, T * D);
    using namespace dep::engine;
    rmsnorm_forward(x, L.attn_norm.data(), xn.data(), a.rstd1.data(), T, D, hp.eps, nt());
    mm->forward(xn.data(), T, L.wq, a.q.data(), false);
    mm->forward(xn.data(), T, L.wk, a.k.data(), false);
    mm->forward(xn.data(), T, L.wv, a.v.data(), false);
    if (!L.bq.empty()) add_bias(a.q.data(), L.bq.data(), T, nq(), nt());
    if (!L.bk.empty()) add_bias(a.k.data(), L.bk.data(), T, nkv(), nt());
    if (!L.bv.empty()) add_bias(a.v.data(), L.bv.data(), T, nkv(), nt());
    rope_forward(rope, a.q.data(), T, 0, hp.n_head, nt());
    rope_forward(rope, a.k.data(), T, 0, hp.n_head_kv, nt());
    const AttentionShape s{T, hp.n_head, hp.n_head_kv, hp.head_dim, 1.0f / std::sqrt(static_cast<float>(hp.head_dim))};
    auto t0 = std::chrono::steady_clock::now();
    attention_forward(*mm, s, a.q.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(), attn, nt());
    attention_ms += ms_since(t0);
    std::memcpy(a.xmid.data(), x, sizeof(float) * static_cast<size_t>(T * D));
    mm->forward(a.att.data(), T, L.wo, a.xmid.data(), true);
    if (!L.bo.empty()) add_bias(a.xmid.data(), L.bo.data(), T, D, nt());
}

// g = W_gate xn2, u = W_up xn2, xn2 = rmsnorm(xmid), over n rows (one FFN block).
void dep_grad_engine::ffn_block_forward(const LayerWeights & L, const float * xmid, int64_t n, float * g, float * u,
                                        float * rstd2) {
    dep::engine::rmsnorm_forward(xmid, L.ffn_norm.data(), xn.data(), rstd2, n, hp.n_embd, hp.eps, nt());
    mm->forward(xn.data(), n, L.w_gate, g, false);
    mm->forward(xn.data(), n, L.w_up, u, false);
}

// The layer's output out = xmid + W_down (silu(g) * u), the FFN in blocks of rows. keep: the FFN's
// activations over all rows stay in a (for the backward), else only the last block's (the backward
// recomputes them).
void dep_grad_engine::layer_forward(const LayerWeights & L, const float * x, int64_t T, Acts & a, bool keep,
                                    float * out) {
    const int64_t D = hp.n_embd, F = hp.n_ff, B = block_rows(T), rows = keep ? T : B;
    attention_half_forward(L, x, T, a);
    fit(a.g, rows * F), fit(a.u, rows * F), fit(a.rstd2, rows), fit(hb, B * F);
    for (int64_t r0 = 0; r0 < T; r0 += B) {
        const int64_t n = std::min(B, T - r0), at = keep ? r0 : 0;
        float * g = a.g.data() + at * F;
        float * u = a.u.data() + at * F;
        ffn_block_forward(L, a.xmid.data() + r0 * D, n, g, u, a.rstd2.data() + at);
        dep::engine::swiglu_forward(g, u, hb.data(), n * F, nt());
        std::memcpy(out + r0 * D, a.xmid.data() + r0 * D, sizeof(float) * static_cast<size_t>(n * D));
        mm->forward(hb.data(), n, L.w_down, out + r0 * D, true);
    }
}

// d [T - p0, D]: dL/d(layer output) on entry, dL/d(layer input x) on return, rows from p0 on. a holds the
// attention half over all rows, and the FFN's over all rows when kept_ffn (else each block is recomputed
// here, with the forward's block boundaries, so that it is the same computation to the bit).
void dep_grad_engine::layer_backward(const LayerWeights & L, Acts & a, bool kept_ffn, const float * x, int64_t T,
                                     int64_t p0, float * d) {
    const int64_t D = hp.n_embd, F = hp.n_ff, M = T - p0, B = block_rows(T);
    fit(hb, B * F), fit(dub, B * F), fit(dxn, M * D), fit(datt, M * nq()), fit(dq, M * nq());
    fit(dk, M * nkv()), fit(dv, M * nkv()), fit(dmid, M * D);
    if (!kept_ffn) fit(a.g, B * F), fit(a.u, B * F), fit(a.rstd2, B);
    using namespace dep::engine;
    // FFN, per block of rows: out = xmid + W_down (silu(g) * u)
    std::memcpy(dmid.data(), d, sizeof(float) * static_cast<size_t>(M * D));
    for (int64_t r0 = p0 / B * B; r0 < T; r0 += B) {
        const int64_t r1 = std::min(T, r0 + B), b0 = std::max(r0, p0), m = r1 - b0;
        int64_t at = b0;  // the block's first row with a gradient, in a's FFN buffers
        if (!kept_ffn) {
            ffn_block_forward(L, a.xmid.data() + r0 * D, r1 - r0, a.g.data(), a.u.data(), a.rstd2.data());
            at = b0 - r0;
        }
        float * db = d + (b0 - p0) * D;
        float * dxb = dxn.data() + (b0 - p0) * D;
        mm->backward(db, m, L.w_down, hb.data(), false);
        swiglu_backward(hb.data(), a.g.data() + at * F, a.u.data() + at * F, hb.data(), dub.data(), m * F, nt());
        mm->backward(hb.data(), m, L.w_gate, dxb, false);
        mm->backward(dub.data(), m, L.w_up, dxb, true);
        rmsnorm_backward_add(dxb, a.xmid.data() + b0 * D, L.ffn_norm.data(), a.rstd2.data() + at,
                             dmid.data() + (b0 - p0) * D, m, D, nt());
    }
    // attention: xmid = x + W_o attn(rope(W_q xn1 + bq), rope(W_k xn1 + bk), W_v xn1 + bv), xn1 = rmsnorm(x)
    mm->backward(dmid.data(), M, L.wo, datt.data(), false);
    const AttentionShape s{T, hp.n_head, hp.n_head_kv, hp.head_dim, 1.0f / std::sqrt(static_cast<float>(hp.head_dim))};
    auto t0 = std::chrono::steady_clock::now();
    attention_backward(*mm, s, p0, datt.data(), a.q.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(),
                       dq.data(), dk.data(), dv.data(), attn, nt());
    attention_ms += ms_since(t0);
    rope_backward(rope, dq.data(), M, p0, hp.n_head, nt());
    rope_backward(rope, dk.data(), M, p0, hp.n_head_kv, nt());
    mm->backward(dq.data(), M, L.wq, dxn.data(), false);
    mm->backward(dk.data(), M, L.wk, dxn.data(), true);
    mm->backward(dv.data(), M, L.wv, dxn.data(), true);
    std::memcpy(d, dmid.data(), sizeof(float) * static_cast<size_t>(M * D));
    rmsnorm_backward_add(dxn.data(), x + p0 * D, L.attn_norm.data(), a.rstd1.data() + p0, d, M, D, nt());
}

// ---- memory ----------------------------------------------------------------------------------------------

dep_grad_engine::Plan dep_grad_engine::plan(int64_t T, int64_t M, int32_t n_targets) const {
    const int64_t D = hp.n_embd, F = hp.n_ff, B = block_rows(T), n_layer = hp.n_layer;
    const int64_t attention_half = T * (2 * nq() + 2 * nkv() + D + 1 + hp.n_head);
    const int64_t kept_layer = attention_half + T * (2 * F + 1), work_layer = attention_half + B * (2 * F + 1);
    int64_t common = (n_layer + 1) * T * D + T * D + B * F                      // X, xn, hb
                     + static_cast<int64_t>(n_targets) * (2 * D + 1 + hp.n_vocab);  // the head
    if (M > 0) {
        const dep::engine::AttentionShape s{T, hp.n_head, hp.n_head_kv, hp.head_dim, 0.0f};
        common += B * F + M * (3 * D + 2 * nq() + 2 * nkv())  // dub, the backward's rows
                  + static_cast<int64_t>(dep::engine::attention_scratch_bytes(s, T - M, mm->bf16()) / sizeof(float));
    }
    const auto bytes = [](int64_t floats) { return static_cast<size_t>(floats) * sizeof(float); };
    const size_t budget = params.activation_budget_bytes;
    const size_t all_kept = bytes(common + n_layer * kept_layer);
    // a forward alone keeps nothing: each layer's activations are dead once its output is written
    if (M == 0) return {0, bytes(common + work_layer)};
    if (params.checkpoint == DEP_GRAD_ENGINE_CHECKPOINT_NEVER ||
        (params.checkpoint == DEP_GRAD_ENGINE_CHECKPOINT_AUTO && all_kept <= budget))
        return {hp.n_layer, all_kept};
    const size_t floor = bytes(common + work_layer);
    int64_t n = 0;
    if (params.checkpoint == DEP_GRAD_ENGINE_CHECKPOINT_AUTO && budget > floor)
        n = std::min<int64_t>(n_layer - 1, static_cast<int64_t>((budget - floor) / bytes(kept_layer)));
    return {static_cast<int32_t>(n), floor + static_cast<size_t>(n) * bytes(kept_layer)};
}

size_t dep_grad_engine::held_bytes() const {
    size_t n = work.bytes() + attn.bytes();
    for (const Acts & a : kept) n += a.bytes();
    for (const auto * b : {&X, &xn, &hb, &dub, &dxn, &datt, &dq, &dk, &dv, &dmid, &dout, &xf, &rstdf, &logits, &dxf})
        n += b->size() * sizeof(float);
    return n;
}

// ---- one step --------------------------------------------------------------------------------------------

int dep_grad_engine::loss_and_grad(const dep_segment * segments, int32_t n_segments, const int32_t * targets,
                                   int32_t n_targets, float * loss, float * const * grads, dep_grad_engine_stats & st,
                                   std::string & err) {
    const int64_t D = hp.n_embd, V = hp.n_vocab;
    if (n_targets <= 0 || !targets) {
        err = "the target is empty: lossAndGrad needs at least one target token";
        return -1;
    }
    // ---- the sequence: segments, then the targets but the last (predicted, never fed) ----
    int64_t n_prompt = 0, p0 = -1;
    for (int32_t i = 0; i < n_segments; ++i) {
        const dep_segment & seg = segments[i];
        if ((seg.tokens == nullptr) == (seg.embd == nullptr) || seg.n < 0) {
            err = "segment " + std::to_string(i) + " must hold either tokens or embeddings";
            return -1;
        }
        for (int32_t j = 0; seg.tokens && j < seg.n; ++j)
            if (seg.tokens[j] < 0 || seg.tokens[j] >= V) {
                err = "segment " + std::to_string(i) + ": token " + std::to_string(seg.tokens[j]) + " at index " +
                      std::to_string(j) + " is outside the vocabulary [0, " + std::to_string(V) + ")";
                return -1;
            }
        if (seg.embd && seg.n > 0 && p0 < 0) p0 = n_prompt;
        n_prompt += seg.n;
    }
    if (n_prompt == 0) {
        err = "the segments are empty: at least one position must precede the targets";
        return -1;
    }
    for (int32_t i = 0; i < n_targets; ++i)
        if (targets[i] < 0 || targets[i] >= V) {
            err = "target tokens: token " + std::to_string(targets[i]) + " at index " + std::to_string(i) +
                  " is outside the vocabulary [0, " + std::to_string(V) + ")";
            return -1;
        }
    const int64_t T = n_prompt + n_targets - 1;
    if (p0 < 0) p0 = T;  // no soft rows: the loss alone
    const int64_t M = T - p0;
    const int64_t r0 = n_prompt - 1;  // the first row whose next-token logits are scored
    st.n_positions = static_cast<int32_t>(T);
    st.n_targets = n_targets;
    st.first_grad_pos = static_cast<int32_t>(p0);
    omp_set_num_threads(nt());  // oneDNN's threads, in this (the calling) thread

    const Plan pl = plan(T, M, n_targets);
    st.n_recomputed = M > 0 ? hp.n_layer - pl.n_kept : 0;
    st.recomputed = st.n_recomputed > 0;
    try {
        fit(X, static_cast<size_t>((hp.n_layer + 1) * T * D));
        kept.resize(static_cast<size_t>(pl.n_kept));
        // ---- layer 0's input: token rows from the file, soft rows from the caller ----
        int64_t pos = 0;
        std::vector<int32_t> ids;
        for (int32_t i = 0; i <= n_segments; ++i) {
            const bool tail = i == n_segments;  // the fed targets
            const int32_t * tok = tail ? targets : segments[i].tokens;
            const int64_t n = tail ? n_targets - 1 : segments[i].n;
            float * dst = X.data() + pos * D;
            if (tok) {
                if (n > 0 && !file->gather_rows_f32(tok_embd, tok, n, dst, err)) return -1;
            } else {
                const float * src = segments[i].embd;
                for (int64_t j = 0; j < n * D; ++j)
                    if (!std::isfinite(src[j])) {
                        err = "segment " + std::to_string(i) + ": embedding value " + std::to_string(j) +
                              " is not finite (NaN or infinity)";
                        return -1;
                    }
                std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n * D));
            }
            pos += n;
        }
        rope.prepare(T, hp.freq_base, hp.freq_scale, rope_freqs.empty() ? nullptr : rope_freqs.data());
        // ---- forward over every position ----
        for (int32_t il = 0; il < hp.n_layer; ++il) {
            if (abort.load()) return 2;
            const bool keep = il < pl.n_kept;
            layer_forward(layers[static_cast<size_t>(il)], X.data() + il * T * D, T,
                          keep ? kept[static_cast<size_t>(il)] : work, keep, X.data() + (il + 1) * T * D);
        }
        // ---- head and loss, target rows only ----
        const int64_t n_out = n_targets;
        const float * xl = X.data() + hp.n_layer * T * D + r0 * D;
        fit(xf, n_out * D), fit(rstdf, n_out), fit(logits, n_out * V), fit(dxf, n_out * D);
        dep::engine::rmsnorm_forward(xl, out_norm.data(), xf.data(), rstdf.data(), n_out, D, hp.eps, nt());
        mm->forward(xf.data(), n_out, output, logits.data(), false);
        *loss = static_cast<float>(dep::engine::cross_entropy_forward_backward(logits.data(), targets, n_out, V, nt()));
        if (M == 0) {
            st.activation_bytes = held_bytes();
            return 0;
        }
        // ---- backward from the first soft row on ----
        fit(dout, M * D);
        std::fill(dout.begin(), dout.end(), 0.0f);
        mm->backward(logits.data(), n_out, output, dxf.data(), false);
        dep::engine::rmsnorm_backward_add(dxf.data(), xl, out_norm.data(), rstdf.data(), dout.data() + (r0 - p0) * D,
                                          n_out, D, nt());
        for (int32_t il = hp.n_layer - 1; il >= 0; --il) {
            if (abort.load()) return 2;
            const LayerWeights & L = layers[static_cast<size_t>(il)];
            const float * x = X.data() + il * T * D;
            const bool keep = il < pl.n_kept;
            if (!keep) attention_half_forward(L, x, T, work);  // the FFN's blocks: in layer_backward
            layer_backward(L, keep ? kept[static_cast<size_t>(il)] : work, keep, x, T, p0, dout.data());
        }
        st.activation_bytes = held_bytes();
        // ---- the soft rows' gradients ----
        pos = 0;
        int32_t gi = 0;
        for (int32_t i = 0; i < n_segments; ++i) {
            const dep_segment & seg = segments[i];
            if (seg.embd && seg.n > 0) {
                std::memcpy(grads[gi], dout.data() + (pos - p0) * D, sizeof(float) * static_cast<size_t>(seg.n * D));
            }
            if (seg.embd) ++gi;
            pos += seg.n;
        }
    } catch (const std::bad_alloc &) {
        err = "out of memory: " + std::to_string(T) + " positions need about " + std::to_string(pl.bytes >> 20) +
              " MiB of activations" + (pl.n_kept > 0 ? " (a smaller activation budget recomputes more layers)" : "");
        return -1;
    } catch (const std::exception & e) {
        err = std::string("native engine: ") + e.what();
        return -1;
    }
    return 0;
}

// ---- C API -----------------------------------------------------------------------------------------------

namespace {
void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}
}  // namespace

extern "C" {

dep_grad_engine_params dep_grad_engine_default_params(void) {
    dep_grad_engine_params p{};
    p.n_threads = 4;
    p.dtype = DEP_GRAD_ENGINE_F32;
    p.checkpoint = DEP_GRAD_ENGINE_CHECKPOINT_AUTO;
    p.activation_budget_bytes = size_t{1} << 30;
    p.ffn_block_rows = 1024;
    return p;
}

dep_grad_engine * dep_grad_engine_load(const char * path, dep_grad_engine_params params, char * err, size_t err_size) {
    if (!path || !*path) {
        set_err(err, err_size, "dep_grad_engine_load: no model path");
        return nullptr;
    }
    if (params.n_threads < 1 || params.ffn_block_rows < 1 ||
        (params.dtype != DEP_GRAD_ENGINE_F32 && params.dtype != DEP_GRAD_ENGINE_BF16)) {
        set_err(err, err_size, "dep_grad_engine_load: n_threads and ffn_block_rows must be >= 1, dtype f32 or bf16");
        return nullptr;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<dep_grad_engine> e;
    std::string why;
    try {
        e = std::make_unique<dep_grad_engine>();
        e->params = params;
        omp_set_num_threads(params.n_threads);
        if (!e->load(path, why)) {
            set_err(err, err_size, why);
            return nullptr;
        }
    } catch (const std::bad_alloc &) {
        set_err(err, err_size, std::string(path) + ": out of memory loading the native engine's weights");
        return nullptr;
    }
    e->load_ms = ms_since(t0);
    return e.release();
}

void dep_grad_engine_free(dep_grad_engine * engine) { delete engine; }

void dep_grad_engine_request_abort(dep_grad_engine * engine) {
    if (engine) engine->abort.store(true);
}

int32_t dep_grad_engine_loss_and_grad(dep_grad_engine * engine, const dep_segment * segments, int32_t n_segments,
                                      const int32_t * targets, int32_t n_targets, float * loss, float * const * grads,
                                      dep_grad_engine_stats * stats, char * err, size_t err_size) {
    if (!engine || !loss || (n_segments > 0 && !segments)) {
        set_err(err, err_size, "dep_grad_engine_loss_and_grad: null argument");
        return -1;
    }
    engine->abort.store(false);
    engine->mm->elapsed_ms = 0;
    engine->attention_ms = 0;
    dep_grad_engine_stats st{};
    std::string why;
    auto t0 = std::chrono::steady_clock::now();
    const int rc = engine->loss_and_grad(segments, n_segments, targets, n_targets, loss, grads, st, why);
    st.compute_ms = ms_since(t0);
    st.matmul_ms = engine->mm->elapsed_ms;
    st.attention_ms = engine->attention_ms;
    if (stats) *stats = st;
    if (rc == -1) set_err(err, err_size, why);
    return rc;
}

dep_grad_engine_info dep_grad_engine_get_info(const dep_grad_engine * e) {
    dep_grad_engine_info info{};
    if (!e) return info;
    info.n_embd = e->hp.n_embd;
    info.n_layer = e->hp.n_layer;
    info.n_head = e->hp.n_head;
    info.n_head_kv = e->hp.n_head_kv;
    info.n_ff = e->hp.n_ff;
    info.n_vocab = e->hp.n_vocab;
    info.dtype = e->params.dtype;
#ifdef DEP_WITH_ONEDNN
    info.matmul = DEP_GRAD_ENGINE_MATMUL_ONEDNN;
#else
    info.matmul = DEP_GRAD_ENGINE_MATMUL_PORTABLE;
#endif
    info.n_threads = e->params.n_threads;
    info.load_ms = e->load_ms;
    info.weight_bytes = e->weight_bytes;
    return info;
}

const char * dep_grad_engine_matmul_name(void) { return dep::engine::matmul_name(); }

bool dep_grad_engine_supports(dep_grad_engine_dtype dtype) {
    return dtype == DEP_GRAD_ENGINE_F32 || (dtype == DEP_GRAD_ENGINE_BF16 && dep::engine::matmul_supports_bf16());
}

dep_grad_engine_dtype dep_grad_engine_default_dtype(void) {
    return dep::engine::matmul_has_bf16_units() ? DEP_GRAD_ENGINE_BF16 : DEP_GRAD_ENGINE_F32;
}

}  // extern "C"
