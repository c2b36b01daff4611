// dep/grad_engine.h — the native training engine: dL/d(soft rows) through a frozen llama/qwen2 LLM.
//
// The transformer's forward pass and its backward pass to the input rows only (frozen weights: no weight
// gradients), written layer by layer (cpp/engine), with every matrix product on oneDNN when the build found
// it (it picks AMX, AVX-512-BF16, AVX-512 or AVX2 itself) and on a portable loop otherwise. The same
// computation as dep_llm_loss_and_grad (the ggml graph, kept as the oracle), from its own handle: the weights
// are read from the GGUF, dequantized once at load and held in the engine's dtype until dep_grad_engine_free.
// Calls on one handle are serialised by the caller; dep_grad_engine_request_abort may come from any thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "dep/llm.h"  // dep_segment

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dep_grad_engine dep_grad_engine;

typedef enum dep_grad_engine_dtype {
    DEP_GRAD_ENGINE_F32 = 0,   // exact: matches the ggml graph to float rounding
    DEP_GRAD_ENGINE_BF16 = 1,  // weights and matmul inputs in bf16, accumulation and everything else in F32
} dep_grad_engine_dtype;

typedef enum dep_grad_engine_matmul {
    DEP_GRAD_ENGINE_MATMUL_ONEDNN = 0,    // oneDNN matmul primitives
    DEP_GRAD_ENGINE_MATMUL_PORTABLE = 1,  // plain loops (the build did not find oneDNN); F32 only
} dep_grad_engine_matmul;

typedef enum dep_grad_engine_checkpoint {
    DEP_GRAD_ENGINE_CHECKPOINT_AUTO = 0,    // keep as many layers' activations as activation_budget_bytes
                                            // allows, recompute the others' in the backward
    DEP_GRAD_ENGINE_CHECKPOINT_NEVER = 1,   // keep every layer's activations
    DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS = 2,  // keep only each layer's input, recompute the rest
} dep_grad_engine_checkpoint;

typedef struct dep_grad_engine_params {
    int32_t n_threads;                     // threads for the matmuls and the engine's own kernels (>= 1)
    dep_grad_engine_dtype dtype;
    dep_grad_engine_checkpoint checkpoint;
    size_t activation_budget_bytes;        // CHECKPOINT_AUTO: the activation memory a call may hold (everything
                                           // stats.activation_bytes counts); layers past it are recomputed
    int32_t ffn_block_rows;                // rows per FFN block, forward and backward (>= 1; default 1024): the
                                           // FFN's working memory, and a recomputed layer's FFN activations
} dep_grad_engine_params;

typedef struct dep_grad_engine_stats {
    int32_t n_positions;    // prompt positions + targets - 1
    int32_t n_targets;
    int32_t first_grad_pos; // the first soft row: no backward before it
    double  compute_ms;     // forward + backward of this call
    double  matmul_ms;      // of which: matrix products (the matmul library)
    double  attention_ms;   // of which: attention forward and backward
    size_t  activation_bytes;  // activations held during this call
    bool    recomputed;     // true when layers were recomputed in the backward (checkpointing)
    int32_t n_recomputed;   // how many of the n_layer
} dep_grad_engine_stats;

dep_grad_engine_params dep_grad_engine_default_params(void);

// Reads the GGUF at path (architectures llama and qwen2), dequantizes its weights and lays them out for the
// matmul library. Returns nullptr with a message in err on failure (unsupported architecture, bf16 on a CPU
// whose matmul library has no bf16 path, out of memory).
dep_grad_engine * dep_grad_engine_load(const char * path, dep_grad_engine_params params, char * err,
                                       size_t err_size);
void dep_grad_engine_free(dep_grad_engine * engine);

// Mean next-token cross-entropy of targets[0..n_targets) following the segments, and its gradient with
// respect to every embedding segment: grads[j] (n * n_embd floats, caller-owned) for the j-th segment that
// holds embeddings, in order. Same contract as dep_llm_loss_and_grad. Returns 0, 2 when aborted, -1 on error.
int32_t dep_grad_engine_loss_and_grad(dep_grad_engine * engine, const dep_segment * segments, int32_t n_segments,
                                      const int32_t * targets, int32_t n_targets, float * loss, float * const * grads,
                                      dep_grad_engine_stats * stats, char * err, size_t err_size);

// Stops a running dep_grad_engine_loss_and_grad at its next layer boundary (it returns 2).
void dep_grad_engine_request_abort(dep_grad_engine * engine);

typedef struct dep_grad_engine_info {
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
    dep_grad_engine_dtype dtype;
    dep_grad_engine_matmul matmul;
    int32_t n_threads;
    double  load_ms;        // read + dequantize + lay out
    size_t  weight_bytes;   // memory held by the weights
} dep_grad_engine_info;

dep_grad_engine_info dep_grad_engine_get_info(const dep_grad_engine * engine);

// The matmul implementation this build and CPU use, e.g. "onednn 2.6.3 (avx512_core_bf16)" or
// "portable (built without oneDNN)". Static storage.
const char * dep_grad_engine_matmul_name(void);
// True when dtype can run here (bf16 needs oneDNN and a CPU with at least AVX-512).
bool dep_grad_engine_supports(dep_grad_engine_dtype dtype);
// The dtype a training run should use here: bf16 where the CPU computes it in hardware (AVX512_BF16, AMX),
// else F32 (bf16 on plain AVX-512 is emulated: no faster, and less exact).
dep_grad_engine_dtype dep_grad_engine_default_dtype(void);

// TFLOP/s of one [m, k] x [k, n] product on the engine's matmul path in dtype (best of 3 after a warm-up),
// or -1 when dtype cannot run here. For the benchmark.
double dep_grad_engine_gemm_probe(dep_grad_engine_dtype dtype, int32_t m, int32_t k, int32_t n, int32_t n_threads);

#ifdef __cplusplus
}
#endif
