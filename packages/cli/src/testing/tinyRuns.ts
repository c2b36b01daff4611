// Test helpers: the argument lists of the smallest real runs on a training fixture (its synthetic data, store
// and tiny GGUF), shared by the sharding and Slurm tests. Not part of the package build.
import { fixtureInputs } from "./spawnDep.js";

interface Fixture {
  dataDir: string;
  embDir: string;
  modelPath: string;
}

/** `dep train` for one epoch on two samples: a checkpoint (epoch-1) in a few seconds. */
export function tinyTrainArgs(fx: Fixture, out: string): string[] {
  return [
    "train",
    ...fixtureInputs(fx),
    "--out",
    out,
    "--epochs",
    "1",
    "--grad-accum",
    "2",
    "--max-samples",
    "2",
    "--max-length",
    "1200",
    "--sae-width",
    "16",
    "--kernel-backend",
    "cpu",
  ];
}

/** `dep embed` of the fixture's data with its tiny GGUF as a llama.cpp embedder. */
export function ggufEmbedArgs(fx: Fixture, out: string): string[] {
  return [
    "embed",
    "--data",
    fx.dataDir,
    "--embedder",
    `gguf:${fx.modelPath}`,
    "--out",
    out,
    "--batch-size",
    "8",
  ];
}

/** Greedy `dep generate` (no soft rows: no checkpoint needed) of the first 8 test samples. */
export function greedyGenerateArgs(
  fx: Fixture,
  out: string,
  o: { maxTokens: number; parallel: number },
): string[] {
  return [
    "generate",
    ...fixtureInputs(fx),
    "--method",
    "no-soft",
    "--out",
    out,
    "--max-samples",
    "8",
    "--max-tokens",
    String(o.maxTokens),
    "--parallel",
    String(o.parallel),
    "--temperature",
    "0",
    "--max-length",
    "1200",
  ];
}
