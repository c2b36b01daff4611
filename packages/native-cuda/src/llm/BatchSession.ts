// Continuous batching over the LLM's parallel sequences: a session of N slots; a prompt is added to a free
// slot (decoded, its first token sampled) between decode steps, each step decodes one token for every busy
// slot, and a slot that finishes is free for the next prompt at once. Each slot samples with its own
// settings and chain, so it gives the tokens `Llm.complete` gives alone (bit for bit on the F32 test models;
// a quantized model's batched matmuls can move a near-tie, as in generateBatch).
import { DepError, fromNative } from "../errors.js";
import type { NativeBatchEvent, NativeBatchSession } from "../native.js";
import { type Llm, samplingOf } from "./Llm.js";
import type { GenerateOptions, Segment } from "./types.js";

export type BatchEvent = NativeBatchEvent;

/** The sampler settings of one slot. */
export type SlotSampling = Omit<GenerateOptions, "stop" | "signal">;

export class BatchSession {
  readonly slots: number;
  readonly #llm: Llm;
  #native: NativeBatchSession | null;

  private constructor(llm: Llm, slots: number, handle: NativeBatchSession) {
    this.#llm = llm;
    this.slots = slots;
    this.#native = handle;
  }

  /** Opens a session of `slots` sequences (one open session per model; close it to open another). */
  static async open(llm: Llm, slots: number): Promise<BatchSession> {
    try {
      return await llm.enqueue(async (handle) => new BatchSession(llm, slots, handle.openBatch(slots)));
    } catch (err) {
      throw fromNative(err);
    }
  }

  get closed(): boolean {
    return this.#native === null;
  }

  /**
   * Decodes a prompt into free slot `slot` and samples its first token. Rejects (the slot stays free) for a
   * bad or too long prompt or a slot in use.
   */
  async add(slot: number, segments: readonly Segment[], options: SlotSampling = {}): Promise<BatchEvent> {
    const nativeSegments = this.#llm.toNativeSegments(segments);
    const sampling = samplingOf(options);
    try {
      return await this.#llm.enqueue(async () => this.#handle().add(slot, nativeSegments, sampling));
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** One decode step for every busy slot: one event per slot that was busy (none when all are free). */
  async step(): Promise<BatchEvent[]> {
    try {
      return await this.#llm.enqueue(async () => this.#handle().step());
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Ends what `slot` runs, at once: a prompt being decoded stops, else the next step frees the slot. */
  cancel(slot: number): void {
    this.#native?.cancel(slot);
  }

  /** Frees every slot (after the calls already made). Safe to call twice. */
  async close(): Promise<void> {
    const handle = this.#native;
    if (!handle) return;
    this.#native = null;
    await this.#llm.enqueue(async () => handle.close()).catch(() => undefined);
  }

  #handle(): NativeBatchSession {
    if (!this.#native) throw new DepError("DEP_DISPOSED", "this batch session is closed");
    return this.#native;
  }
}
