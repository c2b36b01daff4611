// Reads the prompt settings a run was trained with from its checkpoint's hyperparameters, old and new keys
// alike (runs before issue 14 recorded `referencePromptAlignment: boolean` and had no chat-template or init
// choice: their prompts were aligned, llama.cpp-templated, and their initialisation nn.Linear's default).
import type { InitScheme } from "../model/params.js";
import type { PromptAlignment } from "./trainer.js";

export interface TrainedRecipe {
  prompt: PromptAlignment;
  /** "reference", "jinja", or a template file's path */
  chatTemplate: string;
  init: InitScheme;
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
  };
}
