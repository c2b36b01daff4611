// sacreBLEU 2.x `corpus_bleu`: tokenizer 13a, exponential smoothing, case-sensitive by default.
import { DepError } from "@dep/native-cuda";
import { pyRstrip, pySplit } from "./pyText.js";

export interface BleuOptions {
  /** Lowercase before tokenizing (sacreBLEU `lowercase=True`, signature `case:lc`). Default false. */
  lowercase?: boolean;
  /** Maximum n-gram order. Default 4. */
  maxNgramOrder?: number;
}

export interface BleuResult {
  score: number;
  /** n-gram precisions in percent, order 1..maxNgramOrder. */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  counts: number[];
  totals: number[];
  signature: string;
}

export const SACREBLEU_VERSION = "2.x";

const TOK_13A_RULES: Array<[RegExp, string]> = [
  [/([{-~[-` -&(-+:-@/])/g, " $1 "],
  [/([^0-9])([.,])/gu, "$1 $2 "],
  [/([.,])([^0-9])/gu, " $1 $2"],
  [/([0-9])(-)/gu, "$1 $2 "],
];

/** sacreBLEU's Tokenizer13a, returning the tokens (sacreBLEU joins them with spaces, then BLEU splits again). */
export function tokenize13a(segment: string): string[] {
  let line = segment.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line
      .replaceAll("&quot;", '"')
      .replaceAll("&amp;", "&")
      .replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">");
  }
  line = ` ${line} `;
  for (const [re, repl] of TOK_13A_RULES) line = line.replace(re, repl);
  return pySplit(line);
}

/** n-gram counts per order (index n-1), keyed by the tokens joined with spaces (tokens contain none). */
function ngramCounts(tokens: string[], maxOrder: number): Array<Map<string, number>> {
  const counts = Array.from({ length: maxOrder }, () => new Map<string, number>());
  for (let i = 0; i < tokens.length; i++) {
    let key = tokens[i]!;
    for (let n = 1; n <= maxOrder && i + n <= tokens.length; n++) {
      if (n > 1) key += ` ${tokens[i + n - 1]}`;
      const m = counts[n - 1]!;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function closestRefLen(hypLen: number, refLens: number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const refLen of refLens) {
    const diff = Math.abs(hypLen - refLen);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = refLen;
    } else if (diff === closestDiff && refLen < closestLen) {
      closestLen = refLen;
    }
  }
  return closestLen;
}

function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/** Normalises `references` to streams: string[] is one stream; string[][] is a list of streams. */
function toStreams(references: string[] | string[][], n: number): string[][] {
  if (references.length === 0) return [];
  const streams: string[][] =
    typeof references[0] === "string" ? [references as string[]] : (references as string[][]);
  for (const [k, stream] of streams.entries()) {
    if (!Array.isArray(stream) || stream.length !== n) {
      throw new DepError(
        "DEP_INPUT",
        `bleu: reference stream ${k} has ${Array.isArray(stream) ? stream.length : "no"} segments, expected ${n} (one per hypothesis)`,
      );
    }
  }
  return streams;
}

interface BleuStats {
  sysLen: number;
  refLen: number;
  correct: number[];
  total: number[];
}

/** sacreBLEU's per-segment sufficient statistics: hypothesis length, closest reference length, n-gram matches. */
function segmentStats(hypTokens: string[], refTokenLists: string[][], maxOrder: number): BleuStats {
  const refLens: number[] = [];
  const maxRefCounts = Array.from({ length: maxOrder }, () => new Map<string, number>());
  for (const refTokens of refTokenLists) {
    refLens.push(refTokens.length);
    const refCounts = ngramCounts(refTokens, maxOrder);
    for (let k = 0; k < maxOrder; k++) {
      const target = maxRefCounts[k]!;
      for (const [ngram, count] of refCounts[k]!) {
        const prev = target.get(ngram);
        if (prev === undefined || count > prev) target.set(ngram, count);
      }
    }
  }
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  const hypCounts = ngramCounts(hypTokens, maxOrder);
  for (let k = 0; k < maxOrder; k++) {
    const refs = maxRefCounts[k]!;
    for (const [ngram, count] of hypCounts[k]!) {
      total[k]! += count;
      const refCount = refs.get(ngram);
      if (refCount !== undefined) correct[k]! += Math.min(count, refCount);
    }
  }
  return { sysLen: hypTokens.length, refLen: closestRefLen(hypTokens.length, refLens), correct, total };
}

/**
 * sacreBLEU's `BLEU.compute_bleu` with exp smoothing. With `effectiveOrder` (what `sentence_bleu` uses) the
 * geometric mean runs only over the orders the hypothesis has n-grams of, so a short sentence is not zero.
 */
function computeBleu(
  s: BleuStats,
  maxOrder: number,
  effectiveOrder: boolean,
): { score: number; precisions: number[]; bp: number } {
  const { sysLen, refLen, correct, total } = s;
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(maxOrder).fill(0);
  // sacreBLEU stops early when nothing matches (#141)
  if (!correct.some((c) => c !== 0)) return { score: 0, precisions, bp };
  let smoothMteval = 1;
  let order = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    const t = total[n - 1]!;
    if (t === 0) break;
    if (effectiveOrder) order = n;
    const c = correct[n - 1]!;
    if (c === 0) {
      smoothMteval *= 2;
      precisions[n - 1] = 100 / (smoothMteval * t);
    } else {
      precisions[n - 1] = (100 * c) / t;
    }
  }
  let logSum = 0;
  for (const p of precisions.slice(0, order)) logSum += myLog(p);
  return { score: bp * Math.exp(logSum / order), precisions, bp };
}

/** sacreBLEU's signature; `eff:yes` marks sentence-level scores (effective order). */
export const bleuSignature = (nrefs: string, lowercase: boolean, effectiveOrder = false) =>
  `nrefs:${nrefs}|case:${lowercase ? "lc" : "mixed"}|eff:${effectiveOrder ? "yes" : "no"}|tok:13a|smooth:exp|version:${SACREBLEU_VERSION}`;

const preprocess =
  (lowercase: boolean) =>
  (s: string): string[] =>
    tokenize13a(pyRstrip(lowercase ? s.toLowerCase() : s));

/**
 * Corpus BLEU exactly as sacreBLEU 2.x `corpus_bleu(hyps, [refs...])` computes it with its defaults.
 * `references` is one stream (string[]) or several (string[][], each aligned with `hypotheses`).
 */
export function bleu(
  hypotheses: string[],
  references: string[] | string[][],
  opts: BleuOptions = {},
): BleuResult {
  const maxOrder = opts.maxNgramOrder ?? 4;
  const lowercase = opts.lowercase ?? false;
  const streams = toStreams(references, hypotheses.length);
  if (streams.length === 0)
    throw new DepError("DEP_INPUT", "bleu: at least one reference stream is required");
  const prep = preprocess(lowercase);

  const sum: BleuStats = {
    sysLen: 0,
    refLen: 0,
    correct: new Array<number>(maxOrder).fill(0),
    total: new Array<number>(maxOrder).fill(0),
  };
  let nrefsVaries = false;
  for (let i = 0; i < hypotheses.length; i++) {
    // sacreBLEU skips empty/None references in a stream (variable number of references)
    const refs = streams
      .map((stream) => stream[i])
      .filter((r): r is string => typeof r === "string" && r !== "");
    if (refs.length === 0) {
      throw new DepError(
        "DEP_INPUT",
        `bleu: segment ${i + 1} has no non-empty reference; sacreBLEU refuses such input (give every prediction a reference)`,
      );
    }
    if (refs.length !== streams.length) nrefsVaries = true;
    const s = segmentStats(prep(hypotheses[i] ?? ""), refs.map(prep), maxOrder);
    sum.sysLen += s.sysLen;
    sum.refLen += s.refLen;
    for (let k = 0; k < maxOrder; k++) {
      sum.correct[k]! += s.correct[k]!;
      sum.total[k]! += s.total[k]!;
    }
  }
  const { score, precisions, bp } = computeBleu(sum, maxOrder, false);
  const nrefs = nrefsVaries ? "var" : String(streams.length);
  return {
    score,
    precisions,
    bp,
    sysLen: sum.sysLen,
    refLen: sum.refLen,
    counts: sum.correct,
    totals: sum.total,
    signature: bleuSignature(nrefs, lowercase),
  };
}

/**
 * sacreBLEU 2.x `sentence_bleu(hypothesis, references)` with its defaults: 13a, exp smoothing and effective
 * order (the mean runs over the n-gram orders the hypothesis has). Empty references are skipped.
 */
export function sentenceBleu(hypothesis: string, references: string[], opts: BleuOptions = {}): number {
  const maxOrder = opts.maxNgramOrder ?? 4;
  const prep = preprocess(opts.lowercase ?? false);
  const refs = references.filter((r) => r !== "");
  if (refs.length === 0)
    throw new DepError("DEP_INPUT", "sentenceBleu: the hypothesis needs at least one non-empty reference");
  return computeBleu(segmentStats(prep(hypothesis), refs.map(prep), maxOrder), maxOrder, true).score;
}
