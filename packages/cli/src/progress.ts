// Progress on a terminal: one self-rewriting stderr line with count, rate and ETA. When stderr is not a
// terminal (a batch job's log, a pipe), one plain line per `--progress-every` seconds instead (default 30,
// 0: none), so a cluster log shows life without filling up. Silent in --json mode.
import { BatchProgressLine, formatProgressLine } from "./progressLine.js";

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
  readonly #batch: BatchProgressLine | null;

  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#unit = options.unit ?? "";
    this.#enabled = !options.quiet && process.stderr.isTTY === true;
    this.#interval = options.intervalMs ?? 200;
    this.#batch =
      !options.quiet && process.stderr.isTTY !== true
        ? BatchProgressLine.create(this.#label, this.#unit)
        : null;
  }

  /** Redraws with `done` of `total` (total 0 or unknown: no ETA) and an optional suffix. */
  update(done: number, total = 0, extra = ""): void {
    this.#batch?.update(done, total, extra);
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#last < this.#interval && done < total) return;
    this.#last = now;
    const line = formatProgressLine(this.#label, this.#unit, done, total, (now - this.#start) / 1000, extra);
    process.stderr.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Ends the line (leaves the last state visible). */
  done(message?: string): void {
    this.#batch?.done();
    if (!this.#enabled) return;
    if (this.#drawn) process.stderr.write("\n");
    if (message) process.stderr.write(`${message}\n`);
  }
}
