#include "grad_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

namespace dep::grad {

const char * supported_archs() { return "llama (TinyLlama, Llama 2/3, Mistral), qwen2 (Qwen2, Qwen2.5)"; }

namespace {

struct Layer {
    ggml_tensor *attn_norm = nullptr, *wq = nullptr, *wk = nullptr, *wv = nullptr, *wo = nullptr;
    ggml_tensor *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
    ggml_tensor *ffn_norm = nullptr, *w_gate = nullptr, *w_up = nullptr, *w_down = nullptr;
};

bool abort_cb(void * data) {
    auto * flag = static_cast<std::atomic<bool> *>(data);
    return flag && flag->load(std::memory_order_relaxed);
}

}  // namespace

struct Model::Impl {
    ggml_backend_t backend = nullptr;
    ggml_context * wctx = nullptr;
    ggml_backend_buffer_t wbuf = nullptr;
    ggml_tensor *tok_embd = nullptr, *out_norm = nullptr, *output = nullptr, *rope_freqs = nullptr;
    std::vector<Layer> layers;
    ggml_gallocr_t galloc_loss = nullptr;
    ggml_gallocr_t galloc_fwd = nullptr;
    std::vector<std::pair<const ggml_tensor *, ggml_tensor *>> transposed;  // W -> W^T for the backward
    std::vector<uint8_t> meta_buf;  // tensor/graph metadata of the compute context, reused across calls
    size_t max_compute = 0;

    ~Impl() {
        if (galloc_loss) ggml_gallocr_free(galloc_loss);
        if (galloc_fwd) ggml_gallocr_free(galloc_fwd);
        if (wbuf) ggml_backend_buffer_free(wbuf);
        if (wctx) ggml_free(wctx);
        if (backend) ggml_backend_free(backend);
    }
};

bool read_hparams(const GgufWeights & w, Hparams & hp, std::string & err) {
    hp.arch = w.get_str("general.architecture", "");
    if (hp.arch == "llama") {
        hp.rope_mode = GGML_ROPE_TYPE_NORMAL;
    } else if (hp.arch == "qwen2") {
        hp.rope_mode = GGML_ROPE_TYPE_NEOX;
    } else {
        err = "gradients are not available for architecture '" + hp.arch + "' (supported: " + supported_archs() + ")";
        return false;
    }
    const std::string a = hp.arch + ".";
    if (w.is_array(a + "attention.head_count") || w.is_array(a + "attention.head_count_kv")) {
        err = "per-layer head counts are not supported by the gradient graph";
        return false;
    }
    if (w.get_num(a + "expert_count", 0) > 0) {
        err = "mixture-of-experts models are not supported by the gradient graph";
        return false;
    }
    hp.n_embd = static_cast<int32_t>(w.get_num(a + "embedding_length", 0));
    hp.n_layer = static_cast<int32_t>(w.get_num(a + "block_count", 0));
    hp.n_head = static_cast<int32_t>(w.get_num(a + "attention.head_count", 0));
    hp.n_head_kv = static_cast<int32_t>(w.get_num(a + "attention.head_count_kv", hp.n_head));
    if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0) {
        err = "the GGUF lacks valid " + a + "{embedding_length, block_count, attention.head_count[_kv]}";
        return false;
    }
    hp.head_dim = static_cast<int32_t>(w.get_num(a + "attention.key_length", hp.n_embd / hp.n_head));
    if (static_cast<int32_t>(w.get_num(a + "attention.value_length", hp.head_dim)) != hp.head_dim) {
        err = "different key and value head sizes are not supported by the gradient graph";
        return false;
    }
    hp.n_rot = static_cast<int32_t>(w.get_num(a + "rope.dimension_count", hp.head_dim));
    hp.eps = static_cast<float>(w.get_num(a + "attention.layer_norm_rms_epsilon", 1e-5));
    hp.freq_base = static_cast<float>(w.get_num(a + "rope.freq_base", 10000.0));
    hp.n_ctx_orig = static_cast<int32_t>(w.get_num(a + "context_length", 2048));
    const std::string scaling = w.get_str(a + "rope.scaling.type", "none");
    double factor = w.get_num(a + "rope.scaling.factor", 0.0);
    if (factor == 0.0) factor = w.get_num(a + "rope.scale_linear", 0.0);
    if (scaling == "linear" || (scaling == "none" && factor > 0.0 && w.has_key(a + "rope.scale_linear"))) {
        hp.freq_scale = factor > 0.0 ? static_cast<float>(1.0 / factor) : 1.0f;
    } else if (scaling != "none") {
        err = "RoPE scaling '" + scaling + "' is not supported by the gradient graph (none, linear)";
        return false;
    }
    if (w.get_num(a + "attention.scale", 0.0) != 0.0) {
        err = "a custom attention scale is not supported by the gradient graph";
        return false;
    }
    return true;
}

Model::~Model() = default;

size_t Model::weight_bytes() const { return impl_->wbuf ? ggml_backend_buffer_get_size(impl_->wbuf) : 0; }
size_t Model::compute_bytes() const { return impl_->max_compute; }

std::unique_ptr<Model> Model::load(const GgufWeights & w, int n_threads, int forward_type, int backward_type,
                                   std::atomic<bool> * abort_flag, std::string & err) {
    const ggml_type proj_type = forward_type == GGML_TYPE_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    std::unique_ptr<Model> m(new Model());
    m->impl_ = std::make_unique<Impl>();
    Hparams & hp = m->hp_;
    Impl & im = *m->impl_;

    if (!read_hparams(w, hp, err)) return nullptr;

    // ---- tensors ----
    const int64_t n_tensors_max = 16 + 16LL * hp.n_layer;
    ggml_init_params ip{};
    ip.mem_size = static_cast<size_t>(n_tensors_max) * ggml_tensor_overhead();
    ip.no_alloc = true;
    im.wctx = ggml_init(ip);
    if (!im.wctx) {
        err = "ggml_init failed for the weight context";
        return nullptr;
    }
    struct Pending {
        ggml_tensor * dst;
        const ggml_tensor * src;
    };
    std::vector<Pending> pending;
    auto take = [&](const std::string & name, bool required, bool keep_type, std::vector<int64_t> shape) -> ggml_tensor * {
        const ggml_tensor * src = w.find(name);
        if (!src) {
            if (required) err = "tensor " + name + " is missing from the GGUF";
            return nullptr;
        }
        for (size_t d = 0; d < 4; ++d) {
            const int64_t want = d < shape.size() ? shape[d] : 1;
            if (want >= 0 && src->ne[d] != want) {
                err = "tensor " + name + " has an unexpected shape";
                return nullptr;
            }
        }
        // matrices (2-D) take the forward type, vectors stay F32
        const ggml_type type = keep_type ? src->type : ggml_n_dims(src) >= 2 ? proj_type : GGML_TYPE_F32;
        ggml_tensor * t = ggml_new_tensor(im.wctx, type, ggml_n_dims(src), src->ne);
        ggml_set_name(t, name.c_str());
        pending.push_back({t, src});
        return t;
    };
    const int64_t n_q = static_cast<int64_t>(hp.head_dim) * hp.n_head;
    const int64_t n_kv = static_cast<int64_t>(hp.head_dim) * hp.n_head_kv;
    const bool has_output = w.find("output.weight") != nullptr;
    hp.tied_output = !has_output;
    // the token table is only read by get_rows when the head is separate: keep its stored type then
    im.tok_embd = take("token_embd.weight", true, has_output, {hp.n_embd, -1});
    if (!im.tok_embd) return nullptr;
    hp.n_vocab = static_cast<int32_t>(im.tok_embd->ne[1]);
    im.out_norm = take("output_norm.weight", true, false, {hp.n_embd});
    if (!im.out_norm) return nullptr;
    im.output = has_output ? take("output.weight", true, false, {hp.n_embd, hp.n_vocab}) : im.tok_embd;
    if (!im.output) return nullptr;
    if (w.find("rope_freqs.weight")) {
        im.rope_freqs = take("rope_freqs.weight", true, false, {hp.n_rot / 2});
        if (!im.rope_freqs) return nullptr;
    }
    im.layers.resize(static_cast<size_t>(hp.n_layer));
    for (int32_t il = 0; il < hp.n_layer; ++il) {
        Layer & L = im.layers[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        if (w.find(p + "attn_qkv.weight")) {
            err = "fused attn_qkv tensors are not supported by the gradient graph";
            return nullptr;
        }
        if (!(L.attn_norm = take(p + "attn_norm.weight", true, false, {hp.n_embd}))) return nullptr;
        if (!(L.wq = take(p + "attn_q.weight", true, false, {hp.n_embd, n_q}))) return nullptr;
        if (!(L.wk = take(p + "attn_k.weight", true, false, {hp.n_embd, n_kv}))) return nullptr;
        if (!(L.wv = take(p + "attn_v.weight", true, false, {hp.n_embd, n_kv}))) return nullptr;
        if (!(L.wo = take(p + "attn_output.weight", true, false, {n_q, hp.n_embd}))) return nullptr;
        L.bq = take(p + "attn_q.bias", false, false, {n_q});
        L.bk = take(p + "attn_k.bias", false, false, {n_kv});
        L.bv = take(p + "attn_v.bias", false, false, {n_kv});
        L.bo = take(p + "attn_output.bias", false, false, {hp.n_embd});
        if (!err.empty()) return nullptr;
        if (!(L.ffn_norm = take(p + "ffn_norm.weight", true, false, {hp.n_embd}))) return nullptr;
        if (!(L.w_gate = take(p + "ffn_gate.weight", true, false, {hp.n_embd, -1}))) return nullptr;
        hp.n_ff = static_cast<int32_t>(L.w_gate->ne[1]);
        if (!(L.w_up = take(p + "ffn_up.weight", true, false, {hp.n_embd, hp.n_ff}))) return nullptr;
        if (!(L.w_down = take(p + "ffn_down.weight", true, false, {hp.n_ff, hp.n_embd}))) return nullptr;
        if (w.find(p + "ffn_gate.bias") || w.find(p + "ffn_up.bias") || w.find(p + "ffn_down.bias")) {
            err = "FFN biases are not supported by the gradient graph";
            return nullptr;
        }
    }

    std::vector<ggml_tensor *> projections = {im.output};
    for (const Layer & L : im.layers)
        for (ggml_tensor * t : {L.wq, L.wk, L.wv, L.wo, L.w_gate, L.w_up, L.w_down}) projections.push_back(t);
    if (backward_type >= 0) {
        for (ggml_tensor * t : projections) {
            ggml_tensor * tt = ggml_new_tensor_2d(im.wctx, static_cast<ggml_type>(backward_type), t->ne[1], t->ne[0]);
            ggml_format_name(tt, "%s.T", ggml_get_name(t));
            im.transposed.push_back({t, tt});
        }
    }

    im.backend = ggml_backend_cpu_init();
    if (!im.backend) {
        err = "could not initialise the ggml CPU backend";
        return nullptr;
    }
    ggml_backend_cpu_set_n_threads(im.backend, n_threads);
    ggml_backend_cpu_set_abort_callback(im.backend, abort_cb, abort_flag);
    im.wbuf = ggml_backend_alloc_ctx_tensors(im.wctx, im.backend);
    if (!im.wbuf) {
        err = "out of memory: the F32 weights of the gradient graph need " +
              std::to_string(static_cast<double>(ggml_get_mem_size(im.wctx)) / 1e9) + " GB";
        // ggml_get_mem_size is metadata only; give the real figure
        size_t total = 0;
        for (const auto & p : pending) total += ggml_nbytes(p.dst);
        err = "out of memory: the weights of the gradient graph need " + std::to_string(total / (1024 * 1024)) + " MiB";
        return nullptr;
    }
    ggml_backend_buffer_set_usage(im.wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    const bool host = ggml_backend_buffer_is_host(im.wbuf);
    std::vector<float> tmp;
    for (const auto & p : pending) {
        if (abort_flag && abort_flag->load()) {
            err = "aborted";
            return nullptr;
        }
        if (p.dst->type == p.src->type && p.dst->type != GGML_TYPE_F32) {
            ggml_backend_tensor_set(p.dst, w.data(p.src), 0, ggml_nbytes(p.src));
            continue;
        }
        const int64_t rows = ggml_nrows(p.src);
        if (p.dst->type == GGML_TYPE_F16) {
            tmp.resize(static_cast<size_t>(ggml_nelements(p.src)));
            if (!w.rows_to_f32(p.src, 0, rows, tmp.data(), n_threads, err)) return nullptr;
            std::vector<ggml_fp16_t> h(tmp.size());
            ggml_fp32_to_fp16_row(tmp.data(), h.data(), static_cast<int64_t>(tmp.size()));
            ggml_backend_tensor_set(p.dst, h.data(), 0, ggml_nbytes(p.dst));
            continue;
        }
        float * dst = nullptr;
        if (host) {
            dst = static_cast<float *>(p.dst->data);
        } else {
            tmp.resize(static_cast<size_t>(ggml_nelements(p.src)));
            dst = tmp.data();
        }
        if (!w.rows_to_f32(p.src, 0, rows, dst, n_threads, err)) return nullptr;
        if (!host) ggml_backend_tensor_set(p.dst, tmp.data(), 0, ggml_nbytes(p.dst));
    }
    // transposed copies, from the F32 weights just written
    for (const auto & [src, dst] : im.transposed) {
        if (abort_flag && abort_flag->load()) {
            err = "aborted";
            return nullptr;
        }
        const int64_t n_in = src->ne[0], n_out = src->ne[1];
        std::vector<float> full;
        const float * W = nullptr;
        if (host && src->type == GGML_TYPE_F32) {
            W = static_cast<const float *>(src->data);
        } else {
            // the exact values, dequantized again from the file
            const ggml_tensor * file_src = nullptr;
            for (const auto & p : pending)
                if (p.dst == src) file_src = p.src;
            if (!file_src) {
                err = "internal: no source for a transposed weight";
                return nullptr;
            }
            full.resize(static_cast<size_t>(n_in * n_out));
            if (!w.rows_to_f32(file_src, 0, n_out, full.data(), n_threads, err)) return nullptr;
            W = full.data();
        }
        const size_t row_bytes = ggml_row_size(dst->type, n_out);
        std::vector<uint8_t> out(host ? 0 : row_bytes * static_cast<size_t>(n_in));
        uint8_t * out_base = host ? static_cast<uint8_t *>(dst->data) : out.data();
        const int nt = std::max(1, n_threads);
        std::vector<std::thread> pool;
        for (int ti = 0; ti < nt; ++ti) {
            pool.emplace_back([&, ti] {
                // blocks of B input columns: each weight row contributes B contiguous floats per block
                constexpr int64_t B = 32;
                std::vector<float> rows(static_cast<size_t>(B * n_out));
                for (int64_t i0 = ti * B; i0 < n_in; i0 += nt * B) {
                    const int64_t nb = std::min(B, n_in - i0);
                    for (int64_t o = 0; o < n_out; ++o) {
                        const float * wrow = W + o * n_in + i0;
                        for (int64_t k = 0; k < nb; ++k) rows[static_cast<size_t>(k * n_out + o)] = wrow[k];
                    }
                    for (int64_t k = 0; k < nb; ++k) {
                        const float * row = rows.data() + k * n_out;
                        uint8_t * d = out_base + static_cast<size_t>(i0 + k) * row_bytes;
                        if (dst->type == GGML_TYPE_F32) std::memcpy(d, row, row_bytes);
                        else if (dst->type == GGML_TYPE_F16) ggml_fp32_to_fp16_row(row, reinterpret_cast<ggml_fp16_t *>(d), n_out);
                        else ggml_fp32_to_bf16_row(row, reinterpret_cast<ggml_bf16_t *>(d), n_out);
                    }
                }
            });
        }
        for (auto & th : pool) th.join();
        if (!host) ggml_backend_tensor_set(dst, out.data(), 0, out.size());
    }
    im.galloc_loss = ggml_gallocr_new(ggml_backend_get_default_buffer_type(im.backend));
    im.galloc_fwd = ggml_gallocr_new(ggml_backend_get_default_buffer_type(im.backend));
    return m;
}

namespace {

struct Built {
    ggml_context * ctx = nullptr;
    ggml_cgraph * gf = nullptr;
    ggml_tensor *tokens = nullptr, *pos = nullptr, *mask = nullptr, *out_ids = nullptr, *labels = nullptr;
    ggml_tensor *logits = nullptr, *loss = nullptr, *loss_grad = nullptr;
    std::vector<ggml_tensor *> soft, soft_grad;
    ~Built() {
        if (ctx) ggml_free(ctx);
    }
};

}  // namespace

static bool build_graph(Model::Impl & im, const Hparams & hp, const Sequence & seq, bool with_loss, Built & b,
                        std::string & err) {
    const int64_t T = static_cast<int64_t>(seq.tokens.size());
    const int64_t n_out = static_cast<int64_t>(seq.out_pos.size());
    const size_t graph_size = static_cast<size_t>(std::max<int64_t>(8192, 600LL * hp.n_layer));
    const size_t meta = ggml_tensor_overhead() * graph_size * 2 + ggml_graph_overhead_custom(graph_size, true);
    if (im.meta_buf.size() < meta) im.meta_buf.resize(meta);
    ggml_init_params ip{};
    ip.mem_size = im.meta_buf.size();
    ip.mem_buffer = im.meta_buf.data();
    ip.no_alloc = true;
    b.ctx = ggml_init(ip);
    if (!b.ctx) {
        err = "ggml_init failed for the compute context";
        return false;
    }
    ggml_context * ctx = b.ctx;

    b.tokens = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, T);
    ggml_set_input(b.tokens);
    b.pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, T);
    ggml_set_input(b.pos);
    b.mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, T, T);
    ggml_set_input(b.mask);
    b.out_ids = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_out);
    ggml_set_input(b.out_ids);

    ggml_tensor * x = ggml_get_rows(ctx, im.tok_embd, b.tokens);  // [n_embd, T]
    for (const auto & s : seq.soft) {
        ggml_tensor * soft = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, hp.n_embd, s.n);
        ggml_set_input(soft);
        if (with_loss) ggml_set_param(soft);
        b.soft.push_back(soft);
        // ggml_set_2d (unlike concat) has a backward pass: the soft rows overwrite their positions
        x = ggml_set_2d(ctx, x, soft, x->nb[1], static_cast<size_t>(s.pos) * x->nb[1]);
    }

    const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    for (int32_t il = 0; il < hp.n_layer; ++il) {
        const Layer & L = im.layers[static_cast<size_t>(il)];
        ggml_tensor * cur = ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.eps), L.attn_norm);
        ggml_tensor * q = ggml_mul_mat(ctx, L.wq, cur);
        ggml_tensor * k = ggml_mul_mat(ctx, L.wk, cur);
        ggml_tensor * v = ggml_mul_mat(ctx, L.wv, cur);
        if (L.bq) q = ggml_add(ctx, q, L.bq);
        if (L.bk) k = ggml_add(ctx, k, L.bk);
        if (L.bv) v = ggml_add(ctx, v, L.bv);
        q = ggml_reshape_3d(ctx, q, hp.head_dim, hp.n_head, T);
        k = ggml_reshape_3d(ctx, k, hp.head_dim, hp.n_head_kv, T);
        v = ggml_reshape_3d(ctx, v, hp.head_dim, hp.n_head_kv, T);
        q = ggml_rope_ext(ctx, q, b.pos, im.rope_freqs, hp.n_rot, hp.rope_mode, hp.n_ctx_orig, hp.freq_base,
                          hp.freq_scale, 0.0f, 1.0f, 32.0f, 1.0f);
        k = ggml_rope_ext(ctx, k, b.pos, im.rope_freqs, hp.n_rot, hp.rope_mode, hp.n_ctx_orig, hp.freq_base,
                          hp.freq_scale, 0.0f, 1.0f, 32.0f, 1.0f);
        // attention written out (flash-attn has no backward): heads in dim 2, GQA by mul_mat broadcasting
        ggml_tensor * qh = ggml_cont(ctx, ggml_permute(ctx, q, 0, 2, 1, 3));  // [hd, T, n_head]
        ggml_tensor * kh = ggml_cont(ctx, ggml_permute(ctx, k, 0, 2, 1, 3));  // [hd, T, n_head_kv]
        ggml_tensor * vt = ggml_cont(ctx, ggml_permute(ctx, v, 1, 2, 0, 3));  // [T, hd, n_head_kv]
        ggml_tensor * kq = ggml_mul_mat(ctx, kh, qh);                          // [T_k, T_q, n_head]
        kq = ggml_soft_max_ext(ctx, kq, b.mask, kq_scale, 0.0f);
        ggml_tensor * kqv = ggml_mul_mat(ctx, vt, kq);                         // [hd, T_q, n_head]
        cur = ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3));              // [hd, n_head, T]
        cur = ggml_reshape_2d(ctx, cur, static_cast<int64_t>(hp.head_dim) * hp.n_head, T);
        cur = ggml_mul_mat(ctx, L.wo, cur);
        if (L.bo) cur = ggml_add(ctx, cur, L.bo);
        x = ggml_add(ctx, x, cur);
        // SwiGLU in its split form (the fused op has no backward)
        cur = ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.eps), L.ffn_norm);
        ggml_tensor * g = ggml_silu(ctx, ggml_mul_mat(ctx, L.w_gate, cur));
        ggml_tensor * u = ggml_mul_mat(ctx, L.w_up, cur);
        cur = ggml_mul_mat(ctx, L.w_down, ggml_mul(ctx, g, u));
        x = ggml_add(ctx, x, cur);
    }
    x = ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.eps), im.out_norm);
    x = ggml_get_rows(ctx, x, b.out_ids);  // only the rows whose logits are needed
    b.logits = ggml_mul_mat(ctx, im.output, x);  // [n_vocab, n_out]

    const bool backward = with_loss && !b.soft.empty();  // no soft rows: the loss alone
    b.gf = ggml_new_graph_custom(ctx, graph_size, backward);
    if (!with_loss) {
        ggml_set_output(b.logits);
        ggml_build_forward_expand(b.gf, b.logits);
        return true;
    }
    b.labels = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, hp.n_vocab, n_out);
    ggml_set_input(b.labels);
    b.loss = ggml_cross_entropy_loss(ctx, b.logits, b.labels);
    ggml_set_output(b.loss);
    ggml_set_loss(b.loss);
    ggml_build_forward_expand(b.gf, b.loss);
    if (!backward) return true;
    // the loss gradient (1) is our own input rather than ggml_graph_reset's job
    b.loss_grad = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 1);
    ggml_set_input(b.loss_grad);
    const int n_nodes = ggml_graph_n_nodes(b.gf);
    std::vector<ggml_tensor *> accs(static_cast<size_t>(n_nodes), nullptr);
    for (int i = 0; i < n_nodes; ++i)
        if (ggml_graph_node(b.gf, i) == b.loss) accs[static_cast<size_t>(i)] = b.loss_grad;
    ggml_build_backward_expand(ctx, b.gf, accs.data());
    // dX = out_prod(W, dY^T) -> mul_mat(W^T, dY): same numbers (up to W^T's storage type), tiled matmul speed
    if (!im.transposed.empty()) {
        for (int i = 0; i < ggml_graph_n_nodes(b.gf); ++i) {
            ggml_tensor * node = ggml_graph_node(b.gf, i);
            if (node->op != GGML_OP_OUT_PROD || !node->src[1] || node->src[1]->op != GGML_OP_TRANSPOSE) continue;
            ggml_tensor * wt = nullptr;
            for (const auto & [w, t] : im.transposed)
                if (w == node->src[0]) wt = t;
            ggml_tensor * dy = node->src[1]->src[0];
            if (!wt || !dy || dy->type != GGML_TYPE_F32 || !ggml_is_contiguous(dy) || wt->ne[0] != dy->ne[0] ||
                node->ne[0] != wt->ne[1] || node->ne[1] != dy->ne[1] || node->ne[2] != 1 || node->ne[3] != 1)
                continue;
            node->op = GGML_OP_MUL_MAT;
            node->src[0] = wt;
            node->src[1] = dy;
        }
    }
    for (ggml_tensor * s : b.soft) {
        ggml_tensor * g = ggml_graph_get_grad(b.gf, s);
        if (!g) {
            b.soft_grad.push_back(nullptr);
            continue;
        }
        g = ggml_cont(ctx, g);
        ggml_set_output(g);
        ggml_build_forward_expand(b.gf, g);
        b.soft_grad.push_back(g);
    }
    return true;
}

static void set_inputs(const Hparams & hp, const Sequence & seq, Built & b) {
    const int64_t T = static_cast<int64_t>(seq.tokens.size());
    ggml_backend_tensor_set(b.tokens, seq.tokens.data(), 0, sizeof(int32_t) * static_cast<size_t>(T));
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    ggml_backend_tensor_set(b.pos, pos.data(), 0, sizeof(int32_t) * pos.size());
    std::vector<float> mask(static_cast<size_t>(T * T));
    for (int64_t qi = 0; qi < T; ++qi)
        for (int64_t ki = 0; ki < T; ++ki)
            mask[static_cast<size_t>(qi * T + ki)] = ki <= qi ? 0.0f : -std::numeric_limits<float>::infinity();
    ggml_backend_tensor_set(b.mask, mask.data(), 0, sizeof(float) * mask.size());
    ggml_backend_tensor_set(b.out_ids, seq.out_pos.data(), 0, sizeof(int32_t) * seq.out_pos.size());
    for (size_t i = 0; i < seq.soft.size(); ++i)
        ggml_backend_tensor_set(b.soft[i], seq.soft[i].data, 0,
                                sizeof(float) * static_cast<size_t>(seq.soft[i].n) * static_cast<size_t>(hp.n_embd));
    if (b.labels) {
        std::vector<float> onehot(static_cast<size_t>(hp.n_vocab) * seq.labels.size(), 0.0f);
        for (size_t i = 0; i < seq.labels.size(); ++i)
            onehot[i * static_cast<size_t>(hp.n_vocab) + static_cast<size_t>(seq.labels[i])] = 1.0f;
        ggml_backend_tensor_set(b.labels, onehot.data(), 0, sizeof(float) * onehot.size());
    }
    if (b.loss_grad) {
        const float one = 1.0f;
        ggml_backend_tensor_set(b.loss_grad, &one, 0, sizeof(float));
    }
}

static bool check_sequence(const Hparams & hp, const Sequence & seq, bool with_loss, std::string & err) {
    const int64_t T = static_cast<int64_t>(seq.tokens.size());
    if (T == 0) {
        err = "the sequence is empty";
        return false;
    }
    if (seq.out_pos.empty()) {
        err = "no output positions";
        return false;
    }
    for (int32_t t : seq.tokens)
        if (t < 0 || t >= hp.n_vocab) {
            err = "token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(hp.n_vocab) + ")";
            return false;
        }
    for (int32_t p : seq.out_pos)
        if (p < 0 || p >= T) {
            err = "output position out of range";
            return false;
        }
    for (const auto & s : seq.soft)
        if (s.pos < 0 || s.n <= 0 || s.pos + s.n > T || !s.data) {
            err = "soft rows out of range";
            return false;
        }
    if (with_loss) {
        if (seq.labels.size() != seq.out_pos.size()) {
            err = "labels and output positions differ in count";
            return false;
        }
        for (int32_t t : seq.labels)
            if (t < 0 || t >= hp.n_vocab) {
                err = "target token " + std::to_string(t) + " is outside the vocabulary [0, " +
                      std::to_string(hp.n_vocab) + ")";
                return false;
            }
    }
    return true;
}

static int compute(Model::Impl & im, ggml_gallocr_t galloc, Built & b, std::string & err) {
    if (!ggml_gallocr_alloc_graph(galloc, b.gf)) {
        err = "out of memory allocating the gradient graph";
        return -1;
    }
    im.max_compute = std::max(im.max_compute, ggml_gallocr_get_buffer_size(galloc, 0));
    return 0;
}

int Model::loss_and_grad(const Sequence & seq, float * loss, const std::vector<float *> & grads, std::string & err) {
    if (!check_sequence(hp_, seq, true, err)) return -1;
    if (grads.size() != seq.soft.size()) {
        err = "one gradient buffer per soft range is required";
        return -1;
    }
    Built b;
    if (!build_graph(*impl_, hp_, seq, true, b, err)) return -1;
    if (compute(*impl_, impl_->galloc_loss, b, err) != 0) return -1;
    set_inputs(hp_, seq, b);
    const ggml_status st = ggml_backend_graph_compute(impl_->backend, b.gf);
    if (st == GGML_STATUS_ABORTED) return 2;
    if (st != GGML_STATUS_SUCCESS) {
        err = std::string("ggml graph compute failed: ") + ggml_status_to_string(st);
        return -1;
    }
    ggml_backend_tensor_get(b.loss, loss, 0, sizeof(float));
    for (size_t i = 0; i < grads.size(); ++i) {
        const size_t n = static_cast<size_t>(seq.soft[i].n) * static_cast<size_t>(hp_.n_embd);
        if (b.soft_grad[i]) {
            ggml_backend_tensor_get(b.soft_grad[i], grads[i], 0, sizeof(float) * n);
        } else {
            std::fill(grads[i], grads[i] + n, 0.0f);
        }
    }
    return 0;
}

int Model::logits(const Sequence & seq, float * out, std::string & err) {
    if (!check_sequence(hp_, seq, false, err)) return -1;
    Built b;
    if (!build_graph(*impl_, hp_, seq, false, b, err)) return -1;
    if (compute(*impl_, impl_->galloc_fwd, b, err) != 0) return -1;
    set_inputs(hp_, seq, b);
    const ggml_status st = ggml_backend_graph_compute(impl_->backend, b.gf);
    if (st == GGML_STATUS_ABORTED) return 2;
    if (st != GGML_STATUS_SUCCESS) {
        err = std::string("ggml graph compute failed: ") + ggml_status_to_string(st);
        return -1;
    }
    ggml_backend_tensor_get(b.logits, out, 0, sizeof(float) * seq.out_pos.size() * static_cast<size_t>(hp_.n_vocab));
    return 0;
}

}  // namespace dep::grad
