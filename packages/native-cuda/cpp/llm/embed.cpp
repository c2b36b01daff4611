// dep_llm_embed: hidden states through llama.cpp embedding contexts (created on first use): per-token final
// hidden states (pooling NONE) for BERTScore-style encoders, or one pooled vector per text with the
// model's own pooling (mean when it has none), e.g. for GGUF sentence encoders such as bge-m3.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dep/llm.h"
#include "handle.h"
#include "log_capture.h"

namespace {

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

llama_context * embed_ctx(dep_llm * llm, bool pooled, std::string & err) {
    llama_context *& ctx = pooled ? llm->embd_ctx_pooled : llm->embd_ctx_tokens;
    if (ctx) return ctx;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(llm->params.n_ctx);
    // encoders need a whole sequence in one micro-batch
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = llm->params.n_threads;
    cp.n_threads_batch = llm->params.n_threads;
    cp.no_perf = true;
    cp.embeddings = true;
    cp.pooling_type = pooled ? LLAMA_POOLING_TYPE_UNSPECIFIED : LLAMA_POOLING_TYPE_NONE;
    ctx = llama_init_from_model(llm->model, cp);
    if (!ctx) err = "llama.cpp could not create an embedding context: " + dep::take_logged_errors();
    return ctx;
}

}  // namespace

int32_t dep_llm_embed(dep_llm * llm, const int32_t * tokens, int32_t n, bool pooled, float * out, char * err,
                      size_t err_size) {
    std::string why;
    dep_segment seg{tokens, nullptr, n};
    if (dep::count_positions(llm, &seg, 1, why) < 0) {
        set_err(err, err_size, why);
        return -1;
    }
    if (n <= 0) {
        set_err(err, err_size, "nothing to embed: the text has no tokens");
        return -1;
    }
    if (n > llm->params.n_ctx) {
        set_err(err, err_size, "the text has " + std::to_string(n) + " tokens but the context holds " +
                                   std::to_string(llm->params.n_ctx));
        return -1;
    }
    llama_context * ctx = embed_ctx(llm, pooled, why);
    if (!ctx) {
        set_err(err, err_size, why);
        return -1;
    }
    const int32_t n_out = llama_model_n_embd_out(llm->model);
    llama_memory_t mem = llama_get_memory(ctx);
    if (mem) llama_memory_clear(mem, true);
    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int32_t i = 0; i < n; ++i) {
        batch.token[i] = tokens[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    const bool encoder_only = llama_model_has_encoder(llm->model) && !llama_model_has_decoder(llm->model);
    const int32_t rc = encoder_only ? llama_encode(ctx, batch) : llama_decode(ctx, batch);
    llama_batch_free(batch);
    if (rc != 0) {
        set_err(err, err_size, "embedding decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors());
        return -1;
    }
    const bool model_pools = llama_pooling_type(ctx) != LLAMA_POOLING_TYPE_NONE;
    if (pooled && model_pools) {
        const float * e = llama_get_embeddings_seq(ctx, 0);
        if (!e) {
            set_err(err, err_size, "llama.cpp returned no pooled embedding");
            return -1;
        }
        std::memcpy(out, e, sizeof(float) * static_cast<size_t>(n_out));
        return 0;
    }
    if (pooled) std::fill(out, out + n_out, 0.0f);
    for (int32_t i = 0; i < n; ++i) {
        const float * e = llama_get_embeddings_ith(ctx, i);
        if (!e) {
            set_err(err, err_size, "llama.cpp returned no embedding for token " + std::to_string(i));
            return -1;
        }
        if (pooled) {
            for (int32_t j = 0; j < n_out; ++j) out[j] += e[j] / static_cast<float>(n);
        } else {
            std::memcpy(out + static_cast<size_t>(i) * n_out, e, sizeof(float) * static_cast<size_t>(n_out));
        }
    }
    return 0;
}

int32_t dep_llm_embed_width(const dep_llm * llm) { return llama_model_n_embd_out(llm->model); }
