// The dep_llm handle, shared by llm.cpp (inference), embed.cpp, batch_session.cpp (parallel sequences) and
// ggml_grad/loss_and_grad.cpp (the gradient graph).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dep/batch_session.h"
#include "dep/llm.h"
#include "ggml_grad/gguf_weights.h"
#include "ggml_grad/grad_model.h"
#include "llama.h"

struct dep_llm {
    llama_model * model = nullptr;
    llama_context * ctx = nullptr;
    const llama_vocab * vocab = nullptr;
    dep_llm_params params{};
    std::string arch;
    std::string path;
    std::vector<std::pair<std::string, double>> weight_buffers;  // (buffer type, bytes), summed per type
    std::atomic<bool> abort_requested{false};

    // second read-only mapping of the GGUF (token rows, gradient weights); opened on first use
    std::mutex weights_mu;
    std::unique_ptr<dep::grad::GgufWeights> weights;
    // the hand-built gradient graph; its F32 weights are loaded on the first dep_llm_loss_and_grad
    std::unique_ptr<dep::grad::Model> grad;

    // embedding contexts (per-token hidden states / pooled), created by the first dep_llm_embed
    llama_context * embd_ctx_tokens = nullptr;
    llama_context * embd_ctx_pooled = nullptr;

    // a second context with several sequences, created by the first batch session (batch_session.cpp), and the
    // session open on it
    llama_context * batch_ctx = nullptr;
    int32_t batch_ctx_seqs = 0;
    dep_batch_session * session = nullptr;
    std::mutex batch_mu;
    std::unique_ptr<std::atomic<bool>[]> batch_cancel;
    int32_t batch_cancel_n = 0;
};

namespace dep {

// Opens llm->weights if needed (thread-safe). Returns nullptr with a message on failure.
grad::GgufWeights * llm_weights(dep_llm * llm, std::string & err);

// Validates segments against the vocabulary; returns the total number of positions, or -1 (message in err).
int32_t count_positions(const dep_llm * llm, const dep_segment * segments, int32_t n_segments, std::string & err);

// count_positions for a prompt to generate from: also refuses an empty one and one that leaves the context
// (n_ctx positions per sequence) no room for a token. Returns the positions or -1 (message in err).
int32_t prompt_positions(const dep_llm * llm, const dep_segment * segments, int32_t n_segments, std::string & err);

// Decodes one segment into sequence seq_id of ctx at positions [pos, pos + n), in chunks of n_batch.
// Requests logits for every position when all_logits is set, else only for the segment's last position when
// want_last_logits is set. Returns 0, 2 when aborted, -1 on error (message in why).
int32_t decode_segment(dep_llm * llm, llama_context * ctx, const dep_segment & seg, int32_t pos, int32_t seq_id,
                       bool want_last_logits, bool all_logits, std::string & why);

// Decodes a whole prompt into sequence seq_id of ctx from position 0, with the last position's logits. A
// prompt that mixes tokens and embedding rows goes in as one run of embedding rows (token rows looked up in
// token_embd.weight, as llama.cpp's own lookup gives them), so a soft-row prompt takes the same few
// n_batch-sized decode calls as a plain one instead of one call per segment. Returns like decode_segment.
int32_t decode_prompt(dep_llm * llm, llama_context * ctx, const dep_segment * segments, int32_t n_segments,
                      int32_t seq_id, std::string & why);

// The K/V cache type and attention kernel of a generation context for params (see llm.cpp for why).
void set_attention(llama_context_params & cp, const dep_llm_params & params);

// The sampler chain dep_llm_generate uses for s (caller frees it).
llama_sampler * make_sampler(const dep_sampling * s);

}  // namespace dep
