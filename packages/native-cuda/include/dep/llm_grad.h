// dep/llm_grad.h — exact gradients of the frozen LLM's loss with respect to soft-prompt rows.
//
// llama.cpp has no gradient path to its input embeddings, so the transformer is rebuilt by hand as a ggml
// graph from the same GGUF (architectures `llama` and `qwen2`), with the weights dequantized to F32
// (4 bytes per parameter: ~4.4 GB for a 1.1B model), loaded lazily by the first call. Same threading rule
// as dep_llm: calls on one handle are serialised by the caller.
#pragma once

#include "dep/llm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dep_grad_stats {
    int32_t n_positions;     // graph positions (segments + targets - 1)
    int32_t n_targets;
    double  load_ms;         // time spent loading the F32 weights (first call only)
    double  compute_ms;      // graph build + forward + backward
    size_t  weight_bytes;    // memory held by the gradient graph's weights
    size_t  compute_bytes;   // the largest compute buffer allocated so far
} dep_grad_stats;

// Mean next-token cross-entropy of targets[0..n_targets) following the segments, and its gradient with
// respect to every embedding segment: grads[j] (n * n_embd floats, caller-owned) for the j-th segment that
// holds embeddings, in order. Returns 0, 2 when aborted (dep_llm_request_abort), -1 on error.
int32_t dep_llm_loss_and_grad(dep_llm * llm, const dep_segment * segments, int32_t n_segments,
                              const int32_t * targets, int32_t n_targets, float * loss, float * const * grads,
                              dep_grad_stats * stats, char * err, size_t err_size);

// Debug/parity: logits [n_positions, n_vocab] for every position of the segments, computed by the gradient
// graph (use_graph) or by llama_decode (in a fresh sequence). Returns 0 or -1.
int32_t dep_llm_debug_logits(dep_llm * llm, const dep_segment * segments, int32_t n_segments, bool use_graph,
                             float * out, char * err, size_t err_size);

// Frees the gradient graph's weights and buffers (they are loaded again by the next call).
void dep_llm_release_grad(dep_llm * llm);

// A comma-separated list of the architectures the gradient graph supports.
const char * dep_llm_grad_supported_archs(void);

#ifdef __cplusplus
}
#endif
