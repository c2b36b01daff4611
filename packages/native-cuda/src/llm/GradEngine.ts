// The native training engine (cpp/engine): dL/d(soft rows) through the frozen LLM, as its own object with
// its own lifetime. Its weights (dequantized once, held in the engine's dtype) are freed by dispose().
// Same inputs and outputs as Llm.lossAndGrad, the ggml graph that stays as the oracle.
import { DepError, fromNative } from "../errors.js";
import {
  type NativeGradEngine,
  type NativeGradEngineInfo,
  type NativeGradEngineLossAndGrad,
  type NativeSegment,
  native,
} from "../native.js";
import type { LossAndGradResult, Segment } from "./types.js";
import { HandleQueue } from "./utils/handleQueue.js";
import { runLossAndGrad } from "./utils/lossAndGradCall.js";

export type GradEngineDtype = "f32" | "bf16";

export interface GradEngineOptions {
  /** Threads for the matmuls and the engine's kernels. Required: the physical core count. */
  threads: number;
  /** "f32" (default, exact) or "bf16" (weights and matmul inputs rounded to bf16; needs oneDNN + AVX-512). */
  dtype?: GradEngineDtype;
  /**
   * "auto" (default): keep as many layers' activations as `activationBudgetBytes` (default 1 GiB: all a
   * call holds, the layers' inputs included) allows and recompute the others' in the backward; "never":
   * keep them all; "always": recompute every layer. The same numbers in every mode.
   */
  checkpoint?: "auto" | "never" | "always";
  activationBudgetBytes?: number;
}

export type GradEngineInfo = NativeGradEngineInfo;

/** Llm.lossAndGrad's result, with where the time went and what the backward skipped. */
export interface GradEngineResult extends LossAndGradResult {
  /** The first soft row: positions before it get no backward. */
  firstGradPosition: number;
  /** Layers were recomputed in the backward (activation checkpointing). */
  recomputed: boolean;
  /** How many (of `info.nLayer`). */
  recomputedLayers: number;
  timings: { loadMs: number; computeMs: number; matmulMs: number; attentionMs: number };
}

/** What this build and CPU can run: the matmul library, the dtypes it supports here, the one training uses. */
export function gradEngineBuild(): {
  matmul: string;
  onednn: boolean;
  dtypes: GradEngineDtype[];
  defaultDtype: GradEngineDtype;
} {
  return native().gradEngineBuild();
}

/** TFLOP/s of one [m, k] x [k, n] matmul on the engine's path (best of 3), or -1 when dtype cannot run here. */
export function gradEngineGemmProbe(
  dtype: GradEngineDtype,
  m: number,
  k: number,
  n: number,
  threads: number,
): number {
  return native().gradEngineGemmProbe(dtype, m, k, n, threads);
}

/** The dtype a training run defaults to here: bf16 where the CPU computes it in hardware (AVX512_BF16, AMX), else f32. */
export function defaultGradEngineDtype(): GradEngineDtype {
  return gradEngineBuild().defaultDtype;
}

export class GradEngine {
  readonly path: string;
  readonly info: GradEngineInfo;
  readonly #calls: HandleQueue<NativeGradEngine>;
  readonly #toNative: (segments: readonly Segment[]) => NativeSegment[];

  private constructor(
    path: string,
    handle: NativeGradEngine,
    toNative: (s: readonly Segment[]) => NativeSegment[],
  ) {
    this.path = path;
    this.#calls = new HandleQueue(handle, `the gradient engine for ${path}`);
    this.info = Object.freeze(handle.info());
    this.#toNative = toNative;
  }

  /**
   * Reads the GGUF (llama or qwen2) and prepares its weights, off the JS thread. Without `toNative` (as given
   * by Llm.createGradEngine), segments must be tokens or embeddings: there is no tokenizer for text.
   */
  static async load(
    path: string,
    options: GradEngineOptions,
    toNative?: (segments: readonly Segment[]) => NativeSegment[],
  ): Promise<GradEngine> {
    if (typeof path !== "string" || path.length === 0) {
      throw new DepError("DEP_INVALID_ARGUMENT", "GradEngine.load: path must be a non-empty string");
    }
    if (!Number.isInteger(options?.threads) || options.threads < 1) {
      throw new DepError("DEP_INVALID_ARGUMENT", "GradEngine.load: threads must be an integer >= 1");
    }
    try {
      const handle = await native().loadGradEngine(path, options);
      return new GradEngine(path, handle, toNative ?? tokensOrEmbeddings);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Mean next-token cross-entropy of `targetTokens` after the segments, and dLoss/d(every embeddings segment). */
  async lossAndGrad(
    segments: readonly Segment[],
    targetTokens: Int32Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<GradEngineResult> {
    return runLossAndGrad(
      (call) => this.#calls.run(call),
      () => this.#toNative(segments),
      targetTokens,
      options.signal,
      (r: NativeGradEngineLossAndGrad) => ({
        loss: r.loss,
        grads: r.grads,
        nTokens: r.nTokens,
        nPositions: r.nPositions,
        firstGradPosition: r.firstGradPosition,
        recomputed: r.recomputed,
        recomputedLayers: r.recomputedLayers,
        timings: { loadMs: 0, computeMs: r.computeMs, matmulMs: r.matmulMs, attentionMs: r.attentionMs },
        memory: { weightBytes: this.info.weightBytes, computeBytes: r.activationBytes },
      }),
    );
  }

  /** Frees the weights after every queued call has finished. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.#calls.close((handle) => handle.dispose());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function tokensOrEmbeddings(segments: readonly Segment[]): NativeSegment[] {
  return segments.map((seg, i) => {
    if ("tokens" in seg) return { tokens: seg.tokens };
    if ("embeddings" in seg) return { embeddings: seg.embeddings };
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      `segment ${i}: text needs a tokenizer; create the engine with llm.createGradEngine() or pass tokens`,
    );
  });
}
