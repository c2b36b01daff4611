// One native handle's calls, one at a time and in order (a native handle is not thread-safe); a failed
// call does not stop the ones queued after it. Shared by Llm and GradEngine.
import { DepError } from "../../errors.js";

export class HandleQueue<H> {
  #handle: H | null;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #what: string;

  /** `what` names the object in the error a call after dispose gets, e.g. "the model m.gguf". */
  constructor(handle: H, what: string) {
    this.#handle = handle;
    this.#what = what;
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  /** Runs fn with the handle after every earlier call has finished. */
  run<T>(fn: (handle: H) => Promise<T>): Promise<T> {
    const next = this.#tail.catch(() => undefined).then(() => fn(this.current()));
    this.#tail = next;
    return next;
  }

  /** The handle, or DEP_DISPOSED once closed. */
  current(): H {
    if (!this.#handle) throw new DepError("DEP_DISPOSED", `${this.#what} was disposed`);
    return this.#handle;
  }

  /** Waits for every queued call, then hands the handle to `free` once (later calls do nothing). */
  async close(free: (handle: H) => void): Promise<void> {
    const handle = this.#handle;
    if (!handle) return;
    await this.#tail.catch(() => undefined);
    if (this.#handle !== handle) return; // closed meanwhile
    this.#handle = null;
    free(handle);
  }
}

/** Runs fn with `abort` wired to the signal for its duration (native calls stop at their next check). */
export async function withAbort<T>(
  signal: AbortSignal | undefined,
  abort: () => void,
  fn: () => Promise<T>,
): Promise<T> {
  signal?.addEventListener("abort", abort, { once: true });
  try {
    return await fn();
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}
