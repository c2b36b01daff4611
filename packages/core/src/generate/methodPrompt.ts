// The prompt a generation method gives the LLM for one sample (shared by `dep generate`, `dep prompt` and
// `dep serve`, which builds its own input from a request).
import { DepError } from "@dep/native-cuda";
import { ragPromptInput } from "../baselines/rag.js";
import type { Dataset, DplRow } from "../data/types.js";
import type { DepModel } from "../model/DepModel.js";
import { buildPrompt } from "../prompt/buildPrompt.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import type { MarkerMode } from "../prompt/text.js";
import type { BuiltPrompt, PromptInput, PromptTokenizer } from "../prompt/types.js";
import type { SampleData } from "../train/step.js";
import { architectureOf, DEP_VARIANTS, type DepVariant, slotKindsOf } from "../train/variants.js";

/** The trained methods (DEP_VARIANTS: soft rows from a checkpoint) and the untrained baselines. */
export type GenerationMethod = DepVariant | "no-soft" | "non-personalized" | "rag" | "pag" | "dpl";

export function isTrainedMethod(method: GenerationMethod): method is DepVariant {
  return (DEP_VARIANTS as readonly string[]).includes(method);
}

/** Throws DEP_USAGE when a trained method has no checkpoint, or one of another architecture. */
export function assertMethodFits(method: GenerationMethod, model: DepModel | null): void {
  if (!isTrainedMethod(method)) return;
  if (!model) throw new DepError("DEP_USAGE", `method ${method} needs a trained checkpoint`);
  if (model.architecture !== architectureOf(method)) {
    throw new DepError(
      "DEP_USAGE",
      `method ${method} needs a checkpoint of the ${architectureOf(method)} architecture; this one is ${model.architecture}`,
    );
  }
}

/** How a method renders a prompt, whatever its input. */
export interface PromptSettings {
  method: GenerationMethod;
  maxLength: number;
  maxDescriptionChars?: number;
  chatTemplate?: ChatTemplateChoice;
  /** default rows (the reference); the model must then carry its marker rows */
  markers?: MarkerMode;
  overBudget?: "error" | "keep-one";
}

export interface MethodPromptOptions extends PromptSettings {
  dataset: Dataset;
  row: DplRow;
  sample: SampleData;
  /** history reviews shown by rag and pag */
  ragK: number;
  /** pag: the user's summary */
  profileSummary?: string;
}

/** A method's prompt for a dataset sample: its history (rag and pag: the BM25 picks) and target. */
export function methodPrompt(tok: PromptTokenizer, o: MethodPromptOptions): BuiltPrompt {
  const s = o.sample;
  const input: PromptInput =
    o.method === "rag" || o.method === "pag"
      ? ragPromptInput(o.dataset, o.row, o.ragK)
      : { target: s.input.target, history: s.input.history.slice(0, s.k) };
  if (o.profileSummary !== undefined) input.profileSummary = o.profileSummary;
  return promptForInput(tok, input, o);
}

/** A method's prompt over a given input: the DEP prompt with the method's soft slots, or without them. */
export function promptForInput(tok: PromptTokenizer, input: PromptInput, o: PromptSettings): BuiltPrompt {
  const soft = isTrainedMethod(o.method);
  return buildPrompt(tok, input, {
    maxLength: o.maxLength,
    softSlots: soft,
    slotKinds: soft ? slotKindsOf(o.method as DepVariant) : "both",
    noHistory: o.method === "non-personalized",
    overBudget: o.overBudget ?? "keep-one",
    ...(o.chatTemplate ? { chatTemplate: o.chatTemplate } : {}),
    markers: o.markers ?? "rows",
    ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
  });
}
