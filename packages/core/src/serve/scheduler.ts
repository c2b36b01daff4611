// Shares one frozen LLM between concurrent requests by continuous batching (BatchSession): between two
// decode steps every free sequence slot takes the next queued request (its prompt decoded into the slot),
// each step decodes one token for every running request, and a request that ends leaves its slot at once.
// So a request that arrives while others generate joins them at the next step instead of waiting for them
// to finish. Each request keeps its own sampler settings (temperature, top-p, top-k, seed), token cap, stop
// strings, stream and cancellation. The queue is bounded: beyond it `submit` refuses with DEP_SERVE_BUSY.
//
// With `continuous: false` (llama-server's --no-cont-batching, kept to measure against) the requests queued
// when a batch starts are its members, and later ones wait until every member has finished.
import {
  type BatchEvent,
  BatchSession,
  DepError,
  type GenerationResult,
  type Llm,
  type Segment,
  TextStreamer,
} from "@dep/native-cuda";

export interface SchedulerRequest {
  segments: readonly Segment[];
  maxTokens: number;
  /** 0: greedy */
  temperature: number;
  topP: number;
  /** 0 (default): off */
  topK?: number;
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
  /** default true: requests join the running batch; false: they wait for it to finish */
  continuous?: boolean;
}

interface Job {
  request: SchedulerRequest;
  resolve: (r: GenerationResult) => void;
  reject: (err: unknown) => void;
  unlisten: () => void;
  streamer?: TextStreamer;
  /** why the request was ended from here (its slot is then cancelled) */
  ended?: "stop" | "aborted";
  promptPositions: number;
  promptMs: number;
}

const ABORTED: GenerationResult = {
  text: "",
  tokens: new Int32Array(0),
  promptPositions: 0,
  stopReason: "aborted",
  timings: { promptMs: 0, generateMs: 0, promptTokensPerSecond: 0, generatedTokensPerSecond: 0 },
};

export class GenerationScheduler {
  readonly #llm: Llm;
  readonly #o: Required<SchedulerOptions>;
  #queue: Job[] = [];
  /** the running request of each slot */
  readonly #slots: Array<Job | null>;
  /** continuous: false: the members of the running batch */
  #cohort = new Set<Job>();
  #session: BatchSession | null = null;
  #pumping = false;
  #idleWaiters: Array<() => void> = [];

  constructor(llm: Llm, options: SchedulerOptions) {
    this.#llm = llm;
    this.#o = {
      parallel: Math.max(1, options.parallel),
      maxQueue: Math.max(0, options.maxQueue),
      samplerOrder: options.samplerOrder ?? "reference",
      continuous: options.continuous ?? true,
    };
    this.#slots = Array.from({ length: this.#o.parallel }, () => null);
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests being decoded. */
  get running(): number {
    return this.#slots.filter((j) => j !== null).length;
  }

  /** Queues a request; resolves with its result (stopReason "aborted" when its signal fired). */
  submit(request: SchedulerRequest): Promise<GenerationResult> {
    if (request.signal?.aborted) return Promise.resolve(ABORTED);
    // the queue holds the requests about to take the free slots, plus maxQueue waiting for one
    const free = this.#o.parallel - this.running;
    if (this.#queue.length >= this.#o.maxQueue + free) {
      throw new DepError(
        "DEP_SERVE_BUSY",
        `the server is busy: ${this.running} requests running and ${this.#queue.length} queued (the queue holds ${this.#o.maxQueue}); retry shortly`,
      );
    }
    return new Promise<GenerationResult>((resolve, reject) => {
      const job: Job = {
        request,
        resolve,
        reject,
        unlisten: () => undefined,
        promptPositions: 0,
        promptMs: 0,
      };
      const signal = request.signal;
      if (signal) {
        const onAbort = () => this.#cancel(job);
        signal.addEventListener("abort", onAbort, { once: true });
        job.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      this.#queue.push(job);
      void this.#pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** A queued request leaves the queue at once; a running one is cut at the next step. */
  #cancel(job: Job): void {
    const i = this.#queue.indexOf(job);
    if (i >= 0) {
      this.#queue.splice(i, 1);
      this.#cohort.delete(job);
      job.unlisten();
      job.resolve(ABORTED);
      return;
    }
    this.#end(job, "aborted");
  }

  #end(job: Job, why: "stop" | "aborted"): void {
    job.ended ??= why;
    const slot = this.#slots.indexOf(job);
    if (slot >= 0) this.#session?.cancel(slot);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 || this.running > 0) {
        try {
          this.#session ??= await BatchSession.open(this.#llm, this.#o.parallel);
        } catch (err) {
          // no session (e.g. no memory for the sequences): nothing queued can run
          for (const job of this.#queue.splice(0)) {
            this.#done(job);
            job.reject(err);
          }
          break;
        }
        try {
          await this.#admit(this.#session);
          if (this.running === 0) continue;
          for (const ev of await this.#session.step()) this.#handle(ev);
        } catch (err) {
          // a failed decode step fails the requests it ran; the queue goes on in a new session
          for (const [slot, job] of this.#slots.entries()) {
            if (!job) continue;
            this.#slots[slot] = null;
            this.#done(job);
            job.reject(err);
          }
          await this.#session.close();
          this.#session = null;
        }
      }
    } finally {
      await this.#session?.close();
      this.#session = null;
      this.#pumping = false;
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** Fills free slots with queued requests, each prompt decoded before the next step. */
  async #admit(session: BatchSession): Promise<void> {
    for (let slot = 0; slot < this.#slots.length; slot++) {
      if (this.#slots[slot]) continue;
      const job = this.#next();
      if (!job) return;
      const r = job.request;
      this.#slots[slot] = job;
      job.streamer = new TextStreamer(
        (tokens) => this.#llm.detokenize(tokens, { removeSpecial: true }),
        r.stop ?? [],
      );
      let ev: BatchEvent;
      try {
        ev = await session.add(slot, r.segments, {
          maxTokens: r.maxTokens,
          temperature: r.temperature,
          topP: r.topP,
          topK: r.topK ?? 0,
          seed: r.seed,
          samplerOrder: this.#o.samplerOrder,
        });
      } catch (err) {
        // a prompt the model refuses fails its own request only
        this.#slots[slot] = null;
        this.#done(job);
        job.reject(err);
        slot--;
        continue;
      }
      job.promptPositions = ev.promptPositions;
      job.promptMs = ev.promptMs;
      this.#handle(ev);
      if (!this.#slots[slot]) slot--; // it ended at once: the slot takes the next request
    }
  }

  /** The next request to admit (continuous: false: only members of the running batch). */
  #next(): Job | undefined {
    if (this.#o.continuous) return this.#queue.shift();
    if (this.#cohort.size === 0) {
      if (this.running > 0) return undefined;
      this.#cohort = new Set(this.#queue);
    }
    const i = this.#queue.findIndex((j) => this.#cohort.has(j));
    return i >= 0 ? this.#queue.splice(i, 1)[0] : undefined;
  }

  #handle(ev: BatchEvent): void {
    const job = this.#slots[ev.slot];
    if (!job) return;
    const streamer = job.streamer!;
    if (ev.token !== null) {
      if (job.ended) {
        // cancelled before its prompt was decoded (the add cleared the flag): cancel again
        if (!ev.finished) this.#session?.cancel(ev.slot);
      } else {
        const piece = streamer.push(ev.token);
        if (piece) job.request.onText?.(piece);
        if (streamer.stopped) this.#end(job, "stop");
      }
    }
    if (!ev.finished) return;
    this.#slots[ev.slot] = null;
    this.#done(job);
    if (job.ended !== "aborted") {
      const tail = streamer.flush();
      if (tail) job.request.onText?.(tail);
    }
    const native = ev.stopReason === "stopped" || ev.stopReason === null ? "stop" : ev.stopReason;
    const generated = streamer.tokens.length;
    job.resolve({
      text: streamer.text,
      tokens: Int32Array.from(streamer.tokens),
      promptPositions: job.promptPositions,
      stopReason: job.ended ?? native,
      timings: {
        promptMs: job.promptMs,
        generateMs: ev.generateMs,
        promptTokensPerSecond: job.promptMs > 0 ? (job.promptPositions * 1000) / job.promptMs : 0,
        generatedTokensPerSecond: ev.generateMs > 0 ? (generated * 1000) / ev.generateMs : 0,
      },
    });
  }

  /** A request leaves the scheduler (listener and batch membership dropped). */
  #done(job: Job): void {
    job.unlisten();
    this.#cohort.delete(job);
  }
}
