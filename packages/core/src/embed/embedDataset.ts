// `embedDataset`: embeds every review text of a dataset once (profile texts and targets), into a resumable store.
import { DepError } from "@dep/native-cuda";
import { loadDataset } from "../data/load.js";
import { type DataSource, dataSourceOptions } from "../data/source.js";
import type { Dataset, Split } from "../data/types.js";
import { nextTurn } from "../io/eventLoop.js";
import { claimShardOutput, manifestPathFor, planShard, type Shard } from "../shard/shard.js";
import type { Embedder } from "./embedders.js";
import { type EmbeddingDtype, EmbeddingStore, textKey } from "./store.js";

export interface EmbedDatasetOptions {
  /** dataset folder (or pass `dataset`) */
  dataDir?: DataSource;
  dataset?: Dataset;
  /**
   * splits to read from `dataDir` (default all). In DPL data every review of a user is in its test row
   * (profile + target), so `["test"]` embeds the same texts while reading a tenth of the rows.
   */
  splits?: readonly Split[];
  embedder: Embedder;
  /** the store folder (created if missing; resumed if present) */
  outDir: string;
  /** texts per embedder call (default 32) */
  batchSize?: number;
  /** rows per part file: finished work survives an interruption at this granularity (default 1024) */
  flushEvery?: number;
  /** also embed every item's title and description (`itemText`): the query of the pplug-style method */
  items?: boolean;
  /** storage dtype of a new store (default F32) */
  dtype?: EmbeddingDtype;
  onProgress?: (p: { done: number; total: number; textsPerSecond: number; etaSeconds: number }) => void;
  signal?: AbortSignal;
  /** embed only this shard's texts (by text hash) into `outDir`, with a manifest for `dep merge` */
  shard?: Shard;
}

export interface EmbedDatasetResult {
  /** distinct review texts in the dataset (of this shard, with `shard`) */
  texts: number;
  /** texts embedded by this run */
  embedded: number;
  /** texts already in the store */
  reused: number;
  seconds: number;
  textsPerSecond: number;
  /** texts cut to the embedder's length cap (see USE_LITE_MAX_CHARS, REFERENCE_EMBED_MAX_TOKENS) */
  truncated: number;
}

/** An item as input-aware methods embed it (pplug-style's query): its title, a newline, its description. */
export function itemText(item: { title: string; description: string }): string {
  return `${item.title}\n${item.description}`;
}

/**
 * Distinct review texts of a dataset in first-appearance order (profile reviews, then the target, row by
 * row), then with `items` every item's `itemText`.
 */
export function datasetTexts(ds: Dataset, o: { items?: boolean } = {}): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const row of ds.rows) {
    for (const r of [...row.profile, row.data]) {
      if (!seen.has(r.text)) {
        seen.add(r.text);
        out.push(r.text);
      }
    }
  }
  if (o.items) {
    for (const item of ds.items.values()) {
      const text = itemText(item);
      if (!seen.has(text)) {
        seen.add(text);
        out.push(text);
      }
    }
  }
  return out;
}

/**
 * Embeds every distinct review text not yet in the store. Work is flushed to the store every `flushEvery` rows
 * and when aborted, so an interrupted run keeps what it finished; a rerun embeds nothing new.
 */
export async function embedDataset(options: EmbedDatasetOptions): Promise<EmbedDatasetResult> {
  const t0 = performance.now();
  const ds =
    options.dataset ??
    (options.dataDir
      ? await loadDataset({
          ...dataSourceOptions(options.dataDir),
          ...(options.splits ? { splits: options.splits } : {}),
        })
      : null);
  if (!ds) throw new DepError("DEP_INVALID_ARGUMENT", "embedDataset: give dataDir or dataset");
  const { embedder } = options;
  const dtype = options.dtype ?? "F32";
  let texts = datasetTexts(ds, { items: options.items ?? false });
  let keys = texts.map(textKey);
  if (options.shard) {
    const settings = { embedder: embedder.id, dim: embedder.dim, dtype, items: options.items ?? false };
    const manifest = planShard("embeddings", options.shard, keys, settings);
    await claimShardOutput(manifestPathFor(options.outDir, true), manifest, options.outDir);
    texts = manifest.positions.map((p) => texts[p]!);
    keys = manifest.ids;
  }
  const store = await EmbeddingStore.open(options.outDir, {
    create: {
      embedder: embedder.id,
      dim: embedder.dim,
      normalized: embedder.normalized,
      dtype,
    },
  });
  const todo: number[] = [];
  for (let i = 0; i < texts.length; i++) if (!store.has(keys[i]!)) todo.push(i);
  const reused = texts.length - todo.length;
  const batch = options.batchSize ?? 32;
  const flushEvery = Math.max(batch, options.flushEvery ?? 1024);
  const d = embedder.dim;
  let pendKeys: string[] = [];
  let pend: Float32Array[] = [];
  const flush = async () => {
    if (pendKeys.length === 0) return;
    const v = new Float32Array(pendKeys.length * d);
    let off = 0;
    for (const p of pend) {
      v.set(p, off);
      off += p.length;
    }
    await store.append(pendKeys, v);
    pendKeys = [];
    pend = [];
  };
  let done = 0;
  const tRun = performance.now();
  try {
    for (let i = 0; i < todo.length; i += batch) {
      // an embedder that computes on this thread (use-lite) would otherwise hold SIGINT/SIGTERM off until the
      // whole run ended: its settled promises let no signal handler run
      if (i > 0) await nextTurn();
      if (options.signal?.aborted) throw new DepError("DEP_ABORTED", "embedding aborted");
      const idx = todo.slice(i, i + batch);
      const vecs = await embedder.embed(
        idx.map((j) => texts[j]!),
        options.signal,
      );
      if (vecs.length !== idx.length * d) {
        throw new DepError(
          "DEP_EMBED",
          `${embedder.id}: returned ${vecs.length} values for ${idx.length} texts`,
        );
      }
      pend.push(vecs);
      for (const j of idx) pendKeys.push(keys[j]!);
      done += idx.length;
      if (pendKeys.length >= flushEvery) await flush();
      const rate = done / Math.max(1e-9, (performance.now() - tRun) / 1000);
      options.onProgress?.({
        done,
        total: todo.length,
        textsPerSecond: rate,
        etaSeconds: (todo.length - done) / rate,
      });
    }
  } catch (err) {
    await flush(); // keep every finished batch
    if (!options.signal?.aborted) throw err;
    throw new DepError(
      "DEP_ABORTED",
      `embedding interrupted: ${reused + done} of ${texts.length} texts are in ${options.outDir}; rerun to continue`,
      { cause: err },
    );
  }
  await flush();
  await store.compact();
  const seconds = (performance.now() - t0) / 1000;
  const runSeconds = (performance.now() - tRun) / 1000;
  return {
    texts: texts.length,
    embedded: todo.length,
    reused,
    seconds,
    textsPerSecond: todo.length > 0 ? todo.length / runSeconds : 0,
    truncated: options.embedder.truncated ?? 0,
  };
}
