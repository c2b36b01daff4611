// Parallel sequences of one (second) llama context. A batch session holds n slots: a prompt is decoded into a
// free slot segment by segment exactly as dep_llm_generate does and sampled with the slot's own chain, and the
// generation steps of all busy slots share one llama_decode call. Slots are filled and freed between steps
// (continuous batching). dep_llm_generate_batch is a session fed from a fixed list of requests.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dep/batch_session.h"
#include "dep/llm.h"
#include "handle.h"
#include "log_capture.h"

namespace {

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Slot {
    bool busy = false;
    llama_sampler * sampler = nullptr;
    llama_token pending = 0;  // sampled, reported, not yet decoded
    int32_t pos = 0;
    int32_t max_tokens = 0;
    int32_t n_generated = 0;
    std::chrono::steady_clock::time_point t_gen;
};

}  // namespace

struct dep_batch_session {
    dep_llm * llm = nullptr;
    llama_context * ctx = nullptr;
    std::vector<Slot> slots;
    std::unique_ptr<std::atomic<bool>[]> cancel;
    std::atomic<int32_t> prefilling{-1};  // the slot whose prompt is being decoded
    bool follow_llm_abort = false;        // dep_llm_request_abort stops this session (generate_batch)
};

namespace {

bool session_abort(void * data) {
    auto * s = static_cast<dep_batch_session *>(data);
    if (s->follow_llm_abort && s->llm->abort_requested.load(std::memory_order_relaxed)) return true;
    const int32_t p = s->prefilling.load(std::memory_order_relaxed);
    return p >= 0 && s->cancel[p].load(std::memory_order_relaxed);
}

bool llm_abort(void * data) { return static_cast<dep_llm *>(data)->abort_requested.load(std::memory_order_relaxed); }

// The batch context with room for n sequences of n_ctx positions each (created or grown on demand).
llama_context * batch_context(dep_llm * llm, int32_t n, std::string & why) {
    if (llm->batch_ctx && llm->batch_ctx_seqs >= n) return llm->batch_ctx;
    if (llm->batch_ctx) llama_free(llm->batch_ctx);
    llm->batch_ctx = nullptr;
    llm->batch_ctx_seqs = 0;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(llm->params.n_ctx) * static_cast<uint32_t>(n);
    cp.n_batch = static_cast<uint32_t>(std::max(llm->params.n_batch, n));
    cp.n_ubatch = cp.n_batch;
    cp.n_seq_max = static_cast<uint32_t>(n);
    cp.kv_unified = false;
    cp.n_threads = llm->params.n_threads;
    cp.n_threads_batch = llm->params.n_threads;
    cp.no_perf = true;
    dep::set_attention(cp, llm->params);
    cp.abort_callback = llm_abort;
    cp.abort_callback_data = llm;
    llm->batch_ctx = llama_init_from_model(llm->model, cp);
    if (!llm->batch_ctx) {
        why = "llama.cpp could not create a context for " + std::to_string(n) +
              " parallel sequences: " + dep::take_logged_errors();
        return nullptr;
    }
    llm->batch_ctx_seqs = n;
    return llm->batch_ctx;
}

void release(dep_batch_session * s, int32_t si, dep_stop_reason reason, dep_batch_event & ev) {
    Slot & sl = s->slots[static_cast<size_t>(si)];
    ev.finished = 1;
    ev.stop_reason = reason;
    ev.n_generated = sl.n_generated;
    ev.generate_ms = ms_since(sl.t_gen);
    llama_memory_seq_rm(llama_get_memory(s->ctx), si, -1, -1);
    if (sl.sampler) llama_sampler_free(sl.sampler);
    sl = Slot{};
}

// Samples slot si's next token from logits row `row` and records it in ev; frees the slot when it ends.
void sample(dep_batch_session * s, int32_t si, int32_t row, dep_batch_event & ev) {
    Slot & sl = s->slots[static_cast<size_t>(si)];
    const llama_token tok = llama_sampler_sample(sl.sampler, s->ctx, row);
    if (s->cancel[si].load()) return release(s, si, DEP_STOP_CALLER, ev);
    if (llama_vocab_is_eog(s->llm->vocab, tok)) return release(s, si, DEP_STOP_EOG, ev);
    sl.n_generated++;
    ev.token = tok;
    ev.n_generated = sl.n_generated;
    ev.generate_ms = ms_since(sl.t_gen);
    if (sl.n_generated >= sl.max_tokens) return release(s, si, DEP_STOP_MAX_TOKENS, ev);
    sl.pending = tok;
}

bool aborted(const dep_batch_session * s) { return s->follow_llm_abort && s->llm->abort_requested.load(); }

dep_batch_session * open_session(dep_llm * llm, int32_t n_slots, bool follow_llm_abort, char * err, size_t err_size) {
    if (!llm) return nullptr;
    if (n_slots <= 0 || n_slots > 256) {
        set_err(err, err_size, "a batch session needs 1 to 256 slots");
        return nullptr;
    }
    if (llm->session) {
        set_err(err, err_size, "this model already has an open batch session (close it first)");
        return nullptr;
    }
    std::string why;
    llama_context * ctx = batch_context(llm, n_slots, why);
    if (!ctx) {
        set_err(err, err_size, why);
        return nullptr;
    }
    llama_memory_clear(llama_get_memory(ctx), true);
    auto * s = new dep_batch_session();
    s->llm = llm;
    s->ctx = ctx;
    s->slots.resize(static_cast<size_t>(n_slots));
    s->cancel.reset(new std::atomic<bool>[static_cast<size_t>(n_slots)]);
    for (int32_t i = 0; i < n_slots; ++i) s->cancel[i].store(false);
    s->follow_llm_abort = follow_llm_abort;
    llama_set_abort_callback(ctx, session_abort, s);
    llm->session = s;
    return s;
}

}  // namespace

dep_batch_session * dep_batch_open(dep_llm * llm, int32_t n_slots, char * err, size_t err_size) {
    return open_session(llm, n_slots, false, err, err_size);
}

int32_t dep_batch_add(dep_batch_session * s, int32_t si, const dep_segment * segments, int32_t n_segments,
                      const dep_sampling * sampling, dep_batch_event * ev, char * err, size_t err_size) {
    if (si < 0 || si >= static_cast<int32_t>(s->slots.size()) || s->slots[static_cast<size_t>(si)].busy) {
        set_err(err, err_size, "slot " + std::to_string(si) + " is not a free slot of this session");
        return -1;
    }
    if (sampling->max_tokens < 0 || !(sampling->top_p > 0.0f && sampling->top_p <= 1.0f)) {
        set_err(err, err_size, "max_tokens must be >= 0 and top_p in (0, 1]");
        return -1;
    }
    dep_llm * llm = s->llm;
    const int32_t n_ctx = llm->params.n_ctx;
    std::string why;
    const int32_t n_prompt = dep::prompt_positions(llm, segments, n_segments, why);
    if (n_prompt < 0) {
        set_err(err, err_size, why);
        return -1;
    }
    *ev = dep_batch_event{};
    ev->slot = si;
    ev->token = -1;
    ev->n_prompt = n_prompt;
    s->cancel[si].store(false);
    Slot & sl = s->slots[static_cast<size_t>(si)];
    sl.busy = true;
    sl.max_tokens = std::max(0, std::min(sampling->max_tokens, n_ctx - n_prompt));
    auto t0 = std::chrono::steady_clock::now();
    s->prefilling.store(si);
    const int32_t rc = dep::decode_prompt(llm, s->ctx, segments, n_segments, si, why);
    s->prefilling.store(-1);
    ev->prompt_ms = ms_since(t0);
    sl.pos = n_prompt;
    sl.t_gen = std::chrono::steady_clock::now();
    if (rc == -1) {
        release(s, si, DEP_STOP_ABORTED, *ev);
        *ev = dep_batch_event{};
        set_err(err, err_size, why);
        return -1;
    }
    if (rc == 2) {
        release(s, si, s->cancel[si].load() ? DEP_STOP_CALLER : DEP_STOP_ABORTED, *ev);
        return 0;
    }
    if (sl.max_tokens == 0) {
        release(s, si, DEP_STOP_MAX_TOKENS, *ev);
        return 0;
    }
    sl.sampler = dep::make_sampler(sampling);
    sample(s, si, -1, *ev);
    return 0;
}

int32_t dep_batch_step(dep_batch_session * s, dep_batch_event * events, char * err, size_t err_size) {
    int32_t n_events = 0;
    std::vector<int32_t> decoding;  // slots whose pending token goes into this step's batch
    for (int32_t si = 0; si < static_cast<int32_t>(s->slots.size()); ++si) {
        if (!s->slots[static_cast<size_t>(si)].busy) continue;
        dep_batch_event & ev = events[n_events++];
        ev = dep_batch_event{};
        ev.slot = si;
        ev.token = -1;
        if (s->cancel[si].load()) release(s, si, DEP_STOP_CALLER, ev);
        else if (aborted(s)) release(s, si, DEP_STOP_ABORTED, ev);
        else decoding.push_back(n_events - 1);
    }
    if (decoding.empty()) return n_events;
    llama_batch batch = llama_batch_init(static_cast<int32_t>(decoding.size()), 0, 1);
    for (int32_t e : decoding) {
        Slot & sl = s->slots[static_cast<size_t>(events[e].slot)];
        const int32_t j = batch.n_tokens++;
        batch.token[j] = sl.pending;
        batch.pos[j] = sl.pos++;
        batch.n_seq_id[j] = 1;
        batch.seq_id[j][0] = events[e].slot;
        batch.logits[j] = 1;
    }
    const int32_t rc = llama_decode(s->ctx, batch);
    llama_batch_free(batch);
    if (rc != 0) {
        const bool stopped = rc == 2;
        if (!stopped) set_err(err, err_size, "llama_decode failed with code " + std::to_string(rc) + ": " + dep::take_logged_errors());
        for (int32_t e : decoding) release(s, events[e].slot, DEP_STOP_ABORTED, events[e]);
        return stopped ? n_events : -1;
    }
    for (size_t j = 0; j < decoding.size(); ++j) {
        dep_batch_event & ev = events[decoding[j]];
        sample(s, ev.slot, static_cast<int32_t>(j), ev);
    }
    return n_events;
}

void dep_batch_cancel(dep_batch_session * s, int32_t slot) {
    if (s && slot >= 0 && slot < static_cast<int32_t>(s->slots.size())) s->cancel[slot].store(true);
}

int32_t dep_batch_busy(const dep_batch_session * s) {
    int32_t n = 0;
    for (const Slot & sl : s->slots) n += sl.busy ? 1 : 0;
    return n;
}

void dep_batch_close(dep_batch_session * s) {
    if (!s) return;
    dep_batch_event ev{};
    for (int32_t si = 0; si < static_cast<int32_t>(s->slots.size()); ++si)
        if (s->slots[static_cast<size_t>(si)].busy) release(s, si, DEP_STOP_ABORTED, ev);
    llama_set_abort_callback(s->ctx, llm_abort, s->llm);
    s->llm->session = nullptr;
    delete s;
}

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
    // every prompt is checked before any is decoded
    for (int32_t r = 0; r < n_requests; ++r) {
        std::string why;
        if (dep::prompt_positions(llm, requests[r].segments, requests[r].n_segments, why) < 0) {
            set_err(err, err_size, "request " + std::to_string(r) + ": " + why);
            return -1;
        }
    }
    llm->abort_requested.store(false);
    dep_batch_session * session = open_session(llm, std::min(n_parallel, n_requests), true, err, err_size);
    if (!session) return -1;
    {
        std::lock_guard<std::mutex> lock(llm->batch_mu);
        llm->batch_cancel.reset(new std::atomic<bool>[static_cast<size_t>(n_requests)]);
        for (int32_t r = 0; r < n_requests; ++r) llm->batch_cancel[r].store(false);
        llm->batch_cancel_n = n_requests;
    }
    for (int32_t r = 0; r < n_requests; ++r) stats[r] = dep_generate_stats{};

    const auto n_slots = static_cast<int32_t>(session->slots.size());
    std::vector<int32_t> request_of(static_cast<size_t>(n_slots), -1);
    std::vector<dep_batch_event> events(static_cast<size_t>(n_slots));
    int32_t next = 0;
    int32_t rc_out = 0;
    // reports what a slot did; a callback that says stop cancels the slot
    auto report = [&](const dep_batch_event & ev) {
        const int32_t r = request_of[static_cast<size_t>(ev.slot)];
        dep_generate_stats & st = stats[r];
        st.n_generated = ev.n_generated;
        st.generate_ms = ev.generate_ms;
        if (ev.token >= 0 && cb && !cb(r, ev.token, user_data) && !ev.finished) dep_batch_cancel(session, ev.slot);
        if (ev.finished) {
            st.stop_reason = ev.stop_reason;
            request_of[static_cast<size_t>(ev.slot)] = -1;
        }
    };
    for (;;) {
        // requests cancelled from outside
        for (int32_t si = 0; si < n_slots; ++si) {
            const int32_t r = request_of[static_cast<size_t>(si)];
            if (r >= 0 && llm->batch_cancel[r].load()) dep_batch_cancel(session, si);
        }
        for (int32_t si = 0; si < n_slots && next < n_requests && !aborted(session); ++si) {
            if (request_of[static_cast<size_t>(si)] >= 0) continue;
            const int32_t r = next++;
            if (llm->batch_cancel[r].load()) {
                stats[r].stop_reason = DEP_STOP_CALLER;
                --si;
                continue;
            }
            request_of[static_cast<size_t>(si)] = r;
            dep_batch_event ev{};
            if (dep_batch_add(session, si, requests[r].segments, requests[r].n_segments, s, &ev, err, err_size) != 0) {
                rc_out = -1;
                break;
            }
            stats[r].n_prompt = ev.n_prompt;
            stats[r].prompt_ms = ev.prompt_ms;
            report(ev);
            if (ev.finished) --si;  // refill the slot at once
        }
        if (rc_out != 0 || dep_batch_busy(session) == 0) break;
        const int32_t n = dep_batch_step(session, events.data(), err, err_size);
        if (n < 0) {
            rc_out = -1;
            break;
        }
        for (int32_t e = 0; e < n; ++e) report(events[static_cast<size_t>(e)]);
    }
    if (aborted(session))
        for (int32_t r = next; r < n_requests; ++r) stats[r].stop_reason = DEP_STOP_ABORTED;
    dep_batch_close(session);
    return rc_out;
}
