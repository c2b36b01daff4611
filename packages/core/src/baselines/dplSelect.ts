// What the DPL baseline (Qiu et al., ACL 2025 Findings; github SnowCharmQ/DPL) shows the LLM for one sample,
// picked as its code picks it (utils/preprocess.py create_data, utils/utils.py):
// - the split's maps: each user's profile (the user's last row in the split, as DPL's dict overwrites) and,
//   per item, the users whose profiles review it;
// - the past reviews: BM25 (rank_bm25's BM25Okapi) over "<review title> <item description>" of each
//   profile review, tokenised by whitespace as Python's str.split() (case kept), against
//   "<target review title> <target item description>", the `n` best;
// - the difference items: the same BM25 pick among the profile reviews whose item at least 4 other users
//   of the split reviewed; for each, the other reviewers (sorted by id) with their review of that item, and
//   of those the representative ones: k-means (k = 5, seeded) over the embeddings of the user's review text
//   and the others' texts, and in each cluster but the user's the review closest to its centre.
// Where DPL would fail (an item without enough other reviews, a sample with fewer difference items than
// `n`), this shows what there is.
import type { DplRow, Review } from "../data/types.js";
import { itemKey } from "../data/types.js";
import { Bm25 } from "./bm25.js";
import { kmeans } from "./kmeans.js";

/** Other users an item needs for DPL to contrast a review of it (`>= 4` in create_data). */
export const DPL_MIN_OTHERS = 4;
/** Representative peers per difference item (`get_others_by_kmeans(..., n=4)`, k-means with n + 1 clusters). */
export const DPL_PEERS = 4;

/** The code points Python's str.isspace() accepts (\t-\r, \x1c-\x1f, space, NEL, NBSP, the Unicode spaces). */
const PY_WHITESPACE = new Set([
  ...[9, 10, 11, 12, 13, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680],
  ...Array.from({ length: 11 }, (_, i) => 0x2000 + i),
  ...[0x2028, 0x2029, 0x202f, 0x205f, 0x3000],
]);

/** Python's `str.split()`: runs of whitespace separate, no empty tokens. */
export function pythonSplit(text: string): string[] {
  const out: string[] = [];
  let token = "";
  for (const ch of text) {
    if (PY_WHITESPACE.has(ch.codePointAt(0)!)) {
      if (token) out.push(token);
      token = "";
    } else token += ch;
  }
  if (token) out.push(token);
  return out;
}

/**
 * rank_bm25's `get_top_n`: `np.argsort(scores)[::-1][:n]`, i.e. best first and, among equal scores, the
 * later document first (as a stable argsort reversed; numpy's default sort does not promise stability, so
 * on exact ties DPL's own order may differ).
 */
export function dplTopN(docs: readonly string[][], query: readonly string[], n: number): number[] {
  if (docs.length === 0) return [];
  const s = new Bm25(docs).scores(query);
  return Array.from(s.keys())
    .sort((a, b) => s[b]! - s[a]! || b - a)
    .slice(0, n);
}

/** The split-wide maps DPL builds before anything else. */
export interface DplSplitIndex {
  /** `${category}\0${userId}` -> the profile of the user's last row in the split */
  profiles: Map<string, Review[]>;
  /** item key -> the users whose profiles review it */
  reviewers: Map<string, Set<string>>;
}

const userKey = (category: string, userId: string) => `${category}\u0000${userId}`;

export function dplSplitIndex(rows: readonly DplRow[]): DplSplitIndex {
  const profiles = new Map<string, Review[]>();
  const reviewers = new Map<string, Set<string>>();
  for (const row of rows) {
    profiles.set(userKey(row.category, row.userId), row.profile);
    for (const r of row.profile) {
      const key = itemKey(row.category, r.asin);
      const set = reviewers.get(key) ?? new Set<string>();
      reviewers.set(key, set);
      set.add(row.userId);
    }
  }
  return { profiles, reviewers };
}

/** A difference item: the user's review of it and every other reviewer's review of it. */
export interface DplDiffItem {
  review: Review;
  /** the other reviewers' reviews of the item, by reviewer id */
  others: Review[];
}

export interface DplSelection {
  /** the past reviews shown in stages 2 and 3, best first */
  past: Review[];
  /** the difference items of stage 1, best first */
  diffItems: DplDiffItem[];
}

/** Python's `sorted()` of strings: by code point. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** The past reviews and difference items of `row` (its own profile), `n` of each at most. */
export function dplSelect(
  index: DplSplitIndex,
  row: DplRow,
  n: number,
  description: (asin: string) => string,
): DplSelection {
  const others = (asin: string) =>
    [...(index.reviewers.get(itemKey(row.category, asin)) ?? [])].filter((u) => u !== row.userId);
  const pick = (profile: readonly Review[]) => {
    const docs = profile.map((r) => pythonSplit(`${r.title} ${description(r.asin)}`));
    const query = pythonSplit(`${row.data.title} ${description(row.data.asin)}`);
    return dplTopN(docs, query, n).map((i) => profile[i]!);
  };
  const past = pick(row.profile);
  const diffItems = pick(row.profile.filter((r) => others(r.asin).length >= DPL_MIN_OTHERS)).map(
    (review): DplDiffItem => ({
      review,
      others: others(review.asin)
        .sort(byCodePoint)
        .flatMap((u) => {
          const theirs = index.profiles.get(userKey(row.category, u))?.find((r) => r.asin === review.asin);
          return theirs ? [theirs] : [];
        }),
    }),
  );
  return { past, diffItems };
}

/**
 * DPL's `get_others_by_kmeans(cur_text, others, n=4)`: k-means with n + 1 clusters over [user's review;
 * others] embeddings (`vectors`, [1 + others, dim]), then, cluster by cluster in index order, skipping the
 * user's cluster and empty ones, the other review closest to the centre (the first on ties). Returns
 * indices into the others. With fewer than n + 1 points (DPL would fail) every other review is kept.
 */
export function representativePeers(
  vectors: Float32Array,
  dim: number,
  seed: number,
  n = DPL_PEERS,
): number[] {
  const points = vectors.length / dim;
  const k = n + 1;
  if (points < k) return Array.from({ length: points - 1 }, (_, i) => i);
  const { labels, centers } = kmeans(vectors, dim, k, { seed });
  const out: number[] = [];
  for (let c = 0; c < k; c++) {
    if (c === labels[0]) continue;
    let best = -1;
    let bestD = Number.POSITIVE_INFINITY;
    for (let i = 1; i < points; i++) {
      if (labels[i] !== c) continue;
      let d = 0;
      for (let j = 0; j < dim; j++) d += (vectors[i * dim + j]! - centers[c * dim + j]!) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i - 1;
      }
    }
    if (best >= 0) out.push(best);
  }
  return out;
}
