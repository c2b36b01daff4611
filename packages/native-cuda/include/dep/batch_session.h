// dep/batch_session.h — parallel sequences of one dep_llm: batched generation and continuous batching.
//
// Both run in a second llama.cpp context of the handle (created on first use, n_parallel / n_slots sequences
// of n_ctx positions each) and share the handle's model; dep_llm_free frees that context and closes a
// session left open. Same threading rule as dep_llm, except for the cancel functions (any thread).
#pragma once

#include "dep/llm.h"  // dep_llm, dep_segment, dep_sampling, dep_generate_stats

#ifdef __cplusplus
extern "C" {
#endif

// One prompt of a batched generation.
typedef struct dep_batch_request {
    const dep_segment * segments;
    int32_t             n_segments;
} dep_batch_request;

// Called once per generated token of request `request`. Return false to stop that request only.
typedef bool (*dep_batch_token_callback)(int32_t request, int32_t token, void * user_data);

// Generates a continuation for each request, n_parallel sequences at a time in a second context (created on
// the first call, n_parallel sequences of n_ctx positions each): a batch session fed from `requests`. Each request gets its own sampler seeded
// with s->seed, so a request gives the same tokens as dep_llm_generate alone (greedy). stats[n_requests].
// Returns 0 on success (also when aborted: DEP_STOP_ABORTED), -1 on error (message in err).
int32_t dep_llm_generate_batch(dep_llm * llm, const dep_batch_request * requests, int32_t n_requests,
                               const dep_sampling * s, int32_t n_parallel, dep_batch_token_callback cb,
                               void * user_data, dep_generate_stats * stats, char * err, size_t err_size);

// Stops one request of the running dep_llm_generate_batch (thread-safe; out-of-range indices are ignored).
void dep_llm_batch_cancel(dep_llm * llm, int32_t request);

// A continuous-batching session: n_slots sequences of the second context (as dep_llm_generate_batch uses;
// one session per handle at a time). Prompts join free slots between decode steps and finished sequences
// leave at once, so a request that arrives while others generate does not wait for them. add, step and close
// run one at a time (the caller serialises them); cancel may be called from any thread at any time.
typedef struct dep_batch_session dep_batch_session;

// What a slot did in one add or step.
typedef struct dep_batch_event {
    int32_t slot;
    int32_t token;        // the token sampled for the slot (already counted in n_generated); -1: none
    int32_t finished;     // nonzero: the slot is free again and stop_reason says why
    dep_stop_reason stop_reason;  // when finished (DEP_STOP_CALLER: cancelled)
    int32_t n_generated;  // tokens generated so far
    int32_t n_prompt;     // prompt positions (add only)
    double  prompt_ms;    // prompt evaluation time (add only)
    double  generate_ms;  // since the slot's first token was sampled
} dep_batch_event;

// Opens a session of n_slots (creating or growing the second context as needed). NULL on error (err).
dep_batch_session * dep_batch_open(dep_llm * llm, int32_t n_slots, char * err, size_t err_size);

// Decodes a prompt into the free slot `slot` alone, with its own sampler settings and chain (so a slot gives
// the tokens dep_llm_generate gives alone, up to llama.cpp's batched steps not being bit-invariant to their
// width on some quantized models), and samples its first token into *event. Returns 0, or -1 (slot busy or out of range, bad or too long a prompt: err) with the
// slot still free. A cancel during the prompt stops it (event->finished, stop_reason 3).
int32_t dep_batch_add(dep_batch_session * session, int32_t slot, const dep_segment * segments, int32_t n_segments,
                      const dep_sampling * s, dep_batch_event * event, char * err, size_t err_size);

// One decode step for every busy slot: frees cancelled ones, decodes each slot's last token in one
// llama_decode and samples the next. Writes one event per slot busy at the start (events[n_slots]); returns
// their count, or -1 on a decode error (every slot is then freed; message in err).
int32_t dep_batch_step(dep_batch_session * session, dep_batch_event * events, char * err, size_t err_size);

// Cancels what slot `slot` runs (thread-safe): its prompt evaluation stops, or the next step frees it. The
// flag is cleared by the next dep_batch_add of that slot. Out-of-range slots are ignored.
void dep_batch_cancel(dep_batch_session * session, int32_t slot);

// Slots in use.
int32_t dep_batch_busy(const dep_batch_session * session);

// Frees the session's sequences (the context stays for the next session). NULL is allowed; dep_llm_free
// closes a session left open.
void dep_batch_close(dep_batch_session * session);

#ifdef __cplusplus
}
#endif
