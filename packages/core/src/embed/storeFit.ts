// Whether an embedding store fits a trained model. A model trained on d-dim embeddings would read vectors of
// another width without complaint (and produce garbage), so every command that pairs a checkpoint or a run
// with a store checks this first, before loading the LLM or writing anything.
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { readSafetensorsHeader } from "../io/safetensors.js";
import { hasTrainerState } from "../train/state.js";
import { readStoreMeta } from "./store.js";

/** What a model was trained on: the embedding dim and, where recorded, the embedder's id. */
export interface TrainedOn {
  d: number;
  embedder: string | null;
}

/** Throws DEP_EMBEDDINGS, naming the store and `model`, when the store's dim is not the one `trained` on. */
export async function assertStoreFits(embDir: string, trained: TrainedOn, model: string): Promise<void> {
  const meta = await readStoreMeta(embDir);
  if (meta.dim === trained.d) return;
  const from = trained.embedder ? ` (${trained.embedder})` : "";
  throw new DepError(
    "DEP_EMBEDDINGS",
    `${join(embDir, "meta.json")}: the store holds dim ${meta.dim} embeddings (${meta.embedder}) but ` +
      `${model} was trained on dim ${trained.d}${from}; pass --embeddings the store it was trained with`,
  );
}

/** What a run's saved trainer state was trained on (its SAE encoder's input width); null without a state. */
export async function stateTrainedOn(runDir: string): Promise<TrainedOn | null> {
  if (!(await hasTrainerState(runDir))) return null;
  const path = join(runDir, "state", "model.safetensors");
  // the PyTorch layout of model/params.ts: sae.encoder.0.weight is [h, d]
  const shape = (await readSafetensorsHeader(path)).tensors.get("sae.encoder.0.weight")?.shape;
  if (shape?.length !== 2) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${path}: no [h, d] tensor sae.encoder.0.weight; not a dep trainer state`,
    );
  }
  return { d: shape[1]!, embedder: null };
}
