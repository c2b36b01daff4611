// Turns a token stream into text pieces: waits for complete UTF-8 characters, and cuts at stop strings.

export class TextStreamer {
  readonly tokens: number[] = [];
  #emitted = 0; // characters of `text` already handed out
  #text = "";
  #stopped = false;

  constructor(
    private readonly detokenize: (tokens: Int32Array) => string,
    private readonly stops: readonly string[],
  ) {}

  get text(): string {
    return this.#text;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds a token; returns the new printable text, if any. */
  push(token: number): string {
    if (this.#stopped) return "";
    this.tokens.push(token);
    const full = this.detokenize(Int32Array.from(this.tokens));
    // a trailing U+FFFD means a multi-byte character is still incomplete: wait for the next token
    if (full.endsWith("\uFFFD")) {
      this.#text = full;
      return "";
    }
    this.#text = full;
    const cut = this.#firstStop(full);
    if (cut >= 0) {
      this.#stopped = true;
      this.#text = full.slice(0, cut);
    }
    return this.#release(this.#stopped ? this.#text.length : this.#safeEnd(this.#text));
  }

  /** Hands out whatever is still held back (at the end of generation). */
  flush(): string {
    return this.#release(this.#text.length);
  }

  #release(end: number): string {
    if (end <= this.#emitted) return "";
    const piece = this.#text.slice(this.#emitted, end);
    this.#emitted = end;
    return piece;
  }

  #firstStop(text: string): number {
    let best = -1;
    for (const s of this.stops) {
      if (!s) continue;
      const at = text.indexOf(s, Math.max(0, this.#emitted - s.length));
      if (at >= 0 && (best < 0 || at < best)) best = at;
    }
    return best;
  }

  // Holds back a suffix that could still grow into a stop string.
  #safeEnd(text: string): number {
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > hold; --k) {
        if (text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return text.length - hold;
  }
}
