// Progress for batch logs: when stderr is not a terminal, one plain line every `--progress-every` seconds
// (count, rate, ETA), plus a last one when the work ends, so `tail -f slurm-123_4.out` shows a job alive.
import { Option } from "commander";
import { decimal } from "./numbers.js";

let everySeconds = 30;

/** `--progress-every SECONDS` (any command; default $DEP_PROGRESS_EVERY, else 30). */
export function progressEveryOption(): Option {
  return new Option(
    "--progress-every <seconds>",
    "when stderr is not a terminal (a batch log): one progress line per this many seconds, 0 for none",
  )
    .argParser(seconds)
    .default(envSeconds(), "$DEP_PROGRESS_EVERY, else 30");
}

const seconds = decimal(0, 86_400);

function envSeconds(): number {
  const v = process.env.DEP_PROGRESS_EVERY;
  if (!v) return 30;
  try {
    return seconds(v);
  } catch (err) {
    console.error(`dep: warning: $DEP_PROGRESS_EVERY: ${(err as Error).message}; using 30`);
    return 30;
  }
}

/** Sets the interval of batch progress lines (--progress-every; 0 turns them off). */
export function setProgressEvery(seconds: number): void {
  everySeconds = seconds;
}

export function progressEvery(): number {
  return everySeconds;
}

/** `label done/total unit | rate/s | ETA 1m05s | extra`: the line a terminal and a log both show. */
export function formatProgressLine(
  label: string,
  unit: string,
  done: number,
  total: number,
  seconds: number,
  extra = "",
): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = total > 0 && rate > 0 ? formatDuration((total - done) / rate) : "?";
  const count = total > 0 ? `${done}/${total}` : `${done}`;
  return `${label} ${count}${unit ? ` ${unit}` : ""} | ${rate.toFixed(rate < 10 ? 2 : 0)}/s | ETA ${eta}${extra ? ` | ${extra}` : ""}`;
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

/** Plain timestamped progress lines at a fixed interval, for a log file. */
export class BatchProgressLine {
  readonly #label: string;
  readonly #unit: string;
  readonly #everyMs: number;
  readonly #start: number;
  readonly #write: (line: string) => void;
  #next: number;
  #printed = false;
  #last: { done: number; total: number; extra: string } | null = null;

  constructor(
    label: string,
    unit: string,
    everySeconds: number,
    write: (line: string) => void,
    start = performance.now(),
  ) {
    this.#start = start;
    this.#label = label;
    this.#unit = unit;
    this.#everyMs = everySeconds * 1000;
    this.#write = write;
    this.#next = this.#start + this.#everyMs;
  }

  /** A line writer to stderr at the --progress-every interval, or null when that is 0. */
  static create(label: string, unit: string): BatchProgressLine | null {
    const every = progressEvery();
    return every > 0
      ? new BatchProgressLine(label, unit, every, (l) => process.stderr.write(`${l}\n`))
      : null;
  }

  update(done: number, total = 0, extra = "", now = performance.now()): void {
    this.#last = { done, total, extra };
    if (now < this.#next) return;
    this.#next = now + this.#everyMs;
    this.#print(now);
  }

  /** The final state, when any line was printed before (a short job stays quiet). */
  done(now = performance.now()): void {
    if (this.#printed && this.#last) this.#print(now);
  }

  #print(now: number): void {
    const { done, total, extra } = this.#last!;
    const line = formatProgressLine(this.#label, this.#unit, done, total, (now - this.#start) / 1000, extra);
    this.#write(`[${new Date().toISOString().slice(0, 19)}Z] ${line}`);
    this.#printed = true;
  }
}
