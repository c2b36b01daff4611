// dep_llm: llama.cpp inference over mixed token / embedding segments.
#include "dep/llm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ggml.h"
#include "llama.h"
#include "handle.h"
#include "log_capture.h"

namespace {

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

bool abort_callback(void * data) {
    return static_cast<dep_llm *>(data)->abort_requested.load(std::memory_order_relaxed);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

namespace dep {

int32_t decode_segment(dep_llm * llm, llama_context * ctx, const dep_segment & seg, int32_t pos, int32_t seq_id,
                       bool want_last_logits, bool all_logits, std::string & why) {
    const int32_t n_embd = llama_model_n_embd(llm->model);
    const int32_t n_batch = llm->params.n_batch;
    for (int32_t start = 0; start < seg.n; start += n_batch) {
        const int32_t n = std::min(n_batch, seg.n - start);
        llama_batch batch = llama_batch_init(n, seg.embd ? n_embd : 0, 1);
        for (int32_t i = 0; i < n; ++i) {
            if (seg.tokens) batch.token[i] = seg.tokens[start + i];
            batch.pos[i] = pos + start + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = seq_id;
            batch.logits[i] = all_logits || (want_last_logits && (start + i == seg.n - 1));
        }
        if (seg.embd) std::memcpy(batch.embd, seg.embd + static_cast<size_t>(start) * n_embd, sizeof(float) * n * n_embd);
        batch.n_tokens = n;
        const int32_t rc = llama_decode(ctx, batch);
        llama_batch_free(batch);
        if (rc != 0) {
            why = rc == 2 ? "aborted" : "llama_decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors();
            return rc == 2 ? 2 : -1;
        }
    }
    return 0;
}

int32_t decode_prompt(dep_llm * llm, llama_context * ctx, const dep_segment * segments, int32_t n_segments,
                      int32_t seq_id, std::string & why) {
    int64_t n_total = 0;
    bool any_embd = false;
    for (int32_t i = 0; i < n_segments; ++i) {
        n_total += segments[i].n;
        any_embd = any_embd || (segments[i].embd && segments[i].n > 0);
    }
    const int32_t n = static_cast<int32_t>(n_total);
    if (!any_embd) {
        std::vector<int32_t> tokens;
        tokens.reserve(static_cast<size_t>(n));
        for (int32_t i = 0; i < n_segments; ++i) tokens.insert(tokens.end(), segments[i].tokens, segments[i].tokens + segments[i].n);
        return decode_segment(llm, ctx, dep_segment{tokens.data(), nullptr, n}, 0, seq_id, true, false, why);
    }
    const size_t n_embd = static_cast<size_t>(llama_model_n_embd(llm->model));
    std::vector<float> rows(static_cast<size_t>(n) * n_embd);
    size_t at = 0;
    for (int32_t i = 0; i < n_segments; ++i) {
        const dep_segment & seg = segments[i];
        float * dst = rows.data() + at * n_embd;
        if (seg.embd) {
            std::memcpy(dst, seg.embd, sizeof(float) * static_cast<size_t>(seg.n) * n_embd);
        } else if (seg.n > 0) {
            char err[512] = {0};
            if (dep_llm_token_embeddings(llm, seg.tokens, seg.n, dst, err, sizeof(err)) != 0) {
                why = std::string("could not look up the prompt's token rows: ") + err;
                return -1;
            }
        }
        at += static_cast<size_t>(seg.n);
    }
    return decode_segment(llm, ctx, dep_segment{nullptr, rows.data(), n}, 0, seq_id, true, false, why);
}

int32_t count_positions(const dep_llm * llm, const dep_segment * segments, int32_t n_segments, std::string & err) {
    const int32_t n_vocab = llama_vocab_n_tokens(llm->vocab);
    int64_t n_prompt = 0;
    for (int32_t i = 0; i < n_segments; ++i) {
        const dep_segment & seg = segments[i];
        if ((seg.tokens == nullptr) == (seg.embd == nullptr) || seg.n < 0) {
            err = "segment " + std::to_string(i) + " must hold either tokens or embeddings";
            return -1;
        }
        if (seg.tokens) {
            for (int32_t j = 0; j < seg.n; ++j) {
                if (seg.tokens[j] < 0 || seg.tokens[j] >= n_vocab) {
                    err = "segment " + std::to_string(i) + ": token " + std::to_string(seg.tokens[j]) + " at index " +
                          std::to_string(j) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")";
                    return -1;
                }
            }
        }
        n_prompt += seg.n;
    }
    if (n_prompt > INT32_MAX / 2) {
        err = "the prompt is too long";
        return -1;
    }
    return static_cast<int32_t>(n_prompt);
}

int32_t prompt_positions(const dep_llm * llm, const dep_segment * segments, int32_t n_segments, std::string & err) {
    const int32_t n = count_positions(llm, segments, n_segments, err);
    if (n < 0) return -1;
    if (n == 0) {
        err = "the prompt is empty";
        return -1;
    }
    if (n + 1 > llm->params.n_ctx) {
        err = "the prompt has " + std::to_string(n) + " positions but the context holds " +
              std::to_string(llm->params.n_ctx) + " (shorten it or load with a larger contextSize)";
        return -1;
    }
    return n;
}

llama_sampler * make_sampler(const dep_sampling * s) {
    llama_sampler * chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (s->temperature <= 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else {
        // DEP_SAMPLER_ORDER_VLLM is vLLM 0.7.3's (model_executor/layers/sampler.py: logits / temperature, then
        // _apply_top_k_top_p: top-k, then top-p over the scaled logits' softmax), what the reference samples with
        if (s->order == DEP_SAMPLER_ORDER_VLLM) llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
        if (s->top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(s->top_k));
        if (s->top_p < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(s->top_p, 1));
        if (s->order != DEP_SAMPLER_ORDER_VLLM) llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_dist(s->seed));
    }
    return chain;
}

void set_attention(llama_context_params & cp, const dep_llm_params & params) {
    if (params.kv_f32) {
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
    }
    // Flash attention rounds K/V to F16, and on the CPU it splits a lone sequence's decode step over the
    // threads once 512 cells are in use, summing the partial softmaxes in an order that depends on the
    // thread count and on how many sequences share the batch: greedy text then changed with --threads or
    // --parallel after a few hundred tokens (so a resumed or sharded run on another node size differed).
    // Without it every attention row is one thread's dot products: the same tokens for any thread count.
    if (params.kv_f32 || params.n_gpu_layers == 0) cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
}

grad::GgufWeights * llm_weights(dep_llm * llm, std::string & err) {
    std::lock_guard<std::mutex> lock(llm->weights_mu);
    if (!llm->weights) llm->weights = grad::GgufWeights::open(llm->path, err);
    return llm->weights.get();
}

}  // namespace dep

dep_llm_params dep_llm_default_params(void) {
    dep_llm_params p{};
    p.n_threads = 1;
    p.n_ctx = 0;
    p.n_batch = 512;
    p.n_gpu_layers = 0;
    p.n_seq_max = 1;
    p.grad_backward = DEP_GRAD_BACKWARD_NONE;
    p.kv_f32 = false;
    p.grad_f16 = false;
    p.cpu_repack = true;
    return p;
}

dep_sampling dep_sampling_default(void) {
    dep_sampling s{};
    s.max_tokens = 128;
    s.temperature = 0.0f;
    s.top_p = 1.0f;
    s.top_k = 0;
    s.seed = 42;
    s.order = DEP_SAMPLER_ORDER_LLAMA_CPP;
    return s;
}

dep_llm * dep_llm_load(const char * path, dep_llm_params params, char * err, size_t err_size) {
    dep::install_log_capture();
    if (params.n_threads <= 0 || params.n_threads > 1024) {  // libgomp fails (then SIGSEGV) far beyond
        set_err(err, err_size, "threads must be an integer from 1 to 1024 (use the number of physical cores)");
        return nullptr;
    }
    // as an int: a C caller may pass any value in the enum's storage
    const int grad_backward = static_cast<int>(params.grad_backward);
    if (grad_backward < DEP_GRAD_BACKWARD_NONE || grad_backward > DEP_GRAD_BACKWARD_F32) {
        set_err(err, err_size, "grad_backward must be 0 (none), 1 (F16), 2 (BF16) or 3 (F32)");
        return nullptr;
    }
    if (params.n_batch <= 0 || params.n_seq_max <= 0 || params.n_ctx < 0) {
        set_err(err, err_size, "batch size and sequence count must be positive, context size non-negative");
        return nullptr;
    }
    if (!dep_gguf_check(path, err, err_size)) return nullptr;
    dep::take_logged_errors();

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = params.n_gpu_layers;
    mp.use_extra_bufts = params.cpu_repack;
    dep::begin_buffer_capture();
    llama_model * model = llama_model_load_from_file(path, mp);
    const auto buffers = dep::take_buffer_capture();
    if (!model) {
        std::string why = dep::take_logged_errors();
        set_err(err, err_size, std::string("llama.cpp could not load ") + path + (why.empty() ? "" : ": " + why));
        return nullptr;
    }
    int32_t n_ctx = params.n_ctx;
    if (n_ctx == 0) n_ctx = std::min(llama_model_n_ctx_train(model), 4096);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(n_ctx);
    cp.n_batch = static_cast<uint32_t>(params.n_batch);
    cp.n_ubatch = static_cast<uint32_t>(params.n_batch);
    cp.n_seq_max = static_cast<uint32_t>(params.n_seq_max);
    cp.n_threads = params.n_threads;
    cp.n_threads_batch = params.n_threads;
    cp.no_perf = true;
    dep::set_attention(cp, params);

    auto * llm = new dep_llm();
    llm->model = model;
    llm->vocab = llama_model_get_vocab(model);
    cp.abort_callback = abort_callback;
    cp.abort_callback_data = llm;
    llm->ctx = llama_init_from_model(model, cp);
    if (!llm->ctx) {
        std::string why = dep::take_logged_errors();
        set_err(err, err_size, "llama.cpp could not create a context of " + std::to_string(n_ctx) + " tokens" +
                                   (why.empty() ? "" : ": " + why));
        llama_model_free(model);
        delete llm;
        return nullptr;
    }
    llm->params = params;
    llm->path = path;
    for (const auto & [name, bytes] : buffers) {
        auto it = std::find_if(llm->weight_buffers.begin(), llm->weight_buffers.end(),
                               [&](const auto & b) { return b.first == name; });
        if (it == llm->weight_buffers.end()) llm->weight_buffers.emplace_back(name, bytes);
        else it->second += bytes;
    }
    llm->params.n_ctx = static_cast<int32_t>(llama_n_ctx(llm->ctx));
    char buf[128] = {0};
    if (llama_model_meta_val_str(model, "general.architecture", buf, sizeof(buf)) > 0) llm->arch = buf;
    return llm;
}

void dep_llm_free(dep_llm * llm) {
    if (!llm) return;
    llm->grad.reset();
    llm->weights.reset();
    dep_batch_close(llm->session);
    if (llm->batch_ctx) llama_free(llm->batch_ctx);
    if (llm->embd_ctx_tokens) llama_free(llm->embd_ctx_tokens);
    if (llm->embd_ctx_pooled) llama_free(llm->embd_ctx_pooled);
    if (llm->ctx) llama_free(llm->ctx);
    if (llm->model) llama_model_free(llm->model);
    delete llm;
}

void dep_llm_get_info(const dep_llm * llm, dep_llm_info * out) {
    std::memset(out, 0, sizeof(*out));
    std::snprintf(out->arch, sizeof(out->arch), "%s", llm->arch.c_str());
    out->n_embd = llama_model_n_embd(llm->model);
    out->n_layer = llama_model_n_layer(llm->model);
    out->n_head = llama_model_n_head(llm->model);
    out->n_head_kv = llama_model_n_head_kv(llm->model);
    out->n_vocab = llama_vocab_n_tokens(llm->vocab);
    out->n_ctx_train = llama_model_n_ctx_train(llm->model);
    out->n_ctx = llm->params.n_ctx;
    out->bos = llama_vocab_bos(llm->vocab);
    out->eos = llama_vocab_eos(llm->vocab);
    out->add_bos = llama_vocab_get_add_bos(llm->vocab);
    out->n_params = llama_model_n_params(llm->model);
    for (const auto & [name, bytes] : llm->weight_buffers) {
        if (out->n_weight_buffers == DEP_MAX_WEIGHT_BUFFERS) break;
        dep_weight_buffer & b = out->weight_buffers[out->n_weight_buffers++];
        std::snprintf(b.name, sizeof(b.name), "%s", name.c_str());
        b.bytes = bytes;
    }
}

const char * dep_llm_chat_template(const dep_llm * llm) { return llama_model_chat_template(llm->model, nullptr); }

int32_t dep_llm_tokenize(const dep_llm * llm, const char * text, int32_t text_len, int32_t * tokens, int32_t n_max,
                         bool add_special, bool parse_special) {
    return llama_tokenize(llm->vocab, text, text_len, tokens, n_max, add_special, parse_special);
}

int32_t dep_llm_detokenize(const dep_llm * llm, const int32_t * tokens, int32_t n, char * buf, int32_t buf_size,
                           bool remove_special, bool unparse_special) {
    return llama_detokenize(llm->vocab, tokens, n, buf, buf_size, remove_special, unparse_special);
}

int32_t dep_llm_token_to_piece(const dep_llm * llm, int32_t token, char * buf, int32_t buf_size) {
    return llama_token_to_piece(llm->vocab, token, buf, buf_size, 0, true);
}

bool dep_llm_is_eog(const dep_llm * llm, int32_t token) { return llama_vocab_is_eog(llm->vocab, token); }

int32_t dep_llm_apply_chat_template(const dep_llm * llm, const char * tmpl, const char * const * roles,
                                    const char * const * contents, int32_t n_messages, bool add_assistant,
                                    char * buf, int32_t buf_size) {
    if (!tmpl) tmpl = llama_model_chat_template(llm->model, nullptr);
    std::vector<llama_chat_message> msgs(static_cast<size_t>(n_messages));
    for (int32_t i = 0; i < n_messages; ++i) msgs[i] = {roles[i], contents[i]};
    const int32_t rc = llama_chat_apply_template(tmpl, msgs.data(), msgs.size(), add_assistant, buf, buf_size);
    if (rc < 0) return INT32_MIN;
    return rc > buf_size ? -rc : rc;
}

void dep_llm_request_abort(dep_llm * llm) { llm->abort_requested.store(true); }

int32_t dep_llm_generate(dep_llm * llm, const dep_segment * segments, int32_t n_segments, const dep_sampling * s,
                         dep_token_callback cb, void * user_data, dep_generate_stats * stats, char * err,
                         size_t err_size) {
    dep_generate_stats st{};
    std::string why0;
    const int32_t n_prompt = dep::prompt_positions(llm, segments, n_segments, why0);
    if (n_prompt < 0) {
        set_err(err, err_size, why0);
        return -1;
    }
    const int32_t max_tokens = std::max(0, std::min(s->max_tokens, llm->params.n_ctx - n_prompt));

    llm->abort_requested.store(false);
    llama_memory_clear(llama_get_memory(llm->ctx), true);

    auto t0 = std::chrono::steady_clock::now();
    {
        std::string why;
        const int32_t rc = dep::decode_prompt(llm, llm->ctx, segments, n_segments, 0, why);
        if (rc == 2) {
            st.n_prompt = n_prompt;
            st.stop_reason = DEP_STOP_ABORTED;
            st.prompt_ms = ms_since(t0);
            if (stats) *stats = st;
            return 0;
        }
        if (rc != 0) {
            set_err(err, err_size, why);
            return -1;
        }
    }
    st.n_prompt = n_prompt;
    st.prompt_ms = ms_since(t0);

    llama_sampler * chain = dep::make_sampler(s);

    auto t1 = std::chrono::steady_clock::now();
    st.stop_reason = DEP_STOP_MAX_TOKENS;
    for (int32_t n = 0; n < max_tokens; ++n) {
        if (llm->abort_requested.load()) { st.stop_reason = DEP_STOP_ABORTED; break; }
        llama_token tok = llama_sampler_sample(chain, llm->ctx, -1);
        if (llama_vocab_is_eog(llm->vocab, tok)) { st.stop_reason = DEP_STOP_EOG; break; }
        st.n_generated++;
        if (cb && !cb(tok, user_data)) { st.stop_reason = DEP_STOP_CALLER; break; }
        if (n + 1 == max_tokens) break;  // no need to decode a token nobody will read past
        llama_batch batch = llama_batch_get_one(&tok, 1);
        const int32_t rc = llama_decode(llm->ctx, batch);
        if (rc == 2) { st.stop_reason = DEP_STOP_ABORTED; break; }
        if (rc != 0) {
            llama_sampler_free(chain);
            set_err(err, err_size, "llama_decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors());
            return -1;
        }
    }
    st.generate_ms = ms_since(t1);
    llama_sampler_free(chain);
    if (stats) *stats = st;
    return 0;
}

int32_t dep_llm_token_embeddings(dep_llm * llm, const int32_t * tokens, int32_t n, float * out, char * err,
                                 size_t err_size) {
    std::string why;
    dep::grad::GgufWeights * w = dep::llm_weights(llm, why);
    if (!w) {
        set_err(err, err_size, why);
        return -1;
    }
    const ggml_tensor * t = w->find("token_embd.weight");
    if (!t) {
        set_err(err, err_size, "the GGUF has no token_embd.weight tensor");
        return -1;
    }
    if (t->ne[0] != llama_model_n_embd(llm->model)) {
        set_err(err, err_size, "token_embd.weight rows do not have the model's embedding width");
        return -1;
    }
    if (!w->gather_rows_f32(t, tokens, n, out, why)) {
        set_err(err, err_size, why);
        return -1;
    }
    return 0;
}
