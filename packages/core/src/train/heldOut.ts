// Held-out language-model loss: how well the frozen LLM predicts users' target reviews with trained soft
// rows, untrained ones, or none — the learning check of SPEC §6 without sampling noise.
import type { DepModel } from "../model/DepModel.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import type { MarkerMode, SoftSlotKinds } from "../prompt/text.js";
import { runSample, type SaeRows, type SampleData, type TrainingLlm } from "./step.js";

export interface HeldOutOptions {
  llm: TrainingLlm;
  /** null: the same prompt without soft slots */
  model: DepModel | null;
  samples: readonly SampleData[];
  maxLength: number;
  maxDescriptionChars?: number;
  slotKinds?: SoftSlotKinds;
  /** as the model was trained (default reference) */
  chatTemplate?: ChatTemplateChoice;
  /** as the model was trained (default rows) */
  markers?: MarkerMode;
  /** which X rows the SAE sees (no effect on the LM loss; default all) */
  saeRows?: SaeRows;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** each sample's mean target-token loss and token count, as it finishes (awaited: e.g. appended to a file) */
  onSample?: (index: number, r: { loss: number; tokens: number }) => void | Promise<void>;
}

/** Token-weighted mean cross-entropy over the samples' target reviews (and the per-sample mean). */
export async function heldOutLoss(
  o: HeldOutOptions,
): Promise<{ tokenMean: number; sampleMean: number; n: number; overBudget: number }> {
  let overBudget = 0; // prompts longer than maxLength even with one history review (kept, and counted)
  let tokens = 0;
  let weighted = 0;
  let sum = 0;
  let n = 0;
  for (const s of o.samples) {
    if (o.signal?.aborted) break;
    const r = await runSample(o.llm, o.model, s, {
      maxLength: o.maxLength,
      ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
      soft: o.model ? "dep" : "none",
      overBudget: "keep-one", // every held-out sample counts, even one slightly over the budget
      slotKinds: o.slotKinds ?? "both",
      ...(o.chatTemplate ? { chatTemplate: o.chatTemplate } : {}),
      ...(o.saeRows ? { saeRows: o.saeRows } : {}),
      ...(o.markers ? { markers: o.markers } : {}),
    });
    await o.onSample?.(n, { loss: r.lossLm, tokens: r.targetIds.length });
    if (r.prompt.nPositions > o.maxLength) overBudget++;
    weighted += r.lossLm * r.targetIds.length;
    tokens += r.targetIds.length;
    sum += r.lossLm;
    n++;
    o.onProgress?.(n, o.samples.length);
  }
  return {
    tokenMean: tokens ? weighted / tokens : Number.NaN,
    sampleMean: n ? sum / n : Number.NaN,
    n,
    overBudget,
  };
}
