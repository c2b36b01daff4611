// One strict parser per kind of number on the command line (and in --config). `Number.parseInt` read
// "abc" as NaN, "1e30" as 1 and "0x10" as 0; here a value is a plain decimal (an exponent allowed), and the
// range it must lie in is part of the message.
import { InvalidArgumentError } from "commander";

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** An integer from `min` to `max` (inclusive). */
export function integer(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = DECIMAL.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

/** A finite number in [min, max], or (min, max] with `aboveMin`. */
export function decimal(min: number, max: number, o: { aboveMin?: boolean } = {}): (value: string) => number {
  return (value: string) => {
    const n = DECIMAL.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isFinite(n) || (o.aboveMin ? n <= min : n < min) || n > max) {
      const range = o.aboveMin ? `greater than ${min} and at most ${max}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`expected a number ${range}, got "${value}"`);
    }
    return n;
  };
}

/** Largest count accepted where nothing smaller applies (int32: what the native side indexes with). */
export const MAX_COUNT = 2 ** 31 - 1;

export const positiveInt = integer(1, MAX_COUNT);
export const nonNegativeInt = integer(0, MAX_COUNT);
/** Seeds are unsigned 32-bit (the Rng's and llama.cpp's samplers'). */
export const seed = integer(0, 2 ** 32 - 1);
/** CPU threads: what ggml and the kernels accept. */
export const MAX_THREADS = 1024;
export const threadCount = integer(1, MAX_THREADS);
/** Prompt budgets and token counts, in positions. */
export const MAX_POSITIONS = 1_048_576;
export const positions = integer(1, MAX_POSITIONS);
export const probability = decimal(0, 1);
