import type { NativeLlmInfo } from "../native.js";

export interface LlmLoadOptions {
  /** CPU threads for decoding. Required: pass the physical core count (oversubscription is ~10x slower). */
  threads: number;
  /** Context size in tokens; default: the model's training context, capped at 4096. */
  contextSize?: number;
  /** Max positions per decode call (default 512). */
  batchSize?: number;
  /** Layers offloaded to a GPU backend, when the addon was built with one (default 0). */
  gpuLayers?: number;
  /** Parallel sequences in the context, for batched generation (default 1). */
  sequences?: number;
  /**
   * lossAndGrad only: an extra transposed copy of every projection matrix for the backward matmuls, which
   * replaces ggml's slow out_prod by a tiled mul_mat. "none" (default: 4 bytes/param in all), "f16" (+2,
   * gradients within ~1e-3 of exact), "bf16" (+2, coarser), "f32" (+4, exact).
   */
  gradBackward?: "none" | "f16" | "bf16" | "f32";
  /**
   * lossAndGrad only: storage of the frozen matrices in the forward pass. "f32" (default, exact) or "f16"
   * (2 bytes/param instead of 4, and ~3x faster CPU matmuls; activations are rounded to F16 inside them).
   */
  gradWeights?: "f32" | "f16";
  /**
   * llama.cpp's KV cache type (default "f16"). "f32" (which also turns flash attention off, as it rounds K/V
   * to F16) makes llama_decode's logits match the F32 gradient graph to ~1e-3.
   */
  kvCacheType?: "f16" | "f32";
  /**
   * Let ggml repack quantized weights (Q4_0, Q4_K, Q2_K, IQ4_NL on AVX2/AVX-512) into its faster CPU layouts
   * at load. Default: on, unless DEP_CPU_REPACK=0 is set. Off keeps the GGUF's layout (slower prompts).
   */
  cpuRepack?: boolean;
}

export type LlmInfo = NativeLlmInfo & {
  /** The chat template stored in the GGUF (Jinja source), or null. */
  chatTemplate: string | null;
};

/** One piece of a prompt: text (tokenized by the model), tokens, or embedding rows of width nEmbd. */
export type Segment = { text: string } | { tokens: Int32Array } | { embeddings: Float32Array };

export interface ChatMessage {
  role: "system" | "user" | "assistant" | (string & {});
  content: string;
}

export interface GenerateOptions {
  /** Stop after this many generated tokens (default 128). */
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Nucleus sampling mass (default 1 = off). */
  topP?: number;
  /** Top-k (default 0 = off). */
  topK?: number;
  /**
   * Order of the sampling steps: "llama.cpp" (default: top-k, top-p, then temperature) or "reference"
   * (vLLM's, which the DEP reference samples with: temperature, then top-k, then top-p).
   */
  samplerOrder?: "llama.cpp" | "reference";
  /** Sampler seed (default 42); same seed + same threads = same text. */
  seed?: number;
  /** Stop as soon as the text contains one of these strings (the string is not included). */
  stop?: readonly string[];
  /** Stops generation within one token. */
  signal?: AbortSignal;
}

export interface GenerationResult {
  text: string;
  tokens: Int32Array;
  promptPositions: number;
  stopReason: "eog" | "maxTokens" | "aborted" | "stop";
  timings: {
    promptMs: number;
    generateMs: number;
    promptTokensPerSecond: number;
    generatedTokensPerSecond: number;
  };
}

export interface GenerateBatchOptions extends Omit<GenerateOptions, "signal"> {
  /** Sequences decoded together (default 4); each gets its own contextSize positions. */
  parallel?: number;
  /** Stops every request within one decoding step. */
  signal?: AbortSignal;
  /** Per-request settings, by request index (e.g. one HTTP client per request). */
  perRequest?: ReadonlyArray<BatchRequestOptions | undefined>;
}

/** What may differ between the requests of one batch (the sampler settings may not). */
export interface BatchRequestOptions {
  /** At most this many tokens for this request (at most the batch's `maxTokens`). */
  maxTokens?: number;
  /** Stop strings for this request, in place of the batch's `stop`. */
  stop?: readonly string[];
  /** Cancels this request alone (stop reason "aborted"); its sequence is freed for the next request. */
  signal?: AbortSignal;
  /** Receives this request's text as it is produced (whole UTF-8 characters, stop strings held back). */
  onText?: (piece: string) => void;
}

export interface LossAndGradResult {
  /** Mean next-token cross-entropy over the target tokens (nats). */
  loss: number;
  /** dLoss/d(rows), one Float32Array [n * nEmbd] per `embeddings` segment, in order. */
  grads: Float32Array[];
  /** Target tokens the loss averages over. */
  nTokens: number;
  /** Positions in the graph (segments + targets - 1). */
  nPositions: number;
  timings: { loadMs: number; computeMs: number };
  /** Bytes held by the gradient graph: F32 weights, and the largest compute buffer so far. */
  memory: { weightBytes: number; computeBytes: number };
}
