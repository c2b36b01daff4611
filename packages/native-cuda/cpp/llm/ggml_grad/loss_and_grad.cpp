// dep_llm_loss_and_grad / dep_llm_debug_logits: the gradient graph (grad_model.cpp) behind the dep_llm handle.
#include "dep/llm_grad.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ggml.h"
#include "llm/handle.h"
#include "llm/log_capture.h"

namespace {

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Loads the gradient graph's weights on first use. Returns 0, 2 when aborted, -1 on error.
int ensure_grad(dep_llm * llm, std::string & err) {
    if (llm->grad) return 0;
    dep::grad::GgufWeights * w = dep::llm_weights(llm, err);
    if (!w) return -1;
    static const int kTypes[] = {-1, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_F32};
    llm->grad = dep::grad::Model::load(*w, llm->params.n_threads,
                                       llm->params.grad_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32,
                                       kTypes[llm->params.grad_backward & 3], &llm->abort_requested, err);
    if (!llm->grad) return llm->abort_requested.load() && err == "aborted" ? 2 : -1;
    return 0;
}

// Lays the segments (and optional trailing tokens) out as one graph sequence.
void layout(const dep_segment * segments, int32_t n_segments, dep::grad::Sequence & seq) {
    int32_t pos = 0;
    for (int32_t i = 0; i < n_segments; ++i) {
        const dep_segment & s = segments[i];
        if (s.n == 0) continue;
        if (s.tokens) {
            seq.tokens.insert(seq.tokens.end(), s.tokens, s.tokens + s.n);
        } else {
            seq.tokens.insert(seq.tokens.end(), static_cast<size_t>(s.n), 0);
            seq.soft.push_back({pos, s.n, s.embd});
        }
        pos += s.n;
    }
}

}  // namespace

const char * dep_llm_grad_supported_archs(void) { return dep::grad::supported_archs(); }

void dep_llm_release_grad(dep_llm * llm) {
    if (llm) llm->grad.reset();
}

int32_t dep_llm_loss_and_grad(dep_llm * llm, const dep_segment * segments, int32_t n_segments,
                              const int32_t * targets, int32_t n_targets, float * loss, float * const * grads,
                              dep_grad_stats * stats, char * err, size_t err_size) {
    dep_grad_stats st{};
    std::string why;
    const int32_t n_prompt = dep::count_positions(llm, segments, n_segments, why);
    if (n_prompt < 0) {
        set_err(err, err_size, why);
        return -1;
    }
    if (n_prompt == 0) {
        set_err(err, err_size, "the segments are empty: at least one position must precede the targets");
        return -1;
    }
    if (n_targets <= 0 || !targets) {
        set_err(err, err_size, "the target is empty: lossAndGrad needs at least one target token");
        return -1;
    }
    dep_segment tseg{targets, nullptr, n_targets};
    if (dep::count_positions(llm, &tseg, 1, why) < 0) {
        set_err(err, err_size, "target tokens: " + why);
        return -1;
    }
    llm->abort_requested.store(false);
    auto t0 = std::chrono::steady_clock::now();
    const int rc_load = ensure_grad(llm, why);
    st.load_ms = ms_since(t0);
    if (rc_load == 2) {
        if (stats) *stats = st;
        return 2;
    }
    if (rc_load != 0) {
        set_err(err, err_size, why);
        return -1;
    }
    dep::grad::Sequence seq;
    layout(segments, n_segments, seq);
    // the targets follow the segments; the last one is predicted but never fed
    seq.tokens.insert(seq.tokens.end(), targets, targets + n_targets - 1);
    for (int32_t i = 0; i < n_targets; ++i) {
        seq.out_pos.push_back(n_prompt - 1 + i);
        seq.labels.push_back(targets[i]);
    }
    std::vector<float *> g;
    for (size_t i = 0; i < seq.soft.size(); ++i) g.push_back(grads[i]);
    auto t1 = std::chrono::steady_clock::now();
    const int rc = llm->grad->loss_and_grad(seq, loss, g, why);
    st.compute_ms = ms_since(t1);
    st.n_positions = static_cast<int32_t>(seq.tokens.size());
    st.n_targets = n_targets;
    st.weight_bytes = llm->grad->weight_bytes();
    st.compute_bytes = llm->grad->compute_bytes();
    if (stats) *stats = st;
    if (rc == 2) return 2;
    if (rc != 0) {
        set_err(err, err_size, why);
        return -1;
    }
    return 0;
}

int32_t dep_llm_debug_logits(dep_llm * llm, const dep_segment * segments, int32_t n_segments, bool use_graph,
                             float * out, char * err, size_t err_size) {
    std::string why;
    const int32_t n_pos = dep::count_positions(llm, segments, n_segments, why);
    if (n_pos <= 0) {
        set_err(err, err_size, n_pos == 0 ? "the segments are empty" : why);
        return -1;
    }
    const int32_t n_vocab = llama_vocab_n_tokens(llm->vocab);
    llm->abort_requested.store(false);
    if (use_graph) {
        const int rc_load = ensure_grad(llm, why);
        if (rc_load != 0) {
            set_err(err, err_size, rc_load == 2 ? "aborted" : why);
            return -1;
        }
        dep::grad::Sequence seq;
        layout(segments, n_segments, seq);
        for (int32_t i = 0; i < n_pos; ++i) seq.out_pos.push_back(i);
        if (llm->grad->logits(seq, out, why) != 0) {
            set_err(err, err_size, why);
            return -1;
        }
        return 0;
    }
    if (n_pos > llm->params.n_ctx) {
        set_err(err, err_size, "the segments have " + std::to_string(n_pos) + " positions but the context holds " +
                                   std::to_string(llm->params.n_ctx));
        return -1;
    }
    llama_memory_clear(llama_get_memory(llm->ctx), true);
    const int32_t n_embd = llama_model_n_embd(llm->model);
    const int32_t n_batch = llm->params.n_batch;
    int32_t pos = 0;
    for (int32_t i = 0; i < n_segments; ++i) {
        const dep_segment & seg = segments[i];
        for (int32_t start = 0; start < seg.n; start += n_batch) {
            const int32_t n = std::min(n_batch, seg.n - start);
            llama_batch batch = llama_batch_init(n, seg.embd ? n_embd : 0, 1);
            for (int32_t j = 0; j < n; ++j) {
                if (seg.tokens) batch.token[j] = seg.tokens[start + j];
                batch.pos[j] = pos + start + j;
                batch.n_seq_id[j] = 1;
                batch.seq_id[j][0] = 0;
                batch.logits[j] = 1;
            }
            if (seg.embd)
                std::memcpy(batch.embd, seg.embd + static_cast<size_t>(start) * n_embd, sizeof(float) * n * n_embd);
            batch.n_tokens = n;
            const int32_t rc = llama_decode(llm->ctx, batch);
            llama_batch_free(batch);
            if (rc != 0) {
                set_err(err, err_size, "llama_decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors());
                return -1;
            }
            for (int32_t j = 0; j < n; ++j) {
                const float * row = llama_get_logits_ith(llm->ctx, j);
                if (!row) {
                    set_err(err, err_size, "llama_decode returned no logits");
                    return -1;
                }
                std::memcpy(out + static_cast<size_t>(pos + start + j) * n_vocab, row, sizeof(float) * n_vocab);
            }
        }
        pos += seg.n;
    }
    return 0;
}
