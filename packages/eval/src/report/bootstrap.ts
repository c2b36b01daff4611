// Percentile bootstrap intervals of a mean over samples (seeded, so a report is reproducible).
import { Rng } from "@dep/core";

export interface Interval {
  lo: number;
  hi: number;
}

/** The central `level` interval of the mean of `values` over `resamples` bootstrap resamples. */
export function bootstrapMeanInterval(
  values: ArrayLike<number>,
  { resamples = 1000, level = 0.95, seed = 42 } = {},
): Interval | null {
  const n = values.length;
  if (n < 2) return null;
  const rng = new Rng(seed);
  const means = new Float64Array(resamples);
  for (let s = 0; s < resamples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.int(n)]!;
    means[s] = sum / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!;
  return { lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2) };
}
