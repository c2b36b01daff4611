// `dep loss --out FILE`: the held-out loss per sample, one JSONL line each ({sample_id, loss, tokens}),
// appended as samples finish, so a killed run resumes where it stopped and `--shard I/N` runs can be merged.
// The summary (token-weighted and per-sample means) is computed from the file's lines, in the samples' order.
import { existsSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { readJsonLines } from "../io/jsonLines.js";
import { claimShardOutput, manifestPathFor, planShard, type Shard } from "../shard/shard.js";
import { type HeldOutOptions, heldOutLoss } from "./heldOut.js";

export interface LossLine {
  sample_id: string;
  /** mean cross-entropy over the sample's target tokens */
  loss: number;
  tokens: number;
}

export interface LossFileOptions extends HeldOutOptions {
  /** the samples' ids, aligned with `samples` */
  ids: readonly string[];
  outFile: string;
  shard?: Shard;
  /** what must match between the shards of one job (checkpoint, soft rows, LLM, prompt budget) */
  shardSettings?: Record<string, unknown>;
}

export function readLossLines(path: string): Map<string, LossLine> {
  const rows = readJsonLines(path, "a loss line", (row) => {
    const r = row as LossLine | null;
    if (typeof r?.sample_id !== "string" || !Number.isFinite(r.loss) || !Number.isInteger(r.tokens))
      throw new Error("not a loss line");
    return r;
  });
  return new Map(rows.map((r) => [r.sample_id, r]));
}

export async function heldOutLossToFile(o: LossFileOptions): Promise<{
  tokenMean: number;
  sampleMean: number;
  n: number;
  /** prompts over maxLength among the samples computed by this run (kept whole) */
  overBudget: number;
  written: number;
  skipped: number;
  total: number;
}> {
  let mine = o.samples.map((_, i) => i);
  if (o.shard) {
    const manifest = planShard("losses", o.shard, o.ids, o.shardSettings ?? {});
    await claimShardOutput(manifestPathFor(o.outFile, false), manifest, o.outFile);
    mine = manifest.positions;
  }
  const done = readLossLines(o.outFile);
  if (!existsSync(o.outFile)) writeFileSync(o.outFile, "");
  const todo = mine.filter((i) => !done.has(o.ids[i]!));
  const r = await heldOutLoss({
    ...o,
    samples: todo.map((i) => o.samples[i]!),
    onProgress: (n) => o.onProgress?.(done.size + n, mine.length),
    onSample: async (j, s) => {
      const line: LossLine = { sample_id: o.ids[todo[j]!]!, loss: s.loss, tokens: s.tokens };
      await appendFile(o.outFile, `${JSON.stringify(line)}\n`);
    },
  });
  const lines = readLossLines(o.outFile);
  let tokens = 0;
  let weighted = 0;
  let sum = 0;
  let n = 0;
  for (const i of mine) {
    const l = lines.get(o.ids[i]!);
    if (!l) continue;
    weighted += l.loss * l.tokens;
    tokens += l.tokens;
    sum += l.loss;
    n++;
  }
  return {
    tokenMean: tokens ? weighted / tokens : Number.NaN,
    sampleMean: n ? sum / n : Number.NaN,
    n,
    overBudget: r.overBudget,
    written: r.n,
    skipped: done.size,
    total: mine.length,
  };
}
