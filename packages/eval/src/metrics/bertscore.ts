// BERTScore (bert_score.score's algorithm) over a pluggable per-token encoder: greedy cosine matching,
// optional idf weighting over the references, optional baseline rescaling.
import { DepError } from "@dep/native-cuda";

/** One encoded text: n token vectors of `dim` floats, row-major, from one layer of a frozen encoder. */
export interface TokenEmbeddings {
  /** n * dim floats. Need not be normalised. */
  vectors: Float32Array;
  dim: number;
  /** Token ids (length n); idf is counted over these. */
  ids: Int32Array;
  /** 1 where the token is the encoder's BOS/EOS (CLS/SEP) marker: weight 0, as in bert_score. */
  specialMask: Uint8Array;
}

/**
 * Anything that turns texts into per-token embeddings. `id` names the model and layer (it goes into the
 * signature: scores are only comparable within one encoder). A llama.cpp GGUF model fits by tokenizing
 * with BOS/EOS, running one forward pass with per-token embeddings, and marking BOS/EOS in `specialMask`.
 */
export interface TokenEncoder {
  readonly id: string;
  encode(texts: string[]): Promise<TokenEmbeddings[]>;
}

export interface BertScoreBaseline {
  p: number;
  r: number;
  f: number;
}

export interface BertScoreOptions {
  /** Weight tokens by idf over the references (bert_score `idf=True`). Default false. */
  idf?: boolean;
  /** Rescale with these baseline values: (x - b) / (1 - b) (bert_score `rescale_with_baseline`). */
  baseline?: BertScoreBaseline;
  /** Texts per encode() call. Default 64. */
  batchSize?: number;
}

export interface BertScoreResult {
  /** Corpus means of the per-pair values. */
  p: number;
  r: number;
  f: number;
  perPair: Array<{ p: number; r: number; f: number }>;
  signature: string;
}

function checkEmbeddings(e: TokenEmbeddings, what: string): number {
  const n = e.ids.length;
  if (e.dim <= 0 || e.vectors.length !== n * e.dim || e.specialMask.length !== n) {
    throw new DepError(
      "DEP_ENCODER",
      `bertScore: encoder returned inconsistent shapes for ${what} (ids ${n}, dim ${e.dim}, vectors ${e.vectors.length}, mask ${e.specialMask.length})`,
    );
  }
  return n;
}

/** Row-wise L2-normalised copy, in float64. */
function normalised(e: TokenEmbeddings): Float64Array {
  const n = e.ids.length;
  const d = e.dim;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let k = 0; k < d; k++) ss += e.vectors[i * d + k]! ** 2;
    const norm = Math.sqrt(ss);
    for (let k = 0; k < d; k++) out[i * d + k] = e.vectors[i * d + k]! / norm;
  }
  return out;
}

/** Sum_i w_i * max_j cos(a_i, b_j) / Sum_i w_i: bert_score's greedy matching in one direction. */
function greedy(
  a: Float64Array,
  na: number,
  b: Float64Array,
  nb: number,
  d: number,
  w: Float64Array,
): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < na; i++) {
    let best = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < nb; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a[i * d + k]! * b[j * d + k]!;
      if (dot > best) best = dot;
    }
    num += w[i]! * best;
    den += w[i]!;
  }
  return num / den;
}

async function encodeAll(
  encoder: TokenEncoder,
  texts: string[],
  batchSize: number,
): Promise<TokenEmbeddings[]> {
  const out: TokenEmbeddings[] = [];
  for (let s = 0; s < texts.length; s += batchSize) {
    const batch = texts.slice(s, s + batchSize);
    const enc = await encoder.encode(batch);
    if (enc.length !== batch.length) {
      throw new DepError(
        "DEP_ENCODER",
        `bertScore: encoder ${encoder.id} returned ${enc.length} results for ${batch.length} texts`,
      );
    }
    out.push(...enc);
  }
  return out;
}

/** idf weights log((M+1)/(df+1)) over the M references; ids never seen in a reference get log(M+1). */
export function idfWeights(references: TokenEmbeddings[]): (id: number) => number {
  const df = new Map<number, number>();
  for (const r of references) for (const id of new Set(r.ids)) df.set(id, (df.get(id) ?? 0) + 1);
  const m = references.length;
  return (id) => Math.log((m + 1) / ((df.get(id) ?? 0) + 1));
}

/** BERTScore P/R/F per pair and their means, with `encoder` for both sides. */
export async function bertScore(
  candidates: string[],
  references: string[],
  encoder: TokenEncoder,
  opts: BertScoreOptions = {},
): Promise<BertScoreResult> {
  if (candidates.length !== references.length) {
    throw new DepError(
      "DEP_INPUT",
      `bertScore: ${candidates.length} candidates but ${references.length} references; pass one reference per candidate`,
    );
  }
  const batchSize = opts.batchSize ?? 64;
  const refEnc = await encodeAll(encoder, references, batchSize);
  const candEnc = await encodeAll(encoder, candidates, batchSize);
  const idf = opts.idf ? idfWeights(refEnc) : () => 1;
  const weights = (e: TokenEmbeddings): Float64Array =>
    Float64Array.from(e.ids, (id, i) => (e.specialMask[i] ? 0 : idf(id)));
  const rescale = (x: number, b: number | undefined): number => (b === undefined ? x : (x - b) / (1 - b));

  const perPair: Array<{ p: number; r: number; f: number }> = [];
  for (let k = 0; k < candidates.length; k++) {
    const c = candEnc[k]!;
    const r = refEnc[k]!;
    const nc = checkEmbeddings(c, `candidate ${k}`);
    const nr = checkEmbeddings(r, `reference ${k}`);
    if (c.dim !== r.dim)
      throw new DepError("DEP_ENCODER", `bertScore: dims differ (${c.dim} vs ${r.dim}) at pair ${k}`);
    let p = Number.NaN;
    let rec = Number.NaN;
    if (nc > 0 && nr > 0) {
      const cn = normalised(c);
      const rn = normalised(r);
      p = greedy(cn, nc, rn, nr, c.dim, weights(c));
      rec = greedy(rn, nr, cn, nc, c.dim, weights(r));
    }
    let f = (2 * p * rec) / (p + rec);
    // bert_score replaces NaN F (P + R == 0 or empty input) by 0
    if (Number.isNaN(f)) f = 0;
    perPair.push({
      p: rescale(p, opts.baseline?.p),
      r: rescale(rec, opts.baseline?.r),
      f: rescale(f, opts.baseline?.f),
    });
  }
  const mean = (key: "p" | "r" | "f"): number =>
    perPair.length === 0 ? Number.NaN : perPair.reduce((s, x) => s + x[key], 0) / perPair.length;
  const signature =
    `bertscore|encoder:${encoder.id}|idf:${opts.idf ? "yes" : "no"}` +
    `|rescaled:${opts.baseline ? `yes(${opts.baseline.p},${opts.baseline.r},${opts.baseline.f})` : "no"}`;
  return { p: mean("p"), r: mean("r"), f: mean("f"), perPair, signature };
}
