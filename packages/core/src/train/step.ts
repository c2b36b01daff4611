// One DEP sample through the whole model (SPEC §6): X -> SAE -> projectors -> soft rows -> frozen LLM loss
// and dL/d(soft rows) -> projector and SAE backward. Shared by training, --dump-grads and held-out loss.
import { DepError, type Segment } from "@dep/native-cuda";
import type { DepModel } from "../model/DepModel.js";
import type { DepParams } from "../model/params.js";
import { buildPrompt } from "../prompt/buildPrompt.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import { promptSegmentsWithRows } from "../prompt/segments.js";
import type { MarkerMode, SoftSlotKinds } from "../prompt/text.js";
import type { BuiltPrompt, PromptInput, PromptTokenizer } from "../prompt/types.js";
import { trimSampleX } from "./promptInput.js";

/** The frozen-LLM surface training needs (structurally satisfied by `Llm`). */
export interface TrainingLlm extends PromptTokenizer {
  readonly info: { addBos: boolean; eos: number; nEmbd: number };
  lossAndGrad(
    segments: Segment[],
    targetTokens: Int32Array,
  ): Promise<{ loss: number; grads: Float32Array[]; nTokens: number }>;
}

export interface SampleData {
  /** X of the batch it came from ([S, 16, d]) and this sample's index in it */
  x: Float32Array;
  index: number;
  /** qualifying slot pairs available (1..8) */
  k: number;
  input: PromptInput;
  targetText: string;
  /** the target item's embedding [d] (pplug-style's query) */
  query?: Float32Array;
}

export interface StepResult {
  lossLm: number;
  /** SPEC §6 SAE term, weighted: 100 * (recon + 1e-3 * kl) */
  saeLoss: number;
  recon: number;
  kl: number;
  /** slot pairs used after the prompt budget cut */
  k: number;
  prompt: BuiltPrompt;
  targetIds: Int32Array;
  /** the trimmed X [16, d]: his rows 0..saePairs-1, diff rows 8..8+saePairs-1 */
  x: Float32Array;
  /** slot pairs the SAE and projectors ran on (all qualifying with saeRows "all", else k) */
  saePairs: number;
  /** dL_lm/d(soft rows) [2k, H] (when soft rows were used) */
  softGrad: Float32Array | null;
  /** wall seconds of this sample: DEP kernels (SAE + projectors, fwd + bwd), the LLM's forward+backward, the rest */
  seconds: { kernels: number; llm: number; glue: number };
}

export interface StepOptions {
  maxLength: number;
  /** when even one history review does not fit: fail (training skips the sample) or keep it (evaluation) */
  overBudget?: "error" | "keep-one";
  /** cut item descriptions in the prompt (see BuildPromptOptions.maxDescriptionChars) */
  maxDescriptionChars?: number;
  /** "dep": soft rows from the model; "none": the same prompt without slots (the no-soft baseline) */
  soft?: "dep" | "none";
  /** which soft slots the prompt carries (default both; his/diff for the ablations) */
  slotKinds?: SoftSlotKinds;
  /** accumulate gradients into these (omit for a loss-only pass) */
  grads?: DepParams;
  /**
   * Which X rows the SAE (and its loss) sees: "all" (default, the reference: DEPModel.forward runs the SAE
   * on the whole `his_diff_emb`, all 2k qualifying rows, whatever the text budget kept) or "shown" (only
   * the rows of the history reviews left in the prompt).
   */
  saeRows?: SaeRows;
  /** marker tokens as frozen rows (the model's markerRows) or as text; default: rows when the model has them */
  markers?: MarkerMode;
  /** chat template of the prompt (default reference) */
  chatTemplate?: ChatTemplateChoice;
  /** weight of this sample's LM loss in the accumulated gradient (default 1; see trainer's lossScaling) */
  lmWeight?: number;
}

export type SaeRows = "all" | "shown";

export function targetTokens(llm: TrainingLlm, text: string): Int32Array {
  const t = llm.tokenize(text, { addSpecial: false, parseSpecial: false });
  const out = new Int32Array(t.length + 1);
  out.set(t);
  out[t.length] = llm.info.eos;
  return out;
}

/** Runs one sample; `model` may be null only with `soft: "none"`. */
export async function runSample(
  llm: TrainingLlm,
  model: DepModel | null,
  s: SampleData,
  o: StepOptions,
): Promise<StepResult> {
  const t0 = performance.now();
  const soft = o.soft ?? "dep";
  const targetIds = targetTokens(llm, s.targetText);
  // with saeRows "all" the soft rows cover every qualifying pair and the prompt indexes into them
  const allRows = (o.saeRows ?? "all") === "all" && soft === "dep" && model?.architecture === "dep";
  const prompt = buildPrompt(
    llm,
    { target: s.input.target, history: s.input.history.slice(0, s.k) },
    {
      maxLength: Math.max(1, o.maxLength),
      softSlots: soft === "dep",
      slotKinds: o.slotKinds ?? "both",
      ...(o.chatTemplate ? { chatTemplate: o.chatTemplate } : {}),
      markers: o.markers ?? (model?.markerRows ? "rows" : "text"),
      overBudget: o.overBudget ?? "error",
      ...(allRows ? { softPairs: s.k } : {}),
      ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
    },
  );
  const k = prompt.nHistory;
  if (soft === "none" || !model) {
    if (soft !== "none") throw new DepError("DEP_INVALID_ARGUMENT", "runSample: soft rows need a model");
    const { segments } = promptSegmentsWithRows(prompt, null, llm.info.nEmbd);
    const tLlm = performance.now();
    const r = await llm.lossAndGrad(segments, targetIds);
    const llmSeconds = (performance.now() - tLlm) / 1000;
    return {
      lossLm: r.loss,
      saeLoss: 0,
      recon: 0,
      kl: 0,
      k,
      prompt,
      targetIds,
      x: new Float32Array(0),
      saePairs: 0,
      softGrad: null,
      seconds: splitSeconds(t0, 0, llmSeconds),
    };
  }
  const d = model.config.d;
  const H = model.config.H;
  const kSae = allRows ? s.k : k;
  const x = trimSampleX(s.x, s.index, kSae, d);
  let tKernels = performance.now();
  const fwd = model.forward(x, Int32Array.of(kSae), s.query);
  let kernelSeconds = (performance.now() - tKernels) / 1000;
  const softRows = fwd.soft[0]!;
  const { segments, embeddingRows } = promptSegmentsWithRows(prompt, softRows, H, model.markerRows);
  const tLlm = performance.now();
  const r = await llm.lossAndGrad(segments, targetIds);
  const llmSeconds = (performance.now() - tLlm) / 1000;
  const softGrad = new Float32Array(softRows.length);
  embeddingRows.forEach((rows, e) => {
    const g = r.grads[e]!;
    rows.forEach((row, j) => {
      if (row >= 0) softGrad.set(g.subarray(j * H, (j + 1) * H), row * H); // marker rows (-1) are frozen
    });
  });
  if (o.grads) {
    tKernels = performance.now();
    const w = o.lmWeight ?? 1;
    model.backward(fwd, [w === 1 ? softGrad : softGrad.map((g) => g * w)], o.grads);
    kernelSeconds += (performance.now() - tKernels) / 1000;
  }
  return {
    lossLm: r.loss,
    saeLoss: fwd.saeLoss,
    recon: fwd.sampleTerms[0]!,
    kl: fwd.sampleTerms[1]!,
    k,
    prompt,
    targetIds,
    x,
    saePairs: kSae,
    softGrad,
    seconds: splitSeconds(t0, kernelSeconds, llmSeconds),
  };
}

function splitSeconds(t0: number, kernels: number, llm: number): StepResult["seconds"] {
  const total = (performance.now() - t0) / 1000;
  return { kernels, llm, glue: Math.max(0, total - kernels - llm) };
}
