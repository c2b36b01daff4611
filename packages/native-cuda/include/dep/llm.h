// dep/llm.h — the frozen LLM: a GGUF model run by llama.cpp, fed with token and embedding segments.
//
// Lifetime: dep_llm_load -> (tokenize | generate | ...)* -> dep_llm_free. A dep_llm is not thread-safe:
// callers serialise calls on one handle. Functions that can fail return a negative value (or NULL)
// and write a human-readable message into err[err_size].
//
// The same handle also serves dep/batch_session.h (parallel sequences: batched generation, continuous
// batching) and dep/llm_grad.h (the ggml gradient graph); the native training engine is an object of its
// own (dep/grad_engine.h).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dep_llm dep_llm;

// The gradient graph's backward matmuls: a transposed weight copy turns ggml's slow out_prod into mul_mat.
typedef enum dep_grad_backward {
    DEP_GRAD_BACKWARD_NONE = 0,  // no copy (out_prod)
    DEP_GRAD_BACKWARD_F16  = 1,  // F16 copy (+2 B/param)
    DEP_GRAD_BACKWARD_BF16 = 2,  // BF16 copy (+2 B/param)
    DEP_GRAD_BACKWARD_F32  = 3,  // F32 copy (+4 B/param)
} dep_grad_backward;

typedef struct dep_llm_params {
    int32_t n_threads;     // CPU threads for decoding (required: > 0; use the number of physical cores)
    int32_t n_ctx;         // context size in tokens; 0 = the model's training context
    int32_t n_batch;       // max tokens (or embedding rows) per decode call
    int32_t n_gpu_layers;  // layers offloaded to a GPU backend, when one was compiled in
    int32_t n_seq_max;     // parallel sequences in the context (for batched generation)
    dep_grad_backward grad_backward; // gradient graph: the transposed weight copy for the backward matmuls
    bool    kv_f32;        // keep the KV cache in F32 instead of F16 (exact parity with the gradient graph)
    bool    grad_f16;      // gradient graph: matrices in F16 instead of F32 (2 B/param; F16-rounded activations)
    bool    cpu_repack;    // let ggml repack quantized weights into its CPU-optimised layouts (Q4_0, Q4_K,
                           // Q2_K, IQ4_NL: faster matmuls); false keeps the GGUF's own layout
} dep_llm_params;

#define DEP_MAX_WEIGHT_BUFFERS 8

// Where the model's weights live, by ggml buffer type ("CPU", "CPU_REPACK", "CUDA0", ...).
typedef struct dep_weight_buffer {
    char   name[32];
    double bytes;
} dep_weight_buffer;

typedef struct dep_llm_info {
    char    arch[64];      // general.architecture, e.g. "llama", "qwen2"
    int32_t n_embd;        // input-embedding width
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_ctx;         // the context actually allocated
    int32_t bos;           // -1 when the vocabulary has none
    int32_t eos;
    bool    add_bos;       // the model wants BOS at the start of a prompt
    uint64_t n_params;
    int32_t n_weight_buffers;
    dep_weight_buffer weight_buffers[DEP_MAX_WEIGHT_BUFFERS];
} dep_llm_info;

// One piece of a prompt: either n tokens or n embedding rows of width n_embd (exactly one pointer set).
typedef struct dep_segment {
    const int32_t * tokens;
    const float   * embd;
    int32_t         n;
} dep_segment;

// The order of the sampler chain.
typedef enum dep_sampler_order {
    DEP_SAMPLER_ORDER_LLAMA_CPP = 0,  // llama.cpp's: top-k, top-p, temperature
    DEP_SAMPLER_ORDER_VLLM      = 1,  // vLLM's (the reference code's): temperature, top-k, top-p
} dep_sampler_order;

typedef struct dep_sampling {
    int32_t  max_tokens;   // stop after this many generated tokens
    float    temperature;  // <= 0: greedy
    float    top_p;        // 1: off
    int32_t  top_k;        // <= 0: off
    uint32_t seed;
    dep_sampler_order order;
} dep_sampling;

// Why a generation (or one request / slot of a batch) stopped.
typedef enum dep_stop_reason {
    DEP_STOP_EOG        = 0,  // an end-of-generation token
    DEP_STOP_MAX_TOKENS = 1,
    DEP_STOP_ABORTED    = 2,  // dep_llm_request_abort
    DEP_STOP_CALLER     = 3,  // the token callback returned false, or the request / slot was cancelled
} dep_stop_reason;

typedef struct dep_generate_stats {
    int32_t n_prompt;      // prompt positions (tokens + embedding rows)
    int32_t n_generated;
    double  prompt_ms;     // time spent evaluating the prompt
    double  generate_ms;   // time spent sampling + decoding generated tokens
    dep_stop_reason stop_reason;
} dep_generate_stats;

// Called once per generated token (after sampling, before it is decoded). Return false to stop.
typedef bool (*dep_token_callback)(int32_t token, void * user_data);

// Defaults: 1 thread (callers should pass their core count), training context capped at 4096, batch 512.
dep_llm_params dep_llm_default_params(void);
dep_sampling   dep_sampling_default(void);

// Quantizes a GGUF model (F32/F16 weights) to `type`, a ggml type name ("Q4_0", "Q8_0", "Q4_K", "IQ4_XS",
// ...), every 2-D weight the same type (llama.cpp's quantizer, pure mode); norms and biases stay F32, and
// with embeddings_f16 so do token_embd/output in F16 (quicker for test models whose vocabulary dominates).
// Writes dst atomically (temporary name, then rename). Returns false with a message in err.
bool dep_llm_quantize(const char * src, const char * dst, const char * type, int32_t n_threads,
                      bool embeddings_f16, char * err, size_t err_size);

// Checks that path is a complete GGUF file (magic, header, tensor data within the file size).
bool dep_gguf_check(const char * path, char * err, size_t err_size);

// Loads a model and creates its inference context. Returns NULL on failure (message in err).
dep_llm * dep_llm_load(const char * path, dep_llm_params params, char * err, size_t err_size);

// Frees everything the handle owns. NULL is allowed.
void dep_llm_free(dep_llm * llm);

// Copies the model's shape and special tokens into *out.
void dep_llm_get_info(const dep_llm * llm, dep_llm_info * out);

// The chat template stored in the GGUF (Jinja source), or NULL when it has none.
const char * dep_llm_chat_template(const dep_llm * llm);

// Tokenizes text. Returns the token count; when it exceeds n_max, returns -(count) and writes nothing useful.
int32_t dep_llm_tokenize(const dep_llm * llm, const char * text, int32_t text_len, int32_t * tokens,
                         int32_t n_max, bool add_special, bool parse_special);

// Detokenizes tokens into buf. Returns the byte count; when it exceeds buf_size, returns -(count).
int32_t dep_llm_detokenize(const dep_llm * llm, const int32_t * tokens, int32_t n, char * buf, int32_t buf_size,
                           bool remove_special, bool unparse_special);

// Text of a single token (special tokens rendered) into buf; same return convention as detokenize.
int32_t dep_llm_token_to_piece(const dep_llm * llm, int32_t token, char * buf, int32_t buf_size);

// True when token ends generation (EOS, EOT, ...).
bool dep_llm_is_eog(const dep_llm * llm, int32_t token);

// Formats a chat with llama.cpp's built-in template engine (tmpl NULL = the model's own). Returns the byte
// count; when it exceeds buf_size, returns -(count); returns INT32_MIN when the template is unsupported.
int32_t dep_llm_apply_chat_template(const dep_llm * llm, const char * tmpl, const char * const * roles,
                                    const char * const * contents, int32_t n_messages, bool add_assistant,
                                    char * buf, int32_t buf_size);

// Decodes the segments as one prompt in a fresh sequence, then samples up to s->max_tokens tokens.
// Tokens are reported through cb as they are produced. Returns 0 on success, -1 on error (message in err).
int32_t dep_llm_generate(dep_llm * llm, const dep_segment * segments, int32_t n_segments, const dep_sampling * s,
                         dep_token_callback cb, void * user_data, dep_generate_stats * stats,
                         char * err, size_t err_size);

// Asks a running dep_llm_generate / generate_batch / loss_and_grad on this handle to stop as soon as possible (thread-safe).
void dep_llm_request_abort(dep_llm * llm);

// Copies the model's own input-embedding rows for tokens (dequantized to F32) into out[n * n_embd].
// Returns 0, or -1 for a token outside the vocabulary or an unreadable file (message in err).
int32_t dep_llm_token_embeddings(dep_llm * llm, const int32_t * tokens, int32_t n, float * out, char * err,
                                 size_t err_size);

// Hidden states from an embedding context (created on first use): pooled = false gives the final hidden
// state of every token, out[n * width]; pooled = true gives one vector, out[width], pooled the model's way
// (bge-m3 & co. from their GGUF metadata; the mean of the token states when the model has no pooling).
int32_t dep_llm_embed(dep_llm * llm, const int32_t * tokens, int32_t n, bool pooled, float * out, char * err,
                      size_t err_size);

// The width of dep_llm_embed's vectors.
int32_t dep_llm_embed_width(const dep_llm * llm);

#ifdef __cplusplus
}
#endif
