// The frozen LLM: a GGUF model run by llama.cpp. Mirrors the native lifetime: load -> use -> dispose.
// Native calls that touch the context are serialised through one queue; tokenizer calls are synchronous.
import { DepError, fromNative } from "../errors.js";
import {
  type NativeGenerateStats,
  type NativeLlm,
  type NativeLossAndGrad,
  type NativeSegment,
  native,
} from "../native.js";
import { GradEngine, type GradEngineOptions } from "./GradEngine.js";
import { checkLoadOptions, checkModelHyperparameters } from "./loadChecks.js";
import type {
  ChatMessage,
  GenerateBatchOptions,
  GenerateOptions,
  GenerationResult,
  LlmInfo,
  LlmLoadOptions,
  LossAndGradResult,
  Segment,
} from "./types.js";
import { HandleQueue } from "./utils/handleQueue.js";
import { runLossAndGrad } from "./utils/lossAndGradCall.js";
import { TextStreamer } from "./utils/textStreamer.js";

export class Llm {
  readonly info: LlmInfo;
  readonly path: string;
  readonly #calls: HandleQueue<NativeLlm>;

  private constructor(path: string, handle: NativeLlm) {
    this.path = path;
    this.#calls = new HandleQueue(handle, `the model ${path}`);
    this.info = Object.freeze({ ...handle.info(), chatTemplate: handle.chatTemplate() });
  }

  /** Loads a GGUF model (off the JS thread). Fails with DEP_MODEL_LOAD naming the file and the reason. */
  static async load(path: string, options: LlmLoadOptions): Promise<Llm> {
    if (typeof path !== "string" || path.length === 0) {
      throw new DepError("DEP_INVALID_ARGUMENT", "Llm.load: path must be a non-empty string");
    }
    checkLoadOptions(options);
    checkModelHyperparameters(path);
    const cpuRepack = options.cpuRepack ?? cpuRepackDefault();
    try {
      return new Llm(path, await native().loadModel(path, { ...options, cpuRepack }));
    } catch (err) {
      throw fromNative(err);
    }
  }

  get disposed(): boolean {
    return this.#calls.closed;
  }

  tokenize(text: string, options: { addSpecial?: boolean; parseSpecial?: boolean } = {}): Int32Array {
    return this.#calls.current().tokenize(text, options.addSpecial ?? false, options.parseSpecial ?? false);
  }

  detokenize(
    tokens: Int32Array,
    options: { removeSpecial?: boolean; unparseSpecial?: boolean } = {},
  ): string {
    try {
      return this.#calls
        .current()
        .detokenize(tokens, options.removeSpecial ?? false, options.unparseSpecial ?? false);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Formats messages with the model's own chat template (llama.cpp's built-in template engine). */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addAssistant?: boolean } = {}): string {
    try {
      return this.#calls.current().applyChatTemplate(
        messages.map((m) => m.role),
        messages.map((m) => m.content),
        options.addAssistant ?? true,
      );
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Turns segments into native ones: text is tokenized, with BOS only at the very start when the model wants it. */
  toNativeSegments(segments: readonly Segment[]): NativeSegment[] {
    return segments.map((seg, i) => {
      if ("text" in seg) {
        return {
          tokens: this.tokenize(seg.text, { addSpecial: i === 0 && this.info.addBos, parseSpecial: true }),
        };
      }
      if ("tokens" in seg) return { tokens: seg.tokens };
      if ("embeddings" in seg) {
        if (seg.embeddings.length % this.info.nEmbd !== 0) {
          throw new DepError(
            "DEP_INVALID_ARGUMENT",
            `segment ${i}: embeddings length ${seg.embeddings.length} is not a multiple of nEmbd ${this.info.nEmbd}`,
          );
        }
        return { embeddings: seg.embeddings };
      }
      throw new DepError("DEP_INVALID_ARGUMENT", `segment ${i} needs text, tokens or embeddings`);
    });
  }

  /**
   * Decodes the segments as one prompt and samples a continuation. Iterate the returned object for text
   * pieces as they are produced; `result` resolves with the full text, tokens and timings.
   */
  generate(segments: readonly Segment[], options: GenerateOptions = {}): Generation {
    return new Generation(this, segments, options);
  }

  /** `generate` without streaming: resolves with the final result. */
  complete(segments: readonly Segment[], options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.generate(segments, options).result;
  }

  /**
   * The model's own input-embedding rows for `tokens`, dequantized: a Float32Array [tokens.length * nEmbd].
   * Feeding them back as an `embeddings` segment is the same as feeding the tokens.
   */
  tokenEmbeddings(tokens: Int32Array): Float32Array {
    if (!(tokens instanceof Int32Array)) {
      throw new DepError("DEP_INVALID_ARGUMENT", "tokenEmbeddings: tokens must be an Int32Array");
    }
    try {
      return this.#calls.current().tokenEmbeddings(tokens);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Several prompts decoded together (parallel sequences of one context). Each request gives the same text
   * as `complete` would alone with the same options (greedy; seeded sampling uses one sampler per request).
   */
  async generateBatch(
    requests: readonly (readonly Segment[])[],
    options: GenerateBatchOptions = {},
  ): Promise<GenerationResult[]> {
    if (!Array.isArray(requests)) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        "generateBatch: requests must be an array of segment arrays",
      );
    }
    const nativeRequests = requests.map((segments, i) => {
      try {
        return this.toNativeSegments(segments);
      } catch (err) {
        const e = fromNative(err);
        throw new DepError(e.code, `request ${i}: ${e.message}`, { cause: err });
      }
    });
    if (nativeRequests.length === 0) return [];
    const sampling = { ...samplingOf(options), parallel: options.parallel ?? 4 };
    if (options.signal?.aborted) return nativeRequests.map(() => emptyResult("aborted"));
    const per = nativeRequests.map((_, i) => options.perRequest?.[i]);
    try {
      return await this.enqueue(async (handle) => {
        const streamers = per.map(
          (p) =>
            new TextStreamer(
              (tokens) => handle.detokenize(tokens, true, false),
              p?.stop ?? options.stop ?? [],
            ),
        );
        // why a request was cut short from here (it is then cancelled natively, freeing its sequence)
        const ended = new Map<number, GenerationResult["stopReason"]>();
        const end = (request: number, reason: GenerationResult["stopReason"]) => {
          if (ended.has(request)) return;
          ended.set(request, reason);
          handle.cancelRequest(request);
        };
        const onAbort = () => handle.abort();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        const cancels = per.map((p, i) => {
          if (!p?.signal) return null;
          const cancel = () => end(i, "aborted");
          if (p.signal.aborted) cancel();
          else p.signal.addEventListener("abort", cancel, { once: true });
          return cancel;
        });
        try {
          const stats = await handle.generateBatch(nativeRequests, sampling, (request, token) => {
            const streamer = streamers[request];
            if (!streamer) return;
            if (ended.has(request)) {
              // tokens arrive asynchronously: a cancel sent before the native batch began is sent again
              handle.cancelRequest(request);
              return;
            }
            const piece = streamer.push(token);
            if (piece) per[request]?.onText?.(piece);
            if (streamer.stopped) end(request, "stop");
            else if (streamer.tokens.length >= (per[request]?.maxTokens ?? Number.POSITIVE_INFINITY))
              end(request, "maxTokens");
          });
          return stats.map((st, i) => {
            const streamer = streamers[i];
            if (!streamer) throw new DepError("DEP_NATIVE", "generateBatch: missing request result");
            const tail = ended.get(i) === "aborted" ? "" : streamer.flush();
            if (tail) per[i]?.onText?.(tail);
            const result = makeResult(streamer, st, ended.get(i) === "stop");
            const reason = ended.get(i);
            return reason && reason !== "stop" ? { ...result, stopReason: reason } : result;
          });
        } finally {
          options.signal?.removeEventListener("abort", onAbort);
          per.forEach((p, i) => {
            const cancel = cancels[i];
            if (cancel) p?.signal?.removeEventListener("abort", cancel);
          });
        }
      });
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Mean next-token cross-entropy of `targetTokens`, which follow the segments (append EOS yourself when it
   * should be predicted), and its gradient with respect to every `embeddings` segment. Runs the hand-built
   * ggml graph off the JS thread; its F32 weights (4 bytes per parameter) are loaded by the first call.
   */
  async lossAndGrad(
    segments: readonly Segment[],
    targetTokens: Int32Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<LossAndGradResult> {
    return runLossAndGrad(
      (call) => this.enqueue(call),
      () => this.toNativeSegments(segments),
      targetTokens,
      options.signal,
      (r: NativeLossAndGrad) => ({
        loss: r.loss,
        grads: r.grads,
        nTokens: r.nTokens,
        nPositions: r.nPositions,
        timings: { loadMs: r.loadMs, computeMs: r.computeMs },
        memory: { weightBytes: r.weightBytes, computeBytes: r.computeBytes },
      }),
    );
  }

  /**
   * Debug/parity: next-token logits [nPositions * nVocab] for every position of the segments, from the
   * gradient graph (`"graph"`) or from llama.cpp's own decoder (`"decode"`).
   */
  async debugLogits(segments: readonly Segment[], source: "graph" | "decode"): Promise<Float32Array> {
    const nativeSegments = this.toNativeSegments(segments);
    try {
      return await this.enqueue((handle) => handle.debugLogits(nativeSegments, source === "graph"));
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Final hidden states of every token of `text` (tokenized with BOS when the model wants one), from an
   * embedding context created on first use: `embeddings` is [tokens.length * width]. For BERTScore-style
   * token matching.
   */
  async embedTokens(
    text: string | Int32Array,
  ): Promise<{ tokens: Int32Array; embeddings: Float32Array; width: number }> {
    const tokens = typeof text === "string" ? this.tokenize(text, { addSpecial: true }) : text;
    try {
      const [embeddings] = await this.enqueue((handle) => handle.embed([tokens], false));
      if (!embeddings) throw new DepError("DEP_NATIVE", "embed returned nothing");
      return { tokens, embeddings, width: embeddings.length / Math.max(1, tokens.length) };
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * One vector per text, pooled the model's way (GGUF sentence encoders such as bge-m3 carry their pooling
   * in their metadata; for a model without pooling, the mean of its token states). Not normalized. A text
   * given as tokens is used as is (e.g. cut to the context by the caller). `maxTokens`: truncate longer texts
   * as HF does (see truncateTokens) instead of failing.
   */
  async embed(
    texts: readonly (string | Int32Array)[],
    options: { maxTokens?: number } = {},
  ): Promise<Float32Array[]> {
    const lists = texts.map((t) =>
      truncateTokens(typeof t === "string" ? this.tokenize(t, { addSpecial: true }) : t, options.maxTokens),
    );
    try {
      return await this.enqueue((handle) => handle.embed(lists, true));
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * The native training engine for this model's GGUF: the same lossAndGrad as this object's ggml graph, from
   * its own weights (freed by the engine's dispose), with text segments tokenized by this model.
   */
  createGradEngine(options: GradEngineOptions): Promise<GradEngine> {
    this.#calls.current();
    return GradEngine.load(this.path, options, (segments) => this.toNativeSegments(segments));
  }

  /** Frees the gradient graph's F32 weights; the next lossAndGrad loads them again. */
  async releaseGradients(): Promise<void> {
    await this.enqueue(async (handle) => handle.releaseGrad());
  }

  /** Frees the model after every queued call has finished. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.#calls.close((handle) => handle.dispose());
  }

  /** @internal runs fn after every earlier queued native call. */
  enqueue<T>(fn: (handle: NativeLlm) => Promise<T>): Promise<T> {
    return this.#calls.run(fn);
  }
}

/**
 * Whether ggml may repack quantized weights into its CPU layouts when a model loads: DEP_CPU_REPACK=0 turns it
 * off (a way out should a CPU's repacked kernels misbehave), 1 or unset leaves it on.
 */
export function cpuRepackDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.DEP_CPU_REPACK;
  if (v === undefined || v === "" || v === "1") return true;
  if (v === "0") return false;
  throw new DepError("DEP_INVALID_ARGUMENT", `DEP_CPU_REPACK must be 0 or 1 (got "${v}")`);
}

/**
 * Quantizes a GGUF (F32/F16 weights) to `type` ("Q4_0", "Q8_0", "Q4_K", "IQ4_XS", ...) with llama.cpp's own
 * quantizer, every 2-D weight the same type (`embeddingsF16`: token_embd and output in F16 instead, which
 * keeps test models with a large vocabulary quick to quantize); writes `dst` atomically.
 */
export async function quantizeModel(
  src: string,
  dst: string,
  type: string,
  options: { threads?: number; embeddingsF16?: boolean } = {},
): Promise<void> {
  try {
    await native().quantizeModel(src, dst, type, options.threads ?? 1, options.embeddingsF16 ?? false);
  } catch (err) {
    throw fromNative(err);
  }
}

/** A running generation: an async iterable of text pieces plus the final `result`. */
export class Generation implements AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
  #pieces: string[] = [];
  #wake: (() => void) | null = null;
  #finished = false;

  constructor(llm: Llm, segments: readonly Segment[], options: GenerateOptions) {
    this.result = this.#run(llm, segments, options);
    // keep an unobserved failure from becoming an unhandled rejection when only the iterator is used
    this.result.catch(() => undefined);
  }

  async #run(llm: Llm, segments: readonly Segment[], options: GenerateOptions): Promise<GenerationResult> {
    try {
      const nativeSegments = llm.toNativeSegments(segments);
      const sampling = samplingOf(options);
      if (options.signal?.aborted) return emptyResult("aborted");
      return await llm.enqueue(async (handle) => {
        const streamer = new TextStreamer(
          (tokens) => handle.detokenize(tokens, true, false),
          options.stop ?? [],
        );
        let stoppedByString = false;
        const onAbort = () => handle.abort();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        try {
          const stats = await handle.generate(nativeSegments, sampling, (token) => {
            if (stoppedByString) return;
            const piece = streamer.push(token);
            if (piece) this.#emit(piece);
            if (streamer.stopped) {
              stoppedByString = true;
              handle.abort();
            }
          });
          const tail = streamer.flush();
          if (tail) this.#emit(tail);
          return makeResult(streamer, stats, stoppedByString);
        } finally {
          options.signal?.removeEventListener("abort", onAbort);
        }
      });
    } catch (err) {
      throw fromNative(err);
    } finally {
      this.#finished = true;
      this.#wake?.();
    }
  }

  #emit(piece: string): void {
    this.#pieces.push(piece);
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.#pieces.length > 0) {
        yield this.#pieces.shift()!;
        continue;
      }
      if (this.#finished) {
        await this.result; // surfaces a failure to the iterating caller
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }
}

/**
 * HF tokenizers' `truncation=True` for a sentence encoder: at most `max` tokens, the closing special token
 * (bge-m3's </s>) kept at the end. No limit: unchanged.
 */
export function truncateTokens(tokens: Int32Array, max?: number): Int32Array {
  if (max === undefined || tokens.length <= max) return tokens;
  const out = tokens.slice(0, max);
  out[max - 1] = tokens[tokens.length - 1]!;
  return out;
}

function emptyResult(reason: GenerationResult["stopReason"]): GenerationResult {
  return {
    text: "",
    tokens: new Int32Array(0),
    promptPositions: 0,
    stopReason: reason,
    timings: { promptMs: 0, generateMs: 0, promptTokensPerSecond: 0, generatedTokensPerSecond: 0 },
  };
}

/** The native sampler settings of the options (their defaults filled in). */
export function samplingOf(options: GenerateOptions | GenerateBatchOptions) {
  return {
    maxTokens: options.maxTokens ?? 128,
    temperature: options.temperature ?? 0,
    topP: options.topP ?? 1,
    topK: options.topK ?? 0,
    seed: options.seed ?? 42,
    samplerOrder: options.samplerOrder === "reference" ? 1 : 0,
  };
}

function makeResult(
  streamer: TextStreamer,
  stats: NativeGenerateStats,
  stoppedByString: boolean,
): GenerationResult {
  const reason = stoppedByString || stats.stopReason === "stopped" ? "stop" : stats.stopReason;
  return {
    text: streamer.text,
    tokens: Int32Array.from(streamer.tokens),
    promptPositions: stats.promptPositions,
    stopReason: reason,
    timings: {
      promptMs: stats.promptMs,
      generateMs: stats.generateMs,
      promptTokensPerSecond: stats.promptMs > 0 ? (stats.promptPositions * 1000) / stats.promptMs : 0,
      generatedTokensPerSecond: stats.generateMs > 0 ? (stats.generatedTokens * 1000) / stats.generateMs : 0,
    },
  };
}
