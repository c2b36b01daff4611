// The resumable training state: where the trainer stands, written with the weights, the optimizer moments
// and the gradient accumulator so that a resumed run continues bit for bit.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { recoverReplacedDir, writeDirAtomic } from "../io/atomic.js";
import { writeSafetensors } from "../io/safetensors.js";
import type { DepDims, DepParams } from "../model/params.js";
import { paramList, toTorchTensors } from "../model/params.js";
import { assertFinite, loadOptimizerState, loadReferenceWeights, saveOptimizerState } from "./checkpoint.js";

export interface TrainerPosition {
  epoch: number;
  /** next position in this epoch's sample order */
  position: number;
  /** micro-steps (samples) done in total */
  microStep: number;
  /** optimizer updates done */
  optimizerStep: number;
  /** micro-steps accumulated since the last update */
  accumulated: number;
  /** lines of metrics.jsonl that belong to this state */
  metricsLines: number;
  /** fingerprint of the run config; a resume with other settings is refused */
  configHash: string;
}

export interface TrainerState {
  position: TrainerPosition;
  params: DepParams;
  m: DepParams;
  v: DepParams;
  grads: DepParams;
}

const STATE_DIR = "state";

async function saveParams(path: string, p: DepParams, dims: DepDims): Promise<void> {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(toTorchTensors(p, dims))) tensors[name] = { dtype: "F32", ...t };
  await writeSafetensors(path, tensors);
}

export async function saveTrainerState(runDir: string, s: TrainerState, dims: DepDims): Promise<void> {
  await writeDirAtomic(
    join(runDir, STATE_DIR),
    async (tmp) => {
      await saveParams(join(tmp, "model.safetensors"), s.params, dims);
      await saveParams(join(tmp, "grads.safetensors"), s.grads, dims);
      await saveOptimizerState(join(tmp, "optimizer.safetensors"), s.m, s.v, dims);
      await writeFile(join(tmp, "trainer_state.json"), `${JSON.stringify(s.position, null, 2)}\n`);
    },
    { overwrite: true },
  );
}

export async function hasTrainerState(runDir: string): Promise<boolean> {
  await recoverReplacedDir(join(runDir, STATE_DIR));
  return existsSync(join(runDir, STATE_DIR, "trainer_state.json"));
}

/** Loads the saved state into the given (correctly shaped) buffers. */
export async function loadTrainerState(
  runDir: string,
  into: TrainerState,
  dims: DepDims,
): Promise<TrainerPosition> {
  const dir = join(runDir, STATE_DIR);
  let position: TrainerPosition;
  try {
    position = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8")) as TrainerPosition;
  } catch (err) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${dir}/trainer_state.json is unreadable: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  checkPosition(position, join(dir, "trainer_state.json"));
  const copy = (dst: DepParams, src: DepParams) => {
    const to = paramList(dst);
    paramList(src).forEach((arr, i) => {
      to[i]!.set(arr);
    });
  };
  copy(into.params, await loadReferenceWeights(join(dir, "model.safetensors"), dims));
  copy(into.grads, await loadReferenceWeights(join(dir, "grads.safetensors"), dims));
  await loadOptimizerState(join(dir, "optimizer.safetensors"), into.m, into.v, dims);
  assertFinite(into.params, dims, join(dir, "model.safetensors"));
  assertFinite(into.grads, dims, join(dir, "grads.safetensors"));
  assertFinite(into.m, dims, join(dir, "optimizer.safetensors"), "m.");
  assertFinite(into.v, dims, join(dir, "optimizer.safetensors"), "v.", true);
  into.position = position;
  return position;
}

const COUNTERS = ["epoch", "position", "microStep", "optimizerStep", "accumulated", "metricsLines"] as const;

/** The saved position must be what the trainer writes: counters that are non-negative integers and agree. */
function checkPosition(p: TrainerPosition, file: string): void {
  const bad = (why: string) =>
    new DepError(
      "DEP_CHECKPOINT",
      `${file}: ${why}; the state is corrupt: restore it, or start the run again`,
    );
  if (typeof p !== "object" || p === null) throw bad("expected a JSON object");
  for (const k of COUNTERS) {
    const v = p[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw bad(`field ${k} is ${JSON.stringify(v)}, expected a non-negative integer`);
  }
  if (typeof p.configHash !== "string") throw bad("field configHash is missing");
  if (p.optimizerStep > p.microStep)
    throw bad(`optimizerStep ${p.optimizerStep} exceeds microStep ${p.microStep}`);
  if (p.accumulated > p.microStep) throw bad(`accumulated ${p.accumulated} exceeds microStep ${p.microStep}`);
}
