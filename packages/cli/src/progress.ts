// Progress on a terminal: one self-rewriting stderr line with count, rate and ETA. Silent when stderr is
// not a TTY (piped, CI) or in --json mode, so machine output stays clean.

export interface ProgressOptions {
  label: string;
  unit?: string;
  quiet?: boolean;
  /** minimum milliseconds between redraws */
  intervalMs?: number;
}

export class Progress {
  readonly #label: string;
  readonly #unit: string;
  readonly #enabled: boolean;
  readonly #interval: number;
  readonly #start = performance.now();
  #last = 0;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#unit = options.unit ?? "";
    this.#enabled = !options.quiet && process.stderr.isTTY === true;
    this.#interval = options.intervalMs ?? 200;
  }

  /** Redraws with `done` of `total` (total 0 or unknown: no ETA) and an optional suffix. */
  update(done: number, total = 0, extra = ""): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#last < this.#interval && done < total) return;
    this.#last = now;
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = total > 0 && rate > 0 ? formatDuration((total - done) / rate) : "?";
    const count = total > 0 ? `${done}/${total}` : `${done}`;
    const line = `${this.#label} ${count}${this.#unit ? ` ${this.#unit}` : ""} | ${rate.toFixed(rate < 10 ? 2 : 0)}/s | ETA ${eta}${extra ? ` | ${extra}` : ""}`;
    process.stderr.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Ends the line (leaves the last state visible). */
  done(message?: string): void {
    if (!this.#enabled) return;
    if (this.#drawn) process.stderr.write("\n");
    if (message) process.stderr.write(`${message}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(r).padStart(2, "0")}s`
      : `${r}s`;
}
