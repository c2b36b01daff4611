// `dep select` (SPEC §6): generate for the validation samples with every epoch checkpoint of a run, score
// METEOR, and mark the best — as the reference does. Generations are kept per epoch (resumable), and the
// choice is written to RUNDIR/selection.json. With `shard`, only this shard's share of the generations is made
// (RUNDIR/select/epoch-N.SPLIT.jsonl.shard-I-of-N) and nothing is scored: a later unsharded `dep select`
// merges the shards of each epoch, finds every sample done, and scores.
import { existsSync, readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  assertStoreFits,
  chatTemplateChoice,
  checkpointVariant,
  type DataSource,
  type GeneratingLlm,
  generatePredictions,
  loadModelCheckpoint,
  mergeShards,
  modelOfCheckpoint,
  readCheckpointConfig,
  readFinished,
  recipeOf,
  type Shard,
  shardPath,
  shardsBeside,
  writeJsonAtomic,
} from "@dep/core";
import { DepError, type KernelOptions } from "@dep/native-cuda";
import { meteorOffThread } from "../evaluate.js";

export interface SelectOptions {
  runDir: string;
  dataDir: DataSource;
  embDir: string;
  llm: GeneratingLlm;
  kernel: KernelOptions;
  split?: "val" | "test";
  maxSamples?: number;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  samplerOrder?: "reference" | "llama.cpp";
  seed?: number;
  parallel?: number;
  maxLength?: number;
  maxDescriptionChars?: number;
  punktDir?: string;
  signal?: AbortSignal;
  onProgress?: (p: { epoch: number; done: number; total: number }) => void;
  /** generate only this shard's share for every epoch; score nothing (see the top of the file) */
  shard?: Shard;
  /** what must match between the shards of one job (the frozen LLM) */
  shardSettings?: Record<string, unknown>;
}

export interface ShardSelection {
  split: string;
  shard: Shard;
  epochs: Array<{ epoch: number; out: string; written: number; total: number }>;
}

export interface Selection {
  split: string;
  epochs: Array<{ epoch: number; checkpoint: string; meteor: number; n: number }>;
  best: { epoch: number; checkpoint: string; meteor: number };
}

export function epochCheckpoints(runDir: string): Array<{ epoch: number; dir: string }> {
  const dir = join(runDir, "checkpoints");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, m: /^epoch-(\d+)$/.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .map((x) => ({ epoch: Number(x.m[1]), dir: join(dir, x.name) }))
    .sort((a, b) => a.epoch - b.epoch);
}

/** `dep select --shard I/N`: this shard's generations for every epoch, nothing scored. */
export async function selectShard(o: SelectOptions & { shard: Shard }): Promise<ShardSelection> {
  const split = o.split ?? "val";
  const epochs: ShardSelection["epochs"] = [];
  await forEachEpoch(o, async (epoch, outFile, generate) => {
    const out = shardPath(outFile, o.shard);
    const r = await generate(out, {
      shard: o.shard,
      ...(o.shardSettings ? { shardSettings: o.shardSettings } : {}),
    });
    epochs.push({ epoch, out, written: r.written, total: r.total });
  });
  return { split, shard: o.shard, epochs };
}

type EpochGenerate = (
  outFile: string,
  extra?: Pick<Parameters<typeof generatePredictions>[0], "shard" | "shardSettings">,
) => ReturnType<typeof generatePredictions>;

/** Runs `fn` for each epoch checkpoint with its predictions path and a generate call bound to its model. */
async function forEachEpoch(
  o: SelectOptions,
  fn: (epoch: number, outFile: string, generate: EpochGenerate, dir: string) => Promise<void>,
): Promise<void> {
  const split = o.split ?? "val";
  const checkpoints = epochCheckpoints(o.runDir);
  if (checkpoints.length === 0) {
    throw new DepError("DEP_INPUT", `${o.runDir}: no checkpoints/epoch-N folders (train first: dep train)`);
  }
  for (const c of checkpoints) await assertStoreFits(o.embDir, readCheckpointConfig(c.dir), c.dir);
  const outDir = join(o.runDir, "select");
  await mkdir(outDir, { recursive: true });
  for (const c of checkpoints) {
    const ckpt = await loadModelCheckpoint(c.dir);
    const { config } = ckpt;
    const model = modelOfCheckpoint(ckpt, o.kernel);
    const outFile = join(outDir, `epoch-${c.epoch}.${split}.jsonl`);
    const generate: EpochGenerate = (out, extra = {}) =>
      generatePredictions({
        llm: o.llm,
        model,
        method: checkpointVariant(config),
        dataDir: o.dataDir,
        embDir: o.embDir,
        split,
        outFile: out,
        ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
        maxTokens: o.maxTokens ?? 2048,
        temperature: o.temperature ?? 0.8,
        topP: o.topP ?? 0.95,
        samplerOrder: o.samplerOrder ?? "reference",
        // each checkpoint's prompt as its run was trained
        prompt: recipeOf(config.hyperparameters).prompt,
        chatTemplate: chatTemplateChoice(recipeOf(config.hyperparameters).chatTemplate),
        markers: recipeOf(config.hyperparameters).markers,
        seed: o.seed ?? 42,
        parallel: o.parallel ?? 4,
        maxLength: o.maxLength ?? 3072,
        ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p) => o.onProgress?.({ epoch: c.epoch, done: p.done, total: p.total }),
        ...extra,
      });
    await fn(c.epoch, outFile, generate, c.dir);
    if (o.signal?.aborted) throw new DepError("DEP_INTERRUPTED", "selection interrupted; rerun to resume");
  }
}

export async function selectCheckpoint(o: SelectOptions): Promise<Selection> {
  const split = o.split ?? "val";
  const epochs: Selection["epochs"] = [];
  await forEachEpoch(o, async (epoch, outFile, generate, dir) => {
    // the generations of a sharded selection (dep select --shard) are merged first; the rerun below then
    // finds every sample done
    const shards = existsSync(outFile) ? [] : shardsBeside(outFile);
    if (shards.length > 0) await mergeShards(outFile, shards);
    await generate(outFile);
    if (o.signal?.aborted) return;
    const lines = [...readFinished(outFile).values()];
    // off the main thread: minutes of METEOR at the paper's scale would hold SIGINT/SIGTERM off
    const m = await meteorOffThread(
      lines.map((l) => l.prediction),
      lines.map((l) => l.reference),
      { punktDir: o.punktDir },
      o.signal,
    );
    epochs.push({ epoch, checkpoint: dir, meteor: m.score, n: lines.length });
  });
  const best = epochs.reduce((a, b) => (b.meteor > a.meteor ? b : a));
  const selection: Selection = {
    split,
    epochs,
    best: { epoch: best.epoch, checkpoint: best.checkpoint, meteor: best.meteor },
  };
  await writeJsonAtomic(join(o.runDir, "selection.json"), selection);
  return selection;
}
