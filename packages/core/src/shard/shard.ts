// Sharding embarrassingly parallel work (embedding, generation, held-out loss) over N independent processes —
// a Slurm array, a Kubernetes Indexed Job — with no coordinator: every item goes to the shard its key's hash
// names, so each process knows its share from the item alone. The assignment is deterministic, balanced in
// expectation (each shard gets T/N ± about sqrt(T/N) items) and stable when the set grows: adding items never
// moves an existing one to another shard, so finished shard outputs stay valid and resume.
//
// Each shard output `OUT.shard-I-of-N` carries a manifest (see manifestPathFor) naming its shard, the hash
// of the settings every shard must share, and the global positions of its items, so `dep merge` can check
// the set and rebuild exactly what an unsharded run writes.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { writeJsonAtomic } from "../io/atomic.js";

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

export type ShardKind = "embeddings" | "predictions" | "losses";

export interface ShardManifest {
  format: "dep-shard";
  version: 1;
  kind: ShardKind;
  shard: number;
  of: number;
  /** sha256 of the settings that change the output: every shard of one job has the same */
  config: string;
  /** sha256 of the whole job's item list in order: every shard of one job has the same */
  items: string;
  /** items in the whole job (all shards) */
  total: number;
  /** this shard's items (text sha256 keys or sample ids), in the unsharded order */
  ids: string[];
  /** their positions in the unsharded order, aligned with `ids` */
  positions: number[];
}

/** The shard (0..count-1) an item belongs to: the first 48 bits of sha256(key), mod count. */
export function shardOfKey(key: string, count: number): number {
  const h = createHash("sha256").update(key, "utf8").digest();
  return h.readUIntBE(0, 6) % count;
}

/** `OUT.shard-I-of-N`: where shard I of N writes the output an unsharded run writes to OUT. */
export function shardPath(out: string, shard: Shard): string {
  return `${out}.shard-${shard.index}-of-${shard.count}`;
}

/** The shard a path names (`….shard-I-of-N`), or null. */
export function parseShardPath(path: string): (Shard & { base: string }) | null {
  const m = /^(.*)\.shard-(\d+)-of-(\d+)\/?$/.exec(path);
  if (!m) return null;
  return { base: m[1]!, index: Number(m[2]), count: Number(m[3]) };
}

/** A shard output's manifest: `shard.json` inside a folder output, `FILE.shard.json` beside a file. */
export function manifestPathFor(output: string, folder: boolean): string {
  return folder ? join(output, "shard.json") : `${output}.shard.json`;
}

export function describeShard(shard: Shard): string {
  return `shard ${shard.index} of ${shard.count} (${shard.index}/${shard.count})`;
}

/**
 * This shard's share of `ids` (the whole job in its unsharded order) and the manifest recording it. `settings`
 * are whatever changes the output (embedder, method, sampling…); they and the full id list make the hash.
 */
export function planShard(
  kind: ShardKind,
  shard: Shard,
  ids: readonly string[],
  settings: Record<string, unknown>,
): ShardManifest {
  const config = createHash("sha256").update(JSON.stringify({ kind, count: shard.count, settings }));
  const items = createHash("sha256");
  for (const id of ids) items.update(id).update("\n");
  const mine: string[] = [];
  const positions: number[] = [];
  ids.forEach((id, i) => {
    if (shardOfKey(id, shard.count) === shard.index) {
      mine.push(id);
      positions.push(i);
    }
  });
  return {
    format: "dep-shard",
    version: 1,
    kind,
    shard: shard.index,
    of: shard.count,
    config: config.digest("hex"),
    items: items.digest("hex"),
    total: ids.length,
    ids: mine,
    positions,
  };
}

/** Reads and checks a manifest; null when there is none. */
export function readShardManifest(path: string): ShardManifest | null {
  if (!existsSync(path)) return null;
  let m: ShardManifest;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as ShardManifest;
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: not valid JSON (${(err as Error).message}); rerun the shard`);
  }
  const ok =
    m?.format === "dep-shard" &&
    ["embeddings", "predictions", "losses"].includes(m.kind) &&
    Number.isInteger(m.of) &&
    m.of >= 1 &&
    Number.isInteger(m.shard) &&
    m.shard >= 0 &&
    m.shard < m.of &&
    typeof m.config === "string" &&
    typeof m.items === "string" &&
    Number.isInteger(m.total) &&
    Array.isArray(m.ids) &&
    Array.isArray(m.positions) &&
    m.ids.length === m.positions.length;
  if (!ok) throw new DepError("DEP_INPUT", `${path}: not a dep shard manifest; rerun the shard`);
  return m;
}

/**
 * Writes the manifest of a shard run before its work starts. A rerun (resume) must find the same settings, so
 * a shard output is never continued under others; a grown item list just updates the manifest (the items
 * already done keep their shard).
 */
export async function claimShardOutput(path: string, manifest: ShardManifest, output: string): Promise<void> {
  const old = readShardManifest(path);
  if (old && (old.config !== manifest.config || old.shard !== manifest.shard || old.of !== manifest.of)) {
    throw new DepError(
      "DEP_SHARD_RESUME_MISMATCH",
      `${output} was written with other settings or another shard count (config ${old.config.slice(0, 12)}, ` +
        `now ${manifest.config.slice(0, 12)}); remove it or use another --out`,
    );
  }
  if (!old || old.items !== manifest.items) await writeJsonAtomic(path, manifest);
}
