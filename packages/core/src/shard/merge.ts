// `dep merge`: the shard outputs of one job (`OUT.shard-I-of-N`, each with its manifest) into exactly what an
// unsharded run writes to OUT — an embedding store with the same bytes, a predictions or losses file with the
// same lines in the same order. The set is checked first: one kind, one config, every shard once, every
// shard finished; anything else is refused with the shard and what to do.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { EmbeddingStore } from "../embed/store.js";
import { writeDirAtomic, writeFileAtomic } from "../io/atomic.js";
import {
  manifestPathFor,
  parseShardPath,
  readShardManifest,
  type ShardKind,
  type ShardManifest,
} from "./shard.js";

export interface MergeResult {
  kind: ShardKind;
  out: string;
  shards: number;
  /** rows (embeddings) or lines (predictions, losses) written */
  items: number;
}

interface ShardInput {
  path: string;
  folder: boolean;
  manifest: ShardManifest;
}

function readInput(path: string): ShardInput {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new DepError("DEP_INPUT", `${path}: no such shard output`);
  const folder = st.isDirectory();
  const mpath = manifestPathFor(path, folder);
  const manifest = readShardManifest(mpath);
  if (!manifest) {
    throw new DepError(
      "DEP_INPUT",
      `${path}: no shard manifest (${mpath}); dep merge takes what \`--out OUT --shard I/N\` wrote (OUT.shard-I-of-N)`,
    );
  }
  if (folder !== (manifest.kind === "embeddings")) {
    throw new DepError("DEP_INPUT", `${path}: a ${folder ? "folder" : "file"} cannot hold ${manifest.kind}`);
  }
  return { path, folder, manifest };
}

/** Checks that the inputs are every shard of one job, once each; returns them in shard order. */
function checkSet(inputs: ShardInput[]): ShardInput[] {
  if (inputs.length === 0) throw new DepError("DEP_USAGE", "dep merge: give the shard outputs to merge");
  const first = inputs[0]!;
  for (const s of inputs.slice(1)) {
    const [a, b] = [first.manifest, s.manifest];
    const why =
      a.kind !== b.kind
        ? `holds ${b.kind}, ${first.path} holds ${a.kind}`
        : a.of !== b.of
          ? `is shard ${b.shard} of ${b.of}, ${first.path} is of ${a.of}`
          : a.config !== b.config
            ? `was made with other settings than ${first.path} (config ${b.config.slice(0, 12)} vs ${a.config.slice(0, 12)})`
            : a.items !== b.items
              ? `was made over other data than ${first.path} (${b.total} vs ${a.total} items, or another order)`
              : null;
    if (why) throw new DepError("DEP_SHARD_MISMATCH", `${s.path} ${why}; merge the shards of one job`);
  }
  const byIndex = new Map<number, ShardInput>();
  for (const s of inputs) {
    const other = byIndex.get(s.manifest.shard);
    if (other) {
      throw new DepError(
        "DEP_SHARD_DUPLICATE",
        `${s.path} and ${other.path} are both shard ${s.manifest.shard} of ${s.manifest.of}; give each shard once`,
      );
    }
    byIndex.set(s.manifest.shard, s);
  }
  const n = first.manifest.of;
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new DepError(
      "DEP_SHARD_MISSING",
      `missing shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${n} (have ${[...byIndex.keys()].sort((x, y) => x - y).join(", ")}); ` +
        "run them (--shard I/N) and merge all",
    );
  }
  const ordered = [...byIndex.values()].sort((x, y) => x.manifest.shard - y.manifest.shard);
  const covered = ordered.reduce((sum, s) => sum + s.manifest.ids.length, 0);
  if (covered !== first.manifest.total) {
    throw new DepError(
      "DEP_INPUT",
      `the shard manifests cover ${covered} of ${first.manifest.total} items; rerun the shards`,
    );
  }
  return ordered;
}

function incomplete(s: ShardInput, have: number): DepError {
  const m = s.manifest;
  return new DepError(
    "DEP_SHARD_INCOMPLETE",
    `${s.path}: shard ${m.shard} of ${m.of} is unfinished (${have} of ${m.ids.length} ${m.kind === "embeddings" ? "texts" : "samples"}); ` +
      "rerun it with the same options (it resumes), then merge",
  );
}

async function mergeEmbeddings(out: string, shards: ShardInput[], force: boolean): Promise<number> {
  const stores = await Promise.all(shards.map((s) => EmbeddingStore.open(s.path)));
  const m0 = stores[0]!.meta;
  stores.forEach((st, i) => {
    const m = st.meta;
    if (
      m.embedder !== m0.embedder ||
      m.dim !== m0.dim ||
      m.dtype !== m0.dtype ||
      m.normalized !== m0.normalized
    ) {
      throw new DepError(
        "DEP_SHARD_MISMATCH",
        `${shards[i]!.path} holds ${m.embedder} ${m.dtype} dim ${m.dim}, ${shards[0]!.path} ${m0.embedder} ${m0.dtype} dim ${m0.dim}`,
      );
    }
    const have = shards[i]!.manifest.ids.filter((k) => st.has(k)).length;
    if (have < shards[i]!.manifest.ids.length) throw incomplete(shards[i]!, have);
  });
  // every item's (store, key) in the unsharded order
  const total = shards[0]!.manifest.total;
  const from = new Array<number>(total);
  const keys = new Array<string>(total);
  shards.forEach((s, j) => {
    s.manifest.positions.forEach((p, i) => {
      from[p] = j;
      keys[p] = s.manifest.ids[i]!;
    });
  });
  await writeDirAtomic(
    out,
    async (tmp) => {
      // the same meta.json fields in the same order as `dep embed` creates them
      const merged = await EmbeddingStore.open(tmp, {
        create: { embedder: m0.embedder, dim: m0.dim, normalized: m0.normalized, dtype: m0.dtype },
      });
      const chunk = 4096;
      for (let start = 0; start < total; start += chunk) {
        const end = Math.min(total, start + chunk);
        const v = new Float32Array((end - start) * m0.dim);
        for (let p = start; p < end; p++) {
          v.set(stores[from[p]!]!.gather([keys[p]!]), (p - start) * m0.dim);
        }
        await merged.append(keys.slice(start, end), v);
      }
      await merged.compact();
    },
    { overwrite: force, flag: "--force" },
  );
  return total;
}

/** A shard file's complete lines by sample id (raw text, so the merge writes the very bytes it read). */
function linesById(s: ShardInput): Map<string, string> {
  const text = readFileSync(s.path, "utf8");
  const lines = text.split("\n");
  if (!text.endsWith("\n")) lines.pop(); // a torn last line: the shard was killed mid-write
  const out = new Map<string, string>();
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let id: unknown;
    try {
      id = (JSON.parse(line) as { sample_id?: unknown }).sample_id;
    } catch {
      id = undefined;
    }
    if (typeof id !== "string")
      throw new DepError("DEP_INPUT", `${s.path}:${i + 1}: not a line with a sample_id`);
    out.set(id, line);
  });
  return out;
}

async function mergeLines(out: string, shards: ShardInput[], force: boolean): Promise<number> {
  if (existsSync(out) && !force) {
    throw new DepError("DEP_OUTPUT_EXISTS", `${out} already exists; choose another --out or pass --force`);
  }
  const total = shards[0]!.manifest.total;
  const merged = new Array<string>(total);
  for (const s of shards) {
    const lines = linesById(s);
    const have = s.manifest.ids.filter((id) => lines.has(id)).length;
    if (have < s.manifest.ids.length) throw incomplete(s, have);
    s.manifest.positions.forEach((p, i) => {
      merged[p] = lines.get(s.manifest.ids[i]!)!;
    });
  }
  await writeFileAtomic(out, merged.length ? `${merged.join("\n")}\n` : "");
  return total;
}

/** Merges shard outputs (any order) into `out`; `force` replaces an existing `out`. */
export async function mergeShards(
  out: string,
  paths: readonly string[],
  o: { force?: boolean } = {},
): Promise<MergeResult> {
  const shards = checkSet(paths.map(readInput));
  const kind = shards[0]!.manifest.kind;
  const items =
    kind === "embeddings"
      ? await mergeEmbeddings(out, shards, o.force ?? false)
      : await mergeLines(out, shards, o.force ?? false);
  return { kind, out, shards: shards.length, items };
}

/** The shard outputs beside `out` (`OUT.shard-I-of-N`, not their manifests), sorted; [] when there are none. */
export function shardsBeside(out: string): string[] {
  const dir = dirname(out);
  const name = basename(out);
  return (existsSync(dir) ? readdirSync(dir) : [])
    .filter((f) => parseShardPath(f)?.base === name)
    .sort()
    .map((f) => join(dir, f));
}
