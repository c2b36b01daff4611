// `inspectDataset`: counts per split and category, history-length and peers-per-item distributions.
import { getOrInsert } from "../util/rng.js";
import { type LoadDatasetOptions, loadDataset } from "./load.js";
import { type DataSource, dataSourceOptions } from "./source.js";
import { type Dataset, SPLITS, type Split } from "./types.js";

export interface Distribution {
  count: number;
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
  mean: number;
}

export interface DatasetReport {
  categories: string[];
  rows: Record<string, Partial<Record<Split, number>>>;
  users: Record<string, number>;
  items: Record<string, number>;
  /** history (profile) length of the rows, per split */
  historyLength: Partial<Record<Split, Distribution>>;
  /** per item: distinct users that have it in their test-row profile[:-2] (SPEC §2 reviewers) */
  reviewersPerItem: Distribution;
  /** share of profile[:-2] items with at least one other reviewer (i.e. useful for difference embeddings) */
  itemsWithPeers: number;
  reviewLength: Distribution;
  skipped: number;
}

export function distribution(values: ArrayLike<number>): Distribution {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  if (n === 0) return { count: 0, min: 0, p10: 0, median: 0, p90: 0, max: 0, mean: 0 };
  const at = (q: number) => v[Math.min(n - 1, Math.floor(q * (n - 1) + 0.5))]!;
  let sum = 0;
  for (const x of v) sum += x;
  return { count: n, min: v[0]!, p10: at(0.1), median: at(0.5), p90: at(0.9), max: v[n - 1]!, mean: sum / n };
}

/** Summarises a loaded dataset. */
export function describeDataset(ds: Dataset): DatasetReport {
  const rows: DatasetReport["rows"] = {};
  const users: Record<string, Set<string>> = {};
  const hist = new Map<Split, number[]>();
  const reviewers = new Map<string, number>();
  const lengths: number[] = [];
  const seen = new Set<object>();
  for (const r of ds.rows) {
    const c = rows[r.category] ?? {};
    rows[r.category] = c;
    c[r.split] = (c[r.split] ?? 0) + 1;
    const us = users[r.category] ?? new Set<string>();
    users[r.category] = us;
    us.add(r.userId);
    getOrInsert(hist, r.split, () => []).push(r.profile.length);
    for (const rev of [...r.profile, r.data]) {
      if (seen.has(rev)) continue;
      seen.add(rev);
      lengths.push(rev.text.length);
    }
    if (r.split === "test") {
      for (const rev of r.profile.slice(0, Math.max(0, r.profile.length - 2))) {
        const k = `${r.category}\u0000${rev.asin}`;
        reviewers.set(k, (reviewers.get(k) ?? 0) + 1);
      }
    }
  }
  const items: Record<string, number> = {};
  for (const it of ds.items.values()) items[it.category] = (items[it.category] ?? 0) + 1;
  const historyLength: DatasetReport["historyLength"] = {};
  for (const s of SPLITS) {
    const h = hist.get(s);
    if (h) historyLength[s] = distribution(h);
  }
  const counts = [...reviewers.values()];
  return {
    categories: ds.categories,
    rows,
    users: Object.fromEntries(Object.entries(users).map(([k, v]) => [k, v.size])),
    items,
    historyLength,
    reviewersPerItem: distribution(counts),
    itemsWithPeers: counts.length ? counts.filter((c) => c > 1).length / counts.length : 0,
    reviewLength: distribution(lengths),
    skipped: ds.skipped.count,
  };
}

/** Loads a dataset and summarises it (`dep data inspect DIR`). */
export async function inspectDataset(
  source: DataSource,
  options: Omit<LoadDatasetOptions, "dir" | "main" | "meta"> = {},
): Promise<DatasetReport> {
  return describeDataset(await loadDataset({ ...options, ...dataSourceOptions(source) }));
}
