// The transformer's pieces, forward and backward to their inputs, as named functions over row-major
// activations [T, width] (llm.c style). No weights gradients: the model is frozen. Threads: OpenMP with an
// explicit count, the same runtime oneDNN uses here. Every backward writes (=) unless it says "adds".
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dep::engine {

// y = x / rms(x) * w per row; rstd[t] = 1 / sqrt(mean(x^2) + eps) is kept for the backward.
void rmsnorm_forward(const float * x, const float * w, float * y, float * rstd, int64_t T, int64_t D, float eps,
                     int nt);
// Adds dL/dx for dL/dy (dy, x and rstd hold the same T rows).
void rmsnorm_backward_add(const float * dy, const float * x, const float * w, const float * rstd, float * dx,
                          int64_t T, int64_t D, int nt);

void add_bias(float * y, const float * b, int64_t T, int64_t N, int nt);

// Rotary position embedding as ggml_rope_ext computes it (no YaRN): pair i of a head turns by
// pos * freq_scale * base^(-2i/n_rot) / freq_factor[i]; pairs are (2i, 2i+1) in llama's NORMAL mode and
// (i, i + n_rot/2) in qwen2's NEOX mode; dimensions past n_rot pass through.
struct Rope {
    int32_t n_rot = 0, head_dim = 0;
    bool neox = false;
    std::vector<float> cos, sin;  // [T][n_rot/2], rebuilt when T grows
    void prepare(int64_t T, float freq_base, float freq_scale, const float * freq_factors);
};
// In place on x [T, n_heads * head_dim] whose row r is position pos0 + r; backward turns the other way.
void rope_forward(const Rope & rope, float * x, int64_t T, int64_t pos0, int32_t n_heads, int nt);
void rope_backward(const Rope & rope, float * dx, int64_t T, int64_t pos0, int32_t n_heads, int nt);

struct AttentionShape {
    int64_t T;                 // positions
    int32_t n_head, n_head_kv, head_dim;
    float scale;               // 1 / sqrt(head_dim)
};
// Scalar reference: causal softmax(q k^T * scale) v per head, grouped-query (head h reads kv head h / (n_head / n_head_kv)).
// q, out [T, n_head * hd]; k, v [T, n_head_kv * hd]; lse [n_head, T] = log-sum-exp of each query's scores.
void attention_forward_scalar(const AttentionShape & s, const float * q, const float * k, const float * v,
                              float * out, float * lse, int nt);
// Backward for query rows [p0, T) only (rows before p0 carry no gradient): dout, dq [T - p0, n_head * hd];
// dk, dv [T - p0, n_head_kv * hd] (keys before p0 get no gradient either). scratch: n_head * T floats.
void attention_backward_scalar(const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                               const float * k, const float * v, const float * out, const float * lse, float * dq,
                               float * dk, float * dv, float * scratch, int nt);

// The same on the matmul library in blocks of query rows (attention.cpp): what the engine runs.
class Matmul;
struct AttentionScratch {
    std::vector<float> qc, oc, doc, s, dp, dsum;
    std::vector<uint16_t> qcb, docb, pb, dsb, kb, vb;  // bf16 mode's operands
    // Grows every buffer to what attention over s needs, its backward from query row p0 (p0 = s.T: the
    // forward alone).
    void resize(const AttentionShape & s, int64_t p0, bool bf16);
    size_t bytes() const {
        return (qc.size() + oc.size() + doc.size() + s.size() + dp.size() + dsum.size()) * sizeof(float) +
               (qcb.size() + docb.size() + pb.size() + dsb.size() + kb.size() + vb.size()) * sizeof(uint16_t);
    }
    // Calls visit(buffer, element count) for each buffer with the size resize() gives it: the one
    // description of the sizes, for resize() and attention_scratch_bytes().
    template <typename Visit> void each_size(const AttentionShape & s, int64_t p0, bool bf16, Visit visit);
};
// What resize(s, p0, bf16) grows an empty scratch to, in bytes.
size_t attention_scratch_bytes(const AttentionShape & s, int64_t p0, bool bf16);
void attention_forward(Matmul & mm, const AttentionShape & s, const float * q, const float * k, const float * v,
                       float * out, float * lse, AttentionScratch & w, int nt);
void attention_backward(Matmul & mm, const AttentionShape & s, int64_t p0, const float * dout, const float * q,
                        const float * k, const float * v, const float * out, const float * lse, float * dq, float * dk,
                        float * dv, AttentionScratch & w, int nt);

// h = silu(g) * u
void swiglu_forward(const float * g, const float * u, float * h, int64_t n, int nt);
// dg, du from dh (dg may alias dh)
void swiglu_backward(const float * dh, const float * g, const float * u, float * dg, float * du, int64_t n, int nt);

// Mean cross-entropy of labels[i] under logits row i; logits are replaced by dL/dlogits.
double cross_entropy_forward_backward(float * logits, const int32_t * labels, int64_t n, int64_t V, int nt);

}  // namespace dep::engine
