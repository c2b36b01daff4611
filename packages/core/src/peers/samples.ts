// Per-sample X = [his; diff] (SPEC-DEP §3) and the `dep diff` output file.
//
// For a sample of user u, u's profile is walked newest first; review j on item a qualifies when reviewers[a] has
// more than one entry; for each qualifying j (at most 8): his_j = e(u, j) and diff_j = e(u, j) - sum_r w_r e(r, a)
// over the other reviewers r of a (see peers/diff.ts for the weights).
//
// Output (`writeDiffFile`): FILE.safetensors with `x` F32 [S, 16, d] (rows 0..k-1 his, rows 8..8+k-1 diff, the
// rest zero) and `k` I32 [S], samples in split order; FILE.samples.json says, per sample, which profile reviews
// filled the slots (`sources`, newest first) and which reviews the prompt labels the slots with
// (`prompt_reviews`: equal to `sources`, or 0..k-1 with --reference-prompt-alignment, the reference quirk).
// Samples with no qualifying review are excluded and listed.
import { rm } from "node:fs/promises";
import { DepError } from "@dep/native-cuda";
import { loadDataset } from "../data/load.js";
import { type DataSource, dataSourceOptions, describeDataSource } from "../data/source.js";
import { type Dataset, type DplRow, type Review, SPLITS, type Split, sampleId } from "../data/types.js";
import { EmbeddingStore, textKey } from "../embed/store.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { SafetensorsWriter } from "../io/safetensors.js";
import { Rng } from "../util/rng.js";
import type { DiffCsr, DiffWeighting } from "./diff.js";
import { nativeDiffKernel } from "./nativeDiff.js";
import { buildPeerIndex, type PeerIndex, userKeyOf } from "./peerIndex.js";

export const MAX_HISTORY = 8;
export const SLOT_ROWS = 2 * MAX_HISTORY;

/** A difference kernel with the contract of `computeDifferences` (e.g. the native one). */
export type DiffKernel = (
  csr: DiffCsr,
  means: Float32Array,
  embeddings: Float32Array,
  dim: number,
  weighting: DiffWeighting,
) => Float32Array | Promise<Float32Array>;

export interface DifferenceSamplesOptions {
  /** dataset folder, or pass `dataset` (must include the test split: the peer index is built from it) */
  dataDir?: DataSource;
  dataset?: Dataset;
  /** embedding store folder, or pass `store` */
  embDir?: string;
  store?: EmbeddingStore;
  split: Split;
  /** default "reference" */
  weighting?: DiffWeighting;
  /** label slots with the first k profile reviews, as the reference prompt did (default false) */
  referencePromptAlignment?: boolean;
  /**
   * "all" (default): every row of the split. "dep": SPEC §1.7 — train keeps each user's train row with the
   * longest profile; val keeps a seeded sample of `valSize` rows (in split order); test keeps all.
   */
  subset?: "all" | "dep";
  valSize?: number;
  seed?: number;
  /** swap in another kernel (default: the fused native kernel; `computeDifferences` is the TypeScript oracle) */
  kernel?: DiffKernel;
  /** samples per kernel call when streaming (default 4096) */
  chunkSamples?: number;
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
}

export interface SampleInfo {
  id: string;
  userId: string;
  category: string;
  /** position of the row within the split as loaded */
  row: number;
  historyLength: number;
  k: number;
  /** profile indices whose embeddings fill slot pairs 0..k-1 (newest first) */
  sources: number[];
  /** profile indices the prompt labels slot pairs with */
  promptReviews: number[];
}

/** Everything needed to materialize X for the selected samples, chunk by chunk. */
export interface DifferencePlan {
  dim: number;
  embedder: string;
  split: Split;
  weighting: DiffWeighting;
  referencePromptAlignment: boolean;
  samples: SampleInfo[];
  excluded: { count: number; ids: string[] };
  /**
   * Slot pairs of sample s are slotPtr[s] .. slotPtr[s+1]-1; slotTarget maps each to a distinct target of `csr`
   * (the same (user, review) in several rows of a user, e.g. its 8 train rows, is computed once).
   */
  slotPtr: Int32Array;
  slotTarget: Int32Array;
  csr: DiffCsr;
  index: PeerIndex;
  embeddings: Float32Array;
  timings: { loadMs: number; indexMs: number; planMs: number };
}

function selectRows(
  rows: DplRow[],
  split: Split,
  subset: "all" | "dep",
  valSize: number,
  seed: number,
): number[] {
  const idx = rows.map((_, i) => i);
  if (subset === "all" || split === "test") return idx;
  if (split === "train") {
    const best = new Map<string, number>();
    for (const i of idx) {
      const k = userKeyOf(rows[i]!);
      const b = best.get(k);
      if (b === undefined || rows[i]!.profile.length > rows[b]!.profile.length) best.set(k, i);
    }
    return [...best.values()].sort((a, b) => a - b);
  }
  return new Rng(seed).sample(idx, Math.min(valSize, idx.length)).sort((a, b) => a - b);
}

/** Loads what is needed and plans X for every selected sample of a split (no X materialized yet). */
export async function planDifferences(options: DifferenceSamplesOptions): Promise<DifferencePlan> {
  const t0 = performance.now();
  const dataset =
    options.dataset ??
    (options.dataDir
      ? await loadDataset({
          ...dataSourceOptions(options.dataDir),
          splits: options.split === "test" ? ["test"] : [options.split, "test"],
        })
      : null);
  if (!dataset) throw new DepError("DEP_INVALID_ARGUMENT", "differences: give dataDir or dataset");
  if (!dataset.rows.some((r) => r.split === options.split)) {
    const found = SPLITS.filter((sp) => sp === options.split || dataset.rows.some((r) => r.split === sp))
      .map((sp) => `${sp} ${dataset.rows.filter((r) => r.split === sp).length}`)
      .join(", ");
    throw new DepError(
      "DEP_NO_ROWS",
      `${options.dataDir ? `${describeDataSource(options.dataDir)}: ` : ""}no ${options.split} rows (loaded: ${found}); choose another --split`,
    );
  }
  const store = options.store ?? (options.embDir ? await EmbeddingStore.open(options.embDir) : null);
  if (!store) throw new DepError("DEP_INVALID_ARGUMENT", "differences: give embDir or store");
  const embeddings = store.matrix();
  const dim = store.dim;
  const t1 = performance.now();
  options.onProgress?.({ stage: "loaded", done: dataset.rows.length, total: dataset.rows.length });

  const keyCache = new WeakMap<Review, number>();
  const rowOf = (r: Review, row: DplRow): number => {
    const hit = keyCache.get(r);
    if (hit !== undefined) return hit;
    const key = textKey(r.text);
    const n = store.rowOf(key);
    if (n === undefined) {
      throw new DepError(
        "DEP_EMBED_MISSING",
        `${store.dir}: no embedding for the review of ${r.asin} by user ${row.userId} (${row.category}, sha256 ${key}); ` +
          "the store does not cover the data: run `dep embed` on this dataset into the store",
      );
    }
    keyCache.set(r, n);
    return n;
  };
  const index = buildPeerIndex({ dataset, embeddings, dim, rowOf });
  const t2 = performance.now();
  options.onProgress?.({ stage: "index", done: index.users.length, total: index.users.length });

  const splitRows = dataset.rows.filter((r) => r.split === options.split);
  const chosen = selectRows(
    splitRows,
    options.split,
    options.subset ?? "all",
    options.valSize ?? 512,
    options.seed ?? 42,
  );
  const samples: SampleInfo[] = [];
  const excludedIds: string[] = [];
  const slotPtr: number[] = [0];
  const slotTarget: number[] = [];
  const targetOf = new Map<string, number>();
  const selfRow: number[] = [];
  const selfUser: number[] = [];
  const peerPtr: number[] = [0];
  const peerRow: number[] = [];
  const peerUser: number[] = [];
  const align = options.referencePromptAlignment ?? false;
  for (const i of chosen) {
    const row = splitRows[i]!;
    const u = index.userNumber.get(userKeyOf(row));
    if (u === undefined) {
      throw new DepError(
        "DEP_INPUT",
        `user ${row.userId} (${row.category}) has a ${row.split} row but no test row; the peer index is built from ` +
          "test rows (SPEC §2): load the test split too",
      );
    }
    const sources: number[] = [];
    for (let j = row.profile.length - 1; j >= 0 && sources.length < MAX_HISTORY; j--) {
      const rev = row.profile[j]!;
      const reviewers = index.reviewers.get(`${row.category}\u0000${rev.asin}`);
      if (!reviewers || reviewers.user.length <= 1) continue;
      const self = rowOf(rev, row);
      const key = `${u}\u0000${self}\u0000${rev.asin}`;
      let target = targetOf.get(key);
      if (target === undefined) {
        let n = 0;
        for (let q = 0; q < reviewers.user.length; q++) {
          const r = reviewers.user[q]!;
          if (r === u) continue;
          peerRow.push(index.eRow[index.ePtr[r]! + reviewers.index[q]!]!);
          peerUser.push(r);
          n++;
        }
        if (n === 0) continue; // cannot happen with one review per item per user; kept for safety
        target = selfRow.length;
        targetOf.set(key, target);
        selfRow.push(self);
        selfUser.push(u);
        peerPtr.push(peerRow.length);
      }
      slotTarget.push(target);
      sources.push(j);
    }
    if (sources.length === 0) {
      excludedIds.push(sampleId(row));
      continue;
    }
    slotPtr.push(slotTarget.length);
    samples.push({
      id: sampleId(row),
      userId: row.userId,
      category: row.category,
      row: i,
      historyLength: row.profile.length,
      k: sources.length,
      sources,
      promptReviews: align ? sources.map((_, q) => q) : sources,
    });
  }
  const t3 = performance.now();
  return {
    dim,
    embedder: store.meta.embedder,
    split: options.split,
    weighting: options.weighting ?? "reference",
    referencePromptAlignment: align,
    samples,
    excluded: { count: excludedIds.length, ids: excludedIds },
    slotPtr: Int32Array.from(slotPtr),
    slotTarget: Int32Array.from(slotTarget),
    csr: {
      selfRow: Int32Array.from(selfRow),
      selfUser: Int32Array.from(selfUser),
      peerPtr: Int32Array.from(peerPtr),
      peerRow: Int32Array.from(peerRow),
      peerUser: Int32Array.from(peerUser),
    },
    index,
    embeddings,
    timings: { loadMs: t1 - t0, indexMs: t2 - t1, planMs: t3 - t2 },
  };
}

/** X for samples [s0, s1) of a plan: [(s1-s0) * 16 * dim], plus their k. */
export async function materializeDifferences(
  plan: DifferencePlan,
  s0: number,
  s1: number,
  kernel: DiffKernel = nativeDiffKernel(),
  /** reuse this buffer (length >= (s1-s0)*16*dim) for x instead of allocating one */
  into?: Float32Array,
): Promise<{ x: Float32Array; k: Int32Array; targets: number; kernelMs: number }> {
  const d = plan.dim;
  const { csr } = plan;
  // the distinct targets of these samples, as their own CSR
  const local = new Map<number, number>();
  const sel: number[] = [];
  for (let q = plan.slotPtr[s0]!; q < plan.slotPtr[s1]!; q++) {
    const t = plan.slotTarget[q]!;
    if (!local.has(t)) {
      local.set(t, sel.length);
      sel.push(t);
    }
  }
  let nnz = 0;
  for (const t of sel) nnz += csr.peerPtr[t + 1]! - csr.peerPtr[t]!;
  const sub: DiffCsr = {
    selfRow: new Int32Array(sel.length),
    selfUser: new Int32Array(sel.length),
    peerPtr: new Int32Array(sel.length + 1),
    peerRow: new Int32Array(nnz),
    peerUser: new Int32Array(nnz),
  };
  let off = 0;
  sel.forEach((t, i) => {
    sub.selfRow[i] = csr.selfRow[t]!;
    sub.selfUser[i] = csr.selfUser[t]!;
    const a = csr.peerPtr[t]!;
    const b = csr.peerPtr[t + 1]!;
    sub.peerRow.set(csr.peerRow.subarray(a, b), off);
    sub.peerUser.set(csr.peerUser.subarray(a, b), off);
    off += b - a;
    sub.peerPtr[i + 1] = off;
  });
  const tk = performance.now();
  const diff = await kernel(sub, plan.index.means, plan.embeddings, d, plan.weighting);
  const kernelMs = performance.now() - tk;
  const size = (s1 - s0) * SLOT_ROWS * d;
  let x: Float32Array;
  if (into) {
    if (into.length < size)
      throw new DepError("DEP_INVALID_ARGUMENT", "materializeDifferences: buffer too small");
    x = into.length === size ? into : into.subarray(0, size);
    x.fill(0);
  } else x = new Float32Array(size);
  const k = new Int32Array(s1 - s0);
  const emb = plan.embeddings;
  for (let s = s0; s < s1; s++) {
    const a = plan.slotPtr[s]!;
    const n = plan.slotPtr[s + 1]! - a;
    k[s - s0] = n;
    const base = (s - s0) * SLOT_ROWS * d;
    for (let q = 0; q < n; q++) {
      const t = plan.slotTarget[a + q]!;
      const li = local.get(t)!;
      const so = csr.selfRow[t]! * d;
      const ho = base + q * d;
      const dso = li * d;
      const dho = base + (MAX_HISTORY + q) * d;
      for (let j = 0; j < d; j++) {
        x[ho + j] = emb[so + j]!;
        x[dho + j] = diff[dso + j]!;
      }
      for (let j = 0; j < d; j++) {
        if (!Number.isFinite(x[ho + j]!) || !Number.isFinite(x[dho + j]!)) throw nonFinite(plan, s, j);
      }
    }
  }
  return { x, k, targets: sel.length, kernelMs };
}

/** Embeddings so large (or NaN) that their differences overflow: not what an embedder writes. */
function nonFinite(plan: DifferencePlan, s: number, j: number): DepError {
  let max = 0;
  for (const v of plan.embeddings)
    if (Math.abs(v) > max || Number.isNaN(v)) max = Number.isNaN(v) ? Number.NaN : Math.abs(v);
  return new DepError(
    "DEP_INPUT_NONFINITE",
    `the difference embeddings of sample ${plan.samples[s]!.id} are not finite (component ${j}); the embedding store ` +
      `holds values up to ${max} (${plan.embedder}), which no sentence encoder writes: re-embed the data with dep embed`,
  );
}

export interface DifferenceSamples {
  x: Float32Array;
  k: Int32Array;
  dim: number;
  samples: SampleInfo[];
  excluded: { count: number; ids: string[] };
  plan: DifferencePlan;
}

/** Plans and materializes X for the whole split in memory (see `writeDiffFile` for large splits). */
export async function buildDifferenceSamples(options: DifferenceSamplesOptions): Promise<DifferenceSamples> {
  const plan = await planDifferences(options);
  const { x, k } = await materializeDifferences(plan, 0, plan.samples.length, options.kernel);
  return { x, k, dim: plan.dim, samples: plan.samples, excluded: plan.excluded, plan };
}

export interface WriteDiffFileResult {
  file: string;
  sidecar: string;
  samples: number;
  excluded: { count: number; ids: string[] };
  /** computeMs includes kernelMs (the difference kernel alone) and assembling X */
  timings: {
    loadMs: number;
    indexMs: number;
    planMs: number;
    computeMs: number;
    kernelMs: number;
    writeMs: number;
  };
  /** difference targets computed (a (user, review) shared by several samples is computed once per chunk) */
  targets: number;
}

/** The sidecar path of a diff file: FILE.safetensors -> FILE.samples.json. */
export function diffSidecarPath(file: string): string {
  return `${file.replace(/\.safetensors$/, "")}.samples.json`;
}

/**
 * `dep diff`: streams X for a split into `outFile` (safetensors, atomic) in chunks, and writes the sidecar.
 * Fails with DEP_NO_SAMPLES when no sample has a qualifying review.
 */
export async function writeDiffFile(
  options: DifferenceSamplesOptions & { outFile: string },
): Promise<WriteDiffFileResult> {
  const plan = await planDifferences(options);
  const S = plan.samples.length;
  const d = plan.dim;
  if (S === 0) {
    throw new DepError(
      "DEP_NO_SAMPLES",
      `no ${plan.split} sample has a profile review on an item with other reviewers (${plan.excluded.count} excluded); ` +
        "nothing to write",
    );
  }
  const meta = {
    format: "dep-diff",
    split: plan.split,
    weighting: plan.weighting,
    reference_prompt_alignment: String(plan.referencePromptAlignment),
    embedder: plan.embedder,
    dim: String(d),
    samples: String(S),
    excluded: String(plan.excluded.count),
  };
  const w = await SafetensorsWriter.create(
    options.outFile,
    [
      { name: "x", dtype: "F32", shape: [S, SLOT_ROWS, d] },
      { name: "k", dtype: "I32", shape: [S] },
    ],
    meta,
  );
  const chunk = Math.max(1, options.chunkSamples ?? 4096);
  const ks = new Int32Array(S);
  const buffer = new Float32Array(Math.min(S, Math.max(1, options.chunkSamples ?? 4096)) * SLOT_ROWS * d);
  let computeMs = 0;
  let kernelMs = 0;
  let writeMs = 0;
  let targets = 0;
  try {
    for (let s = 0; s < S; s += chunk) {
      const e = Math.min(S, s + chunk);
      const tc = performance.now();
      const {
        x,
        k,
        targets: nt,
        kernelMs: km,
      } = await materializeDifferences(plan, s, e, options.kernel, buffer);
      kernelMs += km;
      targets += nt;
      const tw = performance.now();
      await w.write("x", x);
      writeMs += performance.now() - tw;
      computeMs += tw - tc;
      ks.set(k, s);
      options.onProgress?.({ stage: "diff", done: e, total: S });
    }
    await w.write("k", ks);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  const sidecar = diffSidecarPath(options.outFile);
  try {
    await writeJsonAtomic(sidecar, {
      format: "dep-diff-samples",
      version: 1,
      split: plan.split,
      weighting: plan.weighting,
      reference_prompt_alignment: plan.referencePromptAlignment,
      embedder: plan.embedder,
      dim: d,
      samples: plan.samples.map((s) => ({
        id: s.id,
        user_id: s.userId,
        category: s.category,
        row: s.row,
        history_length: s.historyLength,
        k: s.k,
        sources: s.sources,
        prompt_reviews: s.promptReviews,
      })),
      excluded: plan.excluded,
    });
  } catch (err) {
    await rm(options.outFile, { force: true });
    throw err;
  }
  return {
    file: options.outFile,
    sidecar,
    samples: S,
    excluded: plan.excluded,
    timings: { ...plan.timings, computeMs, kernelMs, writeMs },
    targets,
  };
}
