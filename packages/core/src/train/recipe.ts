// Reads the prompt settings a run was trained with from its checkpoint's hyperparameters, old and new keys
// alike (runs before issue 14 recorded `referencePromptAlignment: boolean` and had no chat-template or init
// choice: their prompts were aligned, llama.cpp-templated, with text markers, and their initialisation
// nn.Linear's default).
import type { KernelOptions } from "@dep/native-cuda";
import { DepModel } from "../model/DepModel.js";
import type { DepParams, InitScheme } from "../model/params.js";
import type { MarkerMode } from "../prompt/text.js";
import type { ModelCheckpointConfig } from "./checkpoint.js";
import type { PromptAlignment } from "./trainer.js";

export interface TrainedRecipe {
  prompt: PromptAlignment;
  /** "reference", "jinja", or a template file's path */
  chatTemplate: string;
  init: InitScheme;
  markers: MarkerMode;
}

export function recipeOf(hyperparameters: Record<string, unknown>): TrainedRecipe {
  const hp = hyperparameters;
  const before14 = hp.prompt === undefined;
  return {
    prompt:
      hp.prompt === "aligned" || hp.prompt === "reference"
        ? hp.prompt
        : hp.referencePromptAlignment === true
          ? "reference"
          : before14
            ? "aligned"
            : "reference",
    chatTemplate:
      typeof hp.chatTemplate === "string" ? hp.chatTemplate : before14 ? "llama.cpp" : "reference",
    init: hp.init === "torch" || hp.init === "reference" ? hp.init : before14 ? "torch" : "reference",
    markers: hp.markers === "text" || hp.markers === "rows" ? hp.markers : before14 ? "text" : "rows",
  };
}

/** The DEP model of a checkpoint (or another parameter set of its run, e.g. its initial one), marker rows included. */
export function modelOfCheckpoint(
  ckpt: { config: ModelCheckpointConfig; params: DepParams; markerRows: Float32Array | null },
  kernel: KernelOptions,
  params: DepParams = ckpt.params,
): DepModel {
  const model = new DepModel(ckpt.config, params, kernel);
  model.markerRows = ckpt.markerRows;
  return model;
}
