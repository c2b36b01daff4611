// Unit labels: the words that most distinguish a set of reviews (a unit's top-activating ones) from the
// rest, by the weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008,
// "Fightin' Words"), the prior being the word counts of all reviews.
import type { LabelWord } from "./types.js";

const WORD = /[a-z][a-z']+/g;

/** Lowercased words of 3+ letters (short function words carry no label). */
export function labelTokens(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).filter((w) => w.length >= 3);
}

export type WordCounts = Map<string, number>;

export function countWords(texts: Iterable<string>): WordCounts {
  const counts: WordCounts = new Map();
  for (const t of texts) for (const w of labelTokens(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

const total = (c: WordCounts) => {
  let n = 0;
  for (const v of c.values()) n += v;
  return n;
};

/**
 * The `limit` words with the largest z-score of the log-odds of `inside` (counts of the chosen reviews)
 * against the other reviews (`all` minus `inside`), with `all` as the prior. Only words used more inside
 * than expected (z > 0) and used at least `minCount` times inside are returned.
 */
export function distinctiveWords(inside: WordCounts, all: WordCounts, limit = 6, minCount = 2): LabelWord[] {
  const nIn = total(inside);
  const nAll = total(all);
  const nOut = nAll - nIn;
  const a0 = nAll;
  const out: LabelWord[] = [];
  for (const [word, yIn] of inside) {
    if (yIn < minCount) continue;
    const alpha = all.get(word) ?? yIn;
    const yOut = (all.get(word) ?? yIn) - yIn;
    const lIn = Math.log((yIn + alpha) / (nIn + a0 - yIn - alpha));
    const lOut = Math.log((yOut + alpha) / (nOut + a0 - yOut - alpha));
    const z = (lIn - lOut) / Math.sqrt(1 / (yIn + alpha) + 1 / (yOut + alpha));
    if (z > 0) out.push({ word, z });
  }
  out.sort((a, b) => b.z - a.z || (a.word < b.word ? -1 : 1));
  return out.slice(0, limit).map((w) => ({ word: w.word, z: Math.round(w.z * 1000) / 1000 }));
}
