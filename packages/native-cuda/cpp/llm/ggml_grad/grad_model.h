// The frozen transformer rebuilt by hand as a ggml graph from the GGUF weights, so that ggml's autodiff can
// give dL/d(soft rows): llama.cpp's own graph reads K/V back from its cache and has no gradient path to the
// input embeddings. Supports the `llama` family (RoPE NORM) and the `qwen2` family (q/k/v biases, RoPE
// NEOX, output head tied to token_embd when output.weight is absent). Weights are dequantized to F32.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf_weights.h"

namespace dep::grad {

// One sequence for the graph: a row per position, either a token or a soft (embedding) row.
struct Sequence {
    struct Soft {
        int32_t pos;         // first position
        int32_t n;           // rows
        const float * data;  // n * n_embd floats
    };
    std::vector<int32_t> tokens;   // one per position; the value at soft positions is ignored
    std::vector<Soft> soft;        // non-overlapping soft ranges
    std::vector<int32_t> out_pos;  // positions whose next-token logits are produced
    std::vector<int32_t> labels;   // loss mode: the token expected after each out_pos
};

struct Hparams {
    std::string arch;
    int32_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0, n_ff = 0, n_vocab = 0;
    int32_t n_ctx_orig = 0;
    int32_t rope_mode = 0;
    float eps = 1e-5f, freq_base = 10000.0f, freq_scale = 1.0f;
    bool tied_output = false;
};

// The architectures the gradient graph supports, for error messages.
const char * supported_archs();

// Reads the hyper-parameters the gradient graph and the native engine share (architecture, widths, heads,
// RoPE, norm epsilon) from the GGUF metadata; n_ff, n_vocab and tied_output come from the tensors and are
// left to the caller. Returns false with a message naming the unsupported feature.
bool read_hparams(const GgufWeights & w, Hparams & hp, std::string & err);

class Model {
  public:
    // Reads hyper-parameters and dequantizes the weights of `w` into a CPU backend buffer. backward_type
    // (a ggml_type, or -1 for none) adds a transposed copy of every projection matrix, used by the backward
    // pass as mul_mat(W^T, dY) in place of ggml's out_prod(W, dY^T) (same result, much faster on CPU).
    // forward_type: GGML_TYPE_F32 (exact) or GGML_TYPE_F16 (half the memory, ~3x faster CPU matmuls).
    static std::unique_ptr<Model> load(const GgufWeights & w, int n_threads, int forward_type, int backward_type,
                                       std::atomic<bool> * abort_flag, std::string & err);
    ~Model();

    const Hparams & hparams() const { return hp_; }

    // Mean cross-entropy of seq.labels at seq.out_pos, and dL/d(soft rows): grads[i] receives
    // seq.soft[i].n * n_embd floats. Returns 0, 2 when aborted, -1 on error (message in err).
    int loss_and_grad(const Sequence & seq, float * loss, const std::vector<float *> & grads, std::string & err);

    // Forward only: logits [out_pos.size(), n_vocab] (debug/parity checks).
    int logits(const Sequence & seq, float * out, std::string & err);

    size_t weight_bytes() const;
    size_t compute_bytes() const;  // the largest compute buffer allocated so far

    struct Impl;  // backend, weights, allocators (grad_model.cpp)

  private:
    Model() = default;
    std::unique_ptr<Impl> impl_;
    Hparams hp_;
};

}  // namespace dep::grad
