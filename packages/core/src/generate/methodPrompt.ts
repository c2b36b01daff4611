// The prompt a generation method gives the LLM for one sample (shared by `dep generate` and `dep prompt`).
import { ragPromptInput } from "../baselines/rag.js";
import type { Dataset, DplRow } from "../data/types.js";
import { buildPrompt } from "../prompt/buildPrompt.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import type { MarkerMode } from "../prompt/text.js";
import type { BuiltPrompt, PromptInput, PromptTokenizer } from "../prompt/types.js";
import type { SampleData } from "../train/step.js";
import { DEP_VARIANTS, type DepVariant, slotKindsOf } from "../train/variants.js";

/** The trained methods (DEP_VARIANTS: soft rows from a checkpoint) and the untrained baselines. */
export type GenerationMethod = DepVariant | "no-soft" | "non-personalized" | "rag" | "pag";

export function isTrainedMethod(method: GenerationMethod): method is DepVariant {
  return (DEP_VARIANTS as readonly string[]).includes(method);
}

export interface MethodPromptOptions {
  method: GenerationMethod;
  dataset: Dataset;
  row: DplRow;
  sample: SampleData;
  maxLength: number;
  /** history reviews shown by rag and pag */
  ragK: number;
  /** pag: the user's summary */
  profileSummary?: string;
  maxDescriptionChars?: number;
  chatTemplate?: ChatTemplateChoice;
  /** default rows (the reference); the model must then carry its marker rows */
  markers?: MarkerMode;
  overBudget?: "error" | "keep-one";
}

export function methodPrompt(tok: PromptTokenizer, o: MethodPromptOptions): BuiltPrompt {
  const soft = isTrainedMethod(o.method);
  const s = o.sample;
  const input: PromptInput =
    o.method === "rag" || o.method === "pag"
      ? ragPromptInput(o.dataset, o.row, o.ragK)
      : { target: s.input.target, history: s.input.history.slice(0, s.k) };
  if (o.profileSummary !== undefined) input.profileSummary = o.profileSummary;
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
