// rouge_score 0.1.2 (default tokenizer, no stemming) and HF `evaluate`'s bootstrap aggregation.
import { DepError } from "@dep/native-cuda";
import { MT19937 } from "./mt19937.js";
import { numpyMean } from "./pyText.js";

export const ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"] as const;
export type RougeType = (typeof ROUGE_TYPES)[number];

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface RougeOptions {
  /** numpy legacy seed for HF's bootstrap (the paper's `set_seed(42)`). Default 42. */
  seed?: number;
  /** Bootstrap resamples per type (rouge_score's BootstrapAggregator default 1000). */
  nSamples?: number;
}

export interface RougeCorpus {
  /** HF `evaluate.load('rouge').compute()` value: the bootstrap median of the mean F. */
  hf: number;
  /** Plain mean of the per-pair F (numpy summation order). */
  mean: number;
}

export interface RougeResult {
  rouge1: RougeCorpus;
  rouge2: RougeCorpus;
  rougeL: RougeCorpus;
  rougeLsum: RougeCorpus;
  /** Per-pair scores, in input order. */
  perPair: Array<Record<RougeType, RougeScore>>;
  signature: string;
}

const NON_ALNUM = /[^a-z0-9]+/g;
const VALID_TOKEN = /^[a-z0-9]+$/;

/** rouge_score's default tokenizer: lowercase, non-[a-z0-9] runs to spaces, split, keep [a-z0-9]+ tokens. */
export function rougeTokenize(text: string): string[] {
  const cleaned = text.toLowerCase().replace(NON_ALNUM, " ");
  // after the substitution only ASCII spaces separate tokens
  return cleaned.split(" ").filter((t) => VALID_TOKEN.test(t));
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngrams(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = n === 1 ? tokens[i]! : tokens.slice(i, i + n).join(" ");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function scoreNgrams(target: Map<string, number>, prediction: Map<string, number>): RougeScore {
  let overlap = 0;
  let targetCount = 0;
  let predictionCount = 0;
  for (const [ngram, count] of target) {
    overlap += Math.min(count, prediction.get(ngram) ?? 0);
    targetCount += count;
  }
  for (const count of prediction.values()) predictionCount += count;
  const precision = overlap / Math.max(predictionCount, 1);
  const recall = overlap / Math.max(targetCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** LCS dynamic-programming table, (ref.length+1) x (can.length+1), row-major. */
function lcsTable(ref: string[], can: string[]): Int32Array {
  const cols = can.length + 1;
  const t = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    const r = ref[i - 1];
    for (let j = 1; j <= can.length; j++) {
      t[i * cols + j] =
        r === can[j - 1]
          ? t[(i - 1) * cols + j - 1]! + 1
          : Math.max(t[(i - 1) * cols + j]!, t[i * cols + j - 1]!);
    }
  }
  return t;
}

function lcsLength(ref: string[], can: string[]): number {
  // two-row version of the table: same value, less memory
  let prev = new Int32Array(can.length + 1);
  let cur = new Int32Array(can.length + 1);
  for (let i = 1; i <= ref.length; i++) {
    const r = ref[i - 1];
    for (let j = 1; j <= can.length; j++) {
      cur[j] = r === can[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[can.length]!;
}

function scoreLcs(target: string[], prediction: string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(target, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Indices into `ref` of one LCS with `can`, by rouge_score's non-recursive backtrack. */
function lcsIndices(ref: string[], can: string[]): number[] {
  const t = lcsTable(ref, can);
  const cols = can.length + 1;
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i * cols + j - 1]! > t[(i - 1) * cols + j]!) {
      j--;
    } else {
      i--;
    }
  }
  return out.reverse();
}

function summaryLevelLcs(refSents: string[][], canSents: string[][]): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  let m = 0;
  let n = 0;
  for (const s of refSents) m += s.length;
  for (const s of canSents) n += s.length;
  if (m === 0 || n === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const countsRef = new Map<string, number>();
  const countsCan = new Map<string, number>();
  for (const s of refSents) for (const t of s) countsRef.set(t, (countsRef.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) countsCan.set(t, (countsCan.get(t) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    const union = new Set<number>();
    for (const c of canSents) for (const idx of lcsIndices(r, c)) union.add(idx);
    const sorted = [...union].sort((a, b) => a - b);
    for (const idx of sorted) {
      const t = r[idx]!;
      const cc = countsCan.get(t) ?? 0;
      const cr = countsRef.get(t) ?? 0;
      if (cc > 0 && cr > 0) {
        hits++;
        countsCan.set(t, cc - 1);
        countsRef.set(t, cr - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** rouge_score's sentence split for rougeLsum without `split_summaries`: on "\n", dropping empty strings. */
function summarySentences(text: string): string[][] {
  return text
    .split("\n")
    .filter((s) => s.length > 0)
    .map(rougeTokenize);
}

/** `RougeScorer(['rouge1','rouge2','rougeL','rougeLsum']).score(target=reference, prediction)`. */
export function rougePair(prediction: string, reference: string): Record<RougeType, RougeScore> {
  const target = rougeTokenize(reference);
  const pred = rougeTokenize(prediction);
  const hasNewline = prediction.includes("\n") || reference.includes("\n");
  const rougeL = scoreLcs(target, pred);
  return {
    rouge1: scoreNgrams(ngrams(target, 1), ngrams(pred, 1)),
    rouge2: scoreNgrams(ngrams(target, 2), ngrams(pred, 2)),
    rougeL,
    // without newlines rougeLsum reduces to the same LCS; the general path is kept for texts with them
    rougeLsum: hasNewline
      ? summaryLevelLcs(summarySentences(reference), summarySentences(prediction))
      : rougeL,
  };
}

/**
 * HF `evaluate` rouge aggregation: rouge_score's BootstrapAggregator under numpy's legacy global RNG.
 * For each type in order, 1000 resamples of n indices (np.random.choice), each resample's mean F
 * summed sequentially (np.mean over axis 0), then the 50th percentile with linear interpolation.
 */
export function bootstrapMedians(perPairF: Float64Array[], seed: number, nSamples = 1000): number[] {
  const rng = new MT19937(seed);
  const out: number[] = [];
  for (const values of perPairF) {
    const n = values.length;
    const idx = new Int32Array(n);
    const means = new Float64Array(nSamples);
    for (let s = 0; s < nSamples; s++) {
      rng.randintFill(n, idx);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += values[idx[i]!]!;
      means[s] = sum / n;
    }
    means.sort();
    // np.percentile(..., 50), 'linear': index (nSamples-1)/2 between a and b; numpy computes b - (b-a)*(1-t) for t >= 0.5
    const pos = 0.5 * (nSamples - 1);
    const lo = Math.floor(pos);
    const t = pos - lo;
    const a = means[lo]!;
    const b = means[Math.min(lo + 1, nSamples - 1)]!;
    out.push(t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);
  }
  return out;
}

/** ROUGE-1/2/L/Lsum per pair and over the corpus (plain mean and HF's bootstrap median). */
export function rouge(predictions: string[], references: string[], opts: RougeOptions = {}): RougeResult {
  if (predictions.length !== references.length) {
    throw new DepError(
      "DEP_INPUT",
      `rouge: ${predictions.length} predictions but ${references.length} references; pass one reference per prediction`,
    );
  }
  if (predictions.length === 0) throw new DepError("DEP_INPUT", "rouge: no predictions to score");
  const seed = opts.seed ?? 42;
  const nSamples = opts.nSamples ?? 1000;
  const perPair = predictions.map((p, i) => rougePair(p, references[i]!));
  const columns = ROUGE_TYPES.map((type) => Float64Array.from(perPair, (s) => s[type].fmeasure));
  const medians = bootstrapMedians(columns, seed, nSamples);
  const corpus = (k: number): RougeCorpus => ({ hf: medians[k]!, mean: numpyMean(columns[k]!) });
  return {
    rouge1: corpus(0),
    rouge2: corpus(1),
    rougeL: corpus(2),
    rougeLsum: corpus(3),
    perPair,
    signature: `rouge_score:0.1.2|tok:default|stem:no|agg:hf-bootstrap(n=${nSamples},seed=${seed})`,
  };
}
