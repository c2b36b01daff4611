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
  const prep = (s: string): string[] => tokenize13a(pyRstrip(lowercase ? s.toLowerCase() : s));

  let sysLen = 0;
  let refLen = 0;
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  let nrefsVaries = false;
  for (let i = 0; i < hypotheses.length; i++) {
    const refLens: number[] = [];
    const maxRefCounts = Array.from({ length: maxOrder }, () => new Map<string, number>());
    let nrefsHere = 0;
    for (const stream of streams) {
      const ref = stream[i];
      // sacreBLEU skips empty/None references in a stream (variable number of references)
      if (ref === undefined || ref === null || ref === "") continue;
      nrefsHere++;
      const refTokens = prep(ref);
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
    if (nrefsHere === 0) {
      throw new DepError(
        "DEP_INPUT",
        `bleu: segment ${i + 1} has no non-empty reference; sacreBLEU refuses such input (give every prediction a reference)`,
      );
    }
    if (nrefsHere !== streams.length) nrefsVaries = true;
    const hypTokens = prep(hypotheses[i] ?? "");
    sysLen += hypTokens.length;
    refLen += closestRefLen(hypTokens.length, refLens);
    const hypCounts = ngramCounts(hypTokens, maxOrder);
    for (let k = 0; k < maxOrder; k++) {
      const refs = maxRefCounts[k]!;
      for (const [ngram, count] of hypCounts[k]!) {
        total[k]! += count;
        const refCount = refs.get(ngram);
        if (refCount !== undefined) correct[k]! += Math.min(count, refCount);
      }
    }
  }

  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(maxOrder).fill(0);
  let score = 0;
  if (correct.some((c) => c !== 0)) {
    let smoothMteval = 1;
    for (let n = 1; n <= maxOrder; n++) {
      const t = total[n - 1]!;
      if (t === 0) break;
      const c = correct[n - 1]!;
      if (c === 0) {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * t);
      } else {
        precisions[n - 1] = (100 * c) / t;
      }
    }
    let logSum = 0;
    for (const p of precisions) logSum += myLog(p);
    score = bp * Math.exp(logSum / maxOrder);
  }
  const nrefs = nrefsVaries ? "var" : String(streams.length);
  const signature = `nrefs:${nrefs}|case:${lowercase ? "lc" : "mixed"}|eff:no|tok:13a|smooth:exp|version:${SACREBLEU_VERSION}`;
  return { score, precisions, bp, sysLen, refLen, counts: correct, totals: total, signature };
}
