// How well one number per user separates users with a trait from those without: ROC AUC, and a held-out
// estimate for "the best of h units" (choosing the best unit and scoring it on the same users would be
// optimistic by construction, so the unit is chosen on some users and scored on others).
import { Rng } from "@dep/core";

/** ROC AUC of `scores` for the binary `labels` (Mann-Whitney U with average ranks for ties); NaN if one class is empty. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]!] = r;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i]) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** features[u * h + unit]: one row of h unit values per user. */
export interface UserFeatures {
  h: number;
  values: Float32Array;
}

function column(f: UserFeatures, users: readonly number[], unit: number): Float64Array {
  return Float64Array.from(users, (u) => f.values[u * f.h + unit]!);
}

/** The unit whose AUC on `users` is farthest from chance, and its direction (+1: higher means the trait). */
function bestUnit(
  f: UserFeatures,
  users: readonly number[],
  labels: readonly boolean[],
): { unit: number; sign: number; auc: number } {
  const lab = users.map((u) => labels[u]!);
  let best = { unit: 0, sign: 1, auc: 0.5 };
  for (let unit = 0; unit < f.h; unit++) {
    const auc = rocAuc(column(f, users, unit), lab);
    if (!Number.isFinite(auc)) continue;
    const signed = Math.max(auc, 1 - auc);
    if (signed > best.auc) best = { unit, sign: auc >= 0.5 ? 1 : -1, auc: signed };
  }
  return best;
}

/**
 * Cross-validated AUC of "the best single unit": users in `folds` stratified folds (seeded); per fold the
 * unit farthest from chance on the other folds is chosen, and the held-out users get its value, signed and
 * standardised with the training users' mean and deviation; one AUC over all users' held-out values.
 */
export function crossValidatedBestUnit(
  f: UserFeatures,
  labels: readonly boolean[],
  seed: number,
  folds = 5,
): { units: number[]; heldOutAuc: number; inSampleAuc: number } {
  const rng = new Rng(seed);
  const all = labels.map((_, i) => i);
  const k = Math.max(2, Math.min(folds, labels.filter(Boolean).length, labels.filter((x) => !x).length));
  const foldOf = new Int32Array(labels.length);
  for (const cls of [true, false])
    rng.shuffle(all.filter((i) => labels[i] === cls)).forEach((u, i) => {
      foldOf[u] = i % k;
    });
  const units: number[] = [];
  const held = new Float64Array(labels.length);
  for (let fold = 0; fold < k; fold++) {
    const train = all.filter((u) => foldOf[u] !== fold);
    const chosen = bestUnit(f, train, labels);
    units.push(chosen.unit);
    const col = column(f, train, chosen.unit);
    const mean = col.reduce((a, b) => a + b, 0) / col.length;
    const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, col.length - 1)) || 1;
    for (const u of all)
      if (foldOf[u] === fold) held[u] = (chosen.sign * (f.values[u * f.h + chosen.unit]! - mean)) / sd;
  }
  return { units, heldOutAuc: rocAuc(held, labels), inSampleAuc: bestUnit(f, all, labels).auc };
}
