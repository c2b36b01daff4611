// dep_llm_generate_batch: several prompts decoded in parallel sequences of one (second) llama context.
// Each slot decodes its prompt segment by segment exactly as dep_llm_generate does, samples with its own
// chain, and the generation steps of all busy slots share one llama_decode call.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dep/llm.h"
#include "llm_internal.h"
#include "log_capture.h"

namespace {

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool abort_callback(void * data) { return static_cast<dep_llm *>(data)->abort_requested.load(std::memory_order_relaxed); }

struct Slot {
    int32_t request = -1;   // -1: free
    llama_sampler * sampler = nullptr;
    llama_token pending = 0;  // sampled, reported, not yet decoded
    int32_t pos = 0;
    int32_t max_tokens = 0;
    std::chrono::steady_clock::time_point t_gen;
};

}  // namespace

void dep_llm_batch_cancel(dep_llm * llm, int32_t request) {
    if (!llm) return;
    std::lock_guard<std::mutex> lock(llm->batch_mu);
    if (request >= 0 && request < llm->batch_cancel_n) llm->batch_cancel[request].store(true);
}

int32_t dep_llm_generate_batch(dep_llm * llm, const dep_batch_request * requests, int32_t n_requests,
                               const dep_sampling * s, int32_t n_parallel, dep_batch_token_callback cb,
                               void * user_data, dep_generate_stats * stats, char * err, size_t err_size) {
    if (n_requests <= 0) return 0;
    if (n_parallel <= 0) {
        set_err(err, err_size, "n_parallel must be positive");
        return -1;
    }
    n_parallel = std::min(n_parallel, n_requests);
    const int32_t n_ctx = llm->params.n_ctx;
    std::vector<int32_t> n_prompt(static_cast<size_t>(n_requests));
    for (int32_t r = 0; r < n_requests; ++r) {
        std::string why;
        const int32_t n = dep::count_positions(llm, requests[r].segments, requests[r].n_segments, why);
        if (n < 0) {
            set_err(err, err_size, "request " + std::to_string(r) + ": " + why);
            return -1;
        }
        if (n == 0) {
            set_err(err, err_size, "request " + std::to_string(r) + ": the prompt is empty");
            return -1;
        }
        if (n + 1 > n_ctx) {
            set_err(err, err_size, "request " + std::to_string(r) + ": the prompt has " + std::to_string(n) +
                                       " positions but the context holds " + std::to_string(n_ctx) +
                                       " (shorten it or load with a larger contextSize)");
            return -1;
        }
        n_prompt[static_cast<size_t>(r)] = n;
    }
    // a second context: n_parallel sequences, each with its own n_ctx cells
    if (!llm->batch_ctx || llm->batch_ctx_seqs < n_parallel) {
        if (llm->batch_ctx) llama_free(llm->batch_ctx);
        llm->batch_ctx = nullptr;
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = static_cast<uint32_t>(n_ctx) * static_cast<uint32_t>(n_parallel);
        cp.n_batch = static_cast<uint32_t>(std::max(llm->params.n_batch, n_parallel));
        cp.n_ubatch = cp.n_batch;
        cp.n_seq_max = static_cast<uint32_t>(n_parallel);
        cp.kv_unified = false;
        cp.n_threads = llm->params.n_threads;
        cp.n_threads_batch = llm->params.n_threads;
        cp.no_perf = true;
        dep::set_attention(cp, llm->params);
        cp.abort_callback = abort_callback;
        cp.abort_callback_data = llm;
        llm->batch_ctx = llama_init_from_model(llm->model, cp);
        if (!llm->batch_ctx) {
            set_err(err, err_size, "llama.cpp could not create a context for " + std::to_string(n_parallel) +
                                       " parallel sequences: " + dep::take_logged_errors());
            return -1;
        }
        llm->batch_ctx_seqs = n_parallel;
    }
    llama_context * ctx = llm->batch_ctx;
    llama_memory_t mem = llama_get_memory(ctx);
    llama_memory_clear(mem, true);
    {
        std::lock_guard<std::mutex> lock(llm->batch_mu);
        llm->batch_cancel.reset(new std::atomic<bool>[static_cast<size_t>(n_requests)]);
        for (int32_t r = 0; r < n_requests; ++r) llm->batch_cancel[r].store(false);
        llm->batch_cancel_n = n_requests;
    }
    llm->abort_requested.store(false);
    for (int32_t r = 0; r < n_requests; ++r) {
        stats[r] = dep_generate_stats{};
        stats[r].n_prompt = n_prompt[static_cast<size_t>(r)];
    }

    std::vector<Slot> slots(static_cast<size_t>(n_parallel));
    int32_t next = 0;
    int32_t rc_out = 0;
    std::string why;
    bool aborted = false;

    // reports a sampled token; returns true when the request goes on
    auto accept = [&](Slot & sl, llama_token tok) -> bool {
        dep_generate_stats & st = stats[sl.request];
        if (llm->batch_cancel[sl.request].load()) {
            st.stop_reason = 3;
            return false;
        }
        if (llama_vocab_is_eog(llm->vocab, tok)) {
            st.stop_reason = 0;
            return false;
        }
        st.n_generated++;
        if (cb && !cb(sl.request, tok, user_data)) {
            st.stop_reason = 3;
            return false;
        }
        if (st.n_generated >= sl.max_tokens) {
            st.stop_reason = 1;
            return false;
        }
        sl.pending = tok;
        return true;
    };
    auto release = [&](Slot & sl) {
        if (sl.request >= 0) stats[sl.request].generate_ms = ms_since(sl.t_gen);
        llama_memory_seq_rm(mem, static_cast<llama_seq_id>(&sl - slots.data()), -1, -1);
        if (sl.sampler) llama_sampler_free(sl.sampler);
        sl.sampler = nullptr;
        sl.request = -1;
    };

    for (;;) {
        // fill free slots: decode their prompts and sample their first tokens
        for (size_t si = 0; si < slots.size() && !aborted && rc_out == 0; ++si) {
            Slot & sl = slots[si];
            while (sl.request < 0 && next < n_requests) {
                const int32_t r = next++;
                sl.request = r;
                sl.pos = 0;
                sl.max_tokens = std::max(0, std::min(s->max_tokens, n_ctx - n_prompt[static_cast<size_t>(r)]));
                auto t0 = std::chrono::steady_clock::now();
                const dep_batch_request & req = requests[r];
                const int32_t rc = dep::decode_prompt(llm, ctx, req.segments, req.n_segments, static_cast<int32_t>(si), why);
                if (rc == 2) aborted = true;
                if (rc == -1) rc_out = -1;
                sl.pos = n_prompt[static_cast<size_t>(r)];
                stats[r].prompt_ms = ms_since(t0);
                sl.t_gen = std::chrono::steady_clock::now();
                if (aborted || rc_out != 0) break;
                if (sl.max_tokens == 0) {
                    stats[r].stop_reason = 1;
                    release(sl);
                    continue;
                }
                sl.sampler = dep::make_sampler(s);
                const llama_token tok = llama_sampler_sample(sl.sampler, ctx, -1);
                if (!accept(sl, tok)) release(sl);
            }
        }
        if (aborted || rc_out != 0) break;
        int32_t n_busy = 0;
        for (const Slot & sl : slots) n_busy += sl.request >= 0 ? 1 : 0;
        if (n_busy == 0) break;
        if (llm->abort_requested.load()) {
            aborted = true;
            break;
        }
        llama_batch batch = llama_batch_init(n_busy, 0, 1);
        std::vector<size_t> order;
        for (size_t si = 0; si < slots.size(); ++si) {
            Slot & sl = slots[si];
            if (sl.request < 0) continue;
            const int32_t j = batch.n_tokens++;
            batch.token[j] = sl.pending;
            batch.pos[j] = sl.pos++;
            batch.n_seq_id[j] = 1;
            batch.seq_id[j][0] = static_cast<llama_seq_id>(si);
            batch.logits[j] = 1;
            order.push_back(si);
        }
        const int32_t rc = llama_decode(ctx, batch);
        llama_batch_free(batch);
        if (rc == 2) {
            aborted = true;
            break;
        }
        if (rc != 0) {
            why = "llama_decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors();
            rc_out = -1;
            break;
        }
        for (size_t j = 0; j < order.size(); ++j) {
            Slot & sl = slots[order[j]];
            const llama_token tok = llama_sampler_sample(sl.sampler, ctx, static_cast<int32_t>(j));
            if (!accept(sl, tok)) release(sl);
        }
    }
    if (aborted) {
        for (Slot & sl : slots)
            if (sl.request >= 0) stats[sl.request].stop_reason = 2;
        for (int32_t r = next; r < n_requests; ++r) stats[r].stop_reason = 2;
    }
    for (Slot & sl : slots)
        if (sl.request >= 0) release(sl);
    if (rc_out != 0) {
        set_err(err, err_size, why);
        return -1;
    }
    return 0;
}
