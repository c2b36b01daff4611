// Shares one frozen LLM between concurrent requests: queued requests with the same sampler settings are
// decoded together through the LLM's parallel sequences (Llm.generateBatch: a finished sequence is refilled
// with the next request of the call at once); each request keeps its own token cap, stop strings, stream
// and cancellation. The queue is bounded: beyond it `submit` refuses with DEP_SERVE_BUSY.
//
// Requests that arrive while a batch runs wait for that native call to end (the native batch API takes its
// requests up front); the next call takes every compatible request then queued.
import { DepError, type GenerationResult, type Llm, type Segment } from "@dep/native-cuda";

export interface SchedulerRequest {
  segments: readonly Segment[];
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop?: readonly string[];
  /** cancels this request alone (queued: it never runs; running: its sequence is freed) */
  signal?: AbortSignal;
  onText?: (piece: string) => void;
}

export interface SchedulerOptions {
  /** sequences decoded together */
  parallel: number;
  /** requests allowed to wait beyond the running ones */
  maxQueue: number;
  /** default reference (temperature before top-p, as dep generate and vLLM sample) */
  samplerOrder?: "reference" | "llama.cpp";
}

interface Job {
  request: SchedulerRequest;
  resolve: (r: GenerationResult) => void;
  reject: (err: unknown) => void;
  unlisten: () => void;
}

const ABORTED: GenerationResult = {
  text: "",
  tokens: new Int32Array(0),
  promptPositions: 0,
  stopReason: "aborted",
  timings: { promptMs: 0, generateMs: 0, promptTokensPerSecond: 0, generatedTokensPerSecond: 0 },
};

export class GenerationScheduler {
  readonly #llm: Pick<Llm, "generateBatch">;
  readonly #o: SchedulerOptions;
  #queue: Job[] = [];
  #running = 0;
  #pumping = false;
  #idleWaiters: Array<() => void> = [];

  constructor(llm: Pick<Llm, "generateBatch">, options: SchedulerOptions) {
    this.#llm = llm;
    this.#o = {
      parallel: Math.max(1, options.parallel),
      maxQueue: Math.max(0, options.maxQueue),
      samplerOrder: options.samplerOrder ?? "reference",
    };
  }

  /** Requests waiting for a native call. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests in the running native call. */
  get running(): number {
    return this.#running;
  }

  /** Queues a request; resolves with its result (stopReason "aborted" when its signal fired). */
  submit(request: SchedulerRequest): Promise<GenerationResult> {
    if (request.signal?.aborted) return Promise.resolve(ABORTED);
    if (this.#queue.length >= this.#o.maxQueue && this.#running > 0) {
      throw new DepError(
        "DEP_SERVE_BUSY",
        `the server is busy: ${this.#running} requests running and ${this.#queue.length} queued (the queue holds ${this.#o.maxQueue}); retry shortly`,
      );
    }
    return new Promise<GenerationResult>((resolve, reject) => {
      const job: Job = { request, resolve, reject, unlisten: () => undefined };
      const signal = request.signal;
      if (signal) {
        // a queued request that is cancelled leaves the queue at once
        const onAbort = () => {
          const i = this.#queue.indexOf(job);
          if (i >= 0) {
            this.#queue.splice(i, 1);
            resolve(ABORTED);
          }
        };
        signal.addEventListener("abort", onAbort, { once: true });
        job.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      this.#queue.push(job);
      void this.#pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        this.#running = batch.length;
        await this.#run(batch);
        this.#running = 0;
      }
    } finally {
      this.#pumping = false;
      if (this.#queue.length === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** The first queued request and every queued one with the same sampler settings. */
  #takeBatch(): Job[] {
    const key = samplerKey(this.#queue[0]!.request);
    const batch = this.#queue.filter((j) => samplerKey(j.request) === key);
    this.#queue = this.#queue.filter((j) => samplerKey(j.request) !== key);
    for (const j of batch) j.unlisten();
    return batch;
  }

  async #run(batch: Job[]): Promise<void> {
    const first = batch[0]!.request;
    try {
      const results = await this.#llm.generateBatch(
        batch.map((j) => j.request.segments),
        {
          maxTokens: Math.max(...batch.map((j) => j.request.maxTokens)),
          temperature: first.temperature,
          topP: first.topP,
          seed: first.seed,
          samplerOrder: this.#o.samplerOrder,
          parallel: this.#o.parallel,
          perRequest: batch.map((j) => ({
            maxTokens: j.request.maxTokens,
            stop: j.request.stop ?? [],
            ...(j.request.signal ? { signal: j.request.signal } : {}),
            ...(j.request.onText ? { onText: j.request.onText } : {}),
          })),
        },
      );
      for (const [i, j] of batch.entries()) j.resolve(results[i]!);
    } catch (err) {
      for (const j of batch) j.reject(err);
    }
  }
}

function samplerKey(r: SchedulerRequest): string {
  return `${r.temperature}\u0000${r.topP}\u0000${r.seed}`;
}
