// `dep generate` (SPEC §7): personalized reviews for a split, with the reference sampling (temperature
// 0.8, top-p 0.95, up to 2048 new tokens). Several samples decode together; every finished sample is one
// JSONL line appended at once, so a rerun skips what is done (a torn last line is dropped on resume).
// The pag method also keeps its user summaries that way, in `<out>.profiles.jsonl` (see baselines/pag.ts),
// and dpl its differences and summaries in `<out>.dpl-differences.jsonl` / `.dpl-summaries.jsonl` (baselines/dpl.ts).
import { existsSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import type { Segment } from "@dep/native-cuda";
import { DPL_DEFAULT_RETRIEVED, DplStages } from "../baselines/dpl.js";
import { dplReviewText } from "../baselines/dplPrompts.js";
import { dplSplitIndex } from "../baselines/dplSelect.js";
import { DEFAULT_SUMMARY_TOKENS, profilesPathFor, UserProfiles } from "../baselines/pag.js";
import type { DataSource } from "../data/source.js";
import { EmbeddingStore } from "../embed/store.js";
import { readJsonLines } from "../io/jsonLines.js";
import type { DepModel } from "../model/DepModel.js";
import { modelFingerprint } from "../model/fingerprint.js";
import type { DiffWeighting } from "../peers/diff.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import { promptSegments } from "../prompt/segments.js";
import type { MarkerMode } from "../prompt/text.js";
import type { PromptTokenizer } from "../prompt/types.js";
import { claimShardOutput, manifestPathFor, planShard, type Shard } from "../shard/shard.js";
import { trimSampleX } from "../train/promptInput.js";
import { loadTrainingSamples, type PromptAlignment } from "../train/trainer.js";
import { variantOf } from "../train/variants.js";
import { assertMethodFits, type GenerationMethod, isTrainedMethod, methodPrompt } from "./methodPrompt.js";

export type SamplerOrder = "reference" | "llama.cpp";

/** The frozen-LLM surface generation needs (structurally satisfied by `Llm`). */
export interface GeneratingLlm extends PromptTokenizer {
  readonly info: { addBos: boolean; nEmbd: number };
  generateBatch(
    requests: ReadonlyArray<readonly Segment[]>,
    options: {
      maxTokens?: number;
      temperature?: number;
      topP?: number;
      seed?: number;
      samplerOrder?: SamplerOrder;
      parallel?: number;
      signal?: AbortSignal;
    },
  ): Promise<Array<{ text: string; tokens: Int32Array; promptPositions: number; stopReason: string }>>;
}

export interface GenerateOptions {
  llm: GeneratingLlm;
  /** the trained model (needed by the dep methods) */
  model: DepModel | null;
  /**
   * dep / his-only / diff-only / no-sae: the DEP prompt with the model's soft rows (all, his or diff
   * slots); pplug-style: the DEP prompt's text with one user token before the history; no-soft: the same
   * prompt without soft rows; non-personalized: no history at all; rag: the `ragK` history reviews most
   * relevant to the target item (BM25), as text; pag: the rag prompt plus an LLM-written summary of the
   * user (baselines/pag.ts); dpl: DPL's three stages (differences from representative peers, a summary,
   * the review; baselines/dpl.ts). Default: the checkpoint's variant with a model, else no-soft.
   */
  method?: GenerationMethod;
  /** history reviews shown by rag and pag (default 4) */
  ragK?: number;
  /** pag: new tokens per user summary (default 128) */
  pagSummaryTokens?: number;
  /** dpl: past reviews and difference items per sample (DPL's --num_retrieved, default 8) */
  dplRetrieved?: number;
  /** dpl: what identifies the LLM in its stage files' hashes (default: its architecture and size) */
  llmIdentity?: Record<string, unknown>;
  dataDir: DataSource;
  embDir: string;
  split?: "train" | "val" | "test";
  outFile: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** default reference: temperature before top-k/top-p, as vLLM (the reference) samples */
  samplerOrder?: SamplerOrder;
  seed?: number;
  /** samples decoded together */
  parallel?: number;
  maxLength?: number;
  /** cut item descriptions in prompts to this many characters (default: whole) */
  maxDescriptionChars?: number;
  maxSamples?: number;
  weighting?: DiffWeighting;
  /** default reference (see TrainOptions.prompt); pass the checkpoint's to generate as it was trained */
  prompt?: PromptAlignment;
  /** default reference (see prompt/chatTemplate.ts) */
  chatTemplate?: ChatTemplateChoice;
  /** default: rows when the model carries marker rows (checkpoints of --markers rows runs), else text */
  markers?: MarkerMode;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; generatedTokens: number }) => void;
  /** generate only this shard's samples (by sample id hash) into `outFile`, with a manifest for `dep merge` */
  shard?: Shard;
  /** what else must match between the shards of one job (e.g. the frozen LLM) */
  shardSettings?: Record<string, unknown>;
}

export {
  assertMethodFits,
  type GenerationMethod,
  isTrainedMethod,
  methodPrompt,
  promptForInput,
} from "./methodPrompt.js";

export interface PredictionLine {
  method: GenerationMethod;
  sample_id: string;
  user_id: string;
  category: string;
  asin: string;
  prediction: string;
  reference: string;
  prompt_tokens: number;
  generated_tokens: number;
}

/** Reads the finished lines of a predictions file; drops (and truncates away) a torn last line. */
export function readFinished(path: string): Map<string, PredictionLine> {
  const rows = readJsonLines(path, "a predictions line", (row) => {
    if (typeof (row as PredictionLine | null)?.sample_id !== "string") throw new Error("no sample_id");
    return row as PredictionLine;
  });
  return new Map(rows.map((row) => [row.sample_id, row]));
}

export async function generatePredictions(
  o: GenerateOptions,
): Promise<{ written: number; skipped: number; total: number }> {
  const split = o.split ?? "test";
  const method: GenerationMethod = o.method ?? (o.model ? variantOf(o.model.architecture) : "no-soft");
  const soft = isTrainedMethod(method);
  assertMethodFits(method, o.model);
  const { data, samples, rows, dataset } = await loadTrainingSamples(o.dataDir, o.embDir, split, {
    weighting: o.weighting ?? "reference",
    prompt: o.prompt ?? "reference",
    seed: o.seed ?? 42,
    maxSamples: o.maxSamples ?? null,
    itemQueries: method === "pplug-style",
  });
  const parallel = Math.max(1, o.parallel ?? 4);
  const maxLength = o.maxLength ?? 3072;
  let mine = data.map((_, i) => i);
  if (o.shard) {
    const settings = {
      method,
      split,
      model: o.model ? modelFingerprint(o.model) : null,
      ragK: o.ragK ?? 4,
      pagSummaryTokens: o.pagSummaryTokens ?? DEFAULT_SUMMARY_TOKENS,
      dplRetrieved: o.dplRetrieved ?? DPL_DEFAULT_RETRIEVED,
      maxTokens: o.maxTokens ?? 2048,
      temperature: o.temperature ?? 0.8,
      topP: o.topP ?? 0.95,
      seed: o.seed ?? 42,
      parallel,
      maxLength,
      maxDescriptionChars: o.maxDescriptionChars ?? null,
      weighting: o.weighting ?? "reference",
      samplerOrder: o.samplerOrder ?? "reference",
      prompt: o.prompt ?? "reference",
      chatTemplate: o.chatTemplate ?? "reference",
      markers: o.markers ?? (o.model?.markerRows ? "rows" : "text"),
      ...o.shardSettings,
    };
    const ids = mine.map((i) => samples.samples[i]!.id);
    const manifest = planShard("predictions", o.shard, ids, settings);
    await claimShardOutput(manifestPathFor(o.outFile, false), manifest, o.outFile);
    mine = manifest.positions;
  }
  const done = readFinished(o.outFile);
  if (!existsSync(o.outFile)) writeFileSync(o.outFile, "");
  const todo = mine.filter((i) => !done.has(samples.samples[i]!.id));
  const H = o.llm.info.nEmbd;
  const sampling = {
    temperature: o.temperature ?? 0.8,
    topP: o.topP ?? 0.95,
    samplerOrder: o.samplerOrder ?? "reference",
    seed: o.seed ?? 42,
    parallel,
  };
  const profiles =
    method === "pag"
      ? new UserProfiles({
          llm: o.llm,
          dataset,
          rows: samples.samples.map((info) => rows[info.row]!),
          path: profilesPathFor(o.outFile),
          settings: { ...sampling, maxTokens: o.pagSummaryTokens ?? DEFAULT_SUMMARY_TOKENS, maxLength },
        })
      : null;
  const dpl =
    method === "dpl"
      ? new DplStages({
          llm: o.llm,
          dataset,
          index: dplSplitIndex(rows),
          store: await EmbeddingStore.open(o.embDir),
          settings: {
            numRetrieved: o.dplRetrieved ?? DPL_DEFAULT_RETRIEVED,
            maxLength,
            seed: o.seed ?? 42,
            ...(o.chatTemplate ? { chatTemplate: o.chatTemplate } : {}),
            ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
          },
          sampling: { ...sampling, maxTokens: o.maxTokens ?? 2048 },
          llmIdentity: o.llmIdentity ?? { ...o.llm.info },
          outFile: o.outFile,
        })
      : null;
  let written = 0;
  let generatedTokens = 0;
  for (let start = 0; start < todo.length; start += parallel) {
    if (o.signal?.aborted) break;
    const chunk = todo.slice(start, start + parallel);
    const chunkRows = chunk.map((i) => rows[samples.samples[i]!.row]!);
    const summaries = profiles ? await profiles.summariesFor(chunkRows, o.signal) : null;
    const dplPrompts = dpl
      ? await dpl.reviewPrompts(
          chunk.map((i, j) => ({ row: chunkRows[j]!, sampleId: samples.samples[i]!.id })),
          o.signal,
        )
      : null;
    if (o.signal?.aborted) break;
    const requests: Segment[][] = [];
    const promptTokens: number[] = [];
    for (const [j, i] of chunk.entries()) {
      if (dplPrompts) {
        requests.push([{ tokens: dplPrompts[j]!.tokens }]);
        promptTokens.push(dplPrompts[j]!.tokens.length);
        continue;
      }
      const s = data[i]!;
      const prompt = methodPrompt(o.llm, {
        method,
        dataset,
        row: chunkRows[j]!,
        sample: s,
        maxLength,
        ragK: o.ragK ?? 4,
        ...(summaries ? { profileSummary: summaries[j]! } : {}),
        ...(o.chatTemplate ? { chatTemplate: o.chatTemplate } : {}),
        markers: o.markers ?? (o.model?.markerRows ? "rows" : "text"),
        ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
      });
      let softRows: Float32Array | null = null;
      if (soft && o.model) {
        const x = trimSampleX(s.x, s.index, prompt.nHistory, o.model.config.d);
        softRows = o.model.forward(x, Int32Array.of(prompt.nHistory), s.query).soft[0]!;
      }
      requests.push(promptSegments(prompt, softRows, H, o.model?.markerRows ?? null));
      promptTokens.push(prompt.nPositions);
    }
    const results = await o.llm.generateBatch(requests, {
      ...sampling,
      maxTokens: o.maxTokens ?? 2048,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (o.signal?.aborted) break; // a chunk cut short is not written: it is redone on resume
    const lines = chunk.map((i, j) => {
      const info = samples.samples[i]!;
      const row = chunkRows[j]!;
      const r = results[j]!;
      generatedTokens += r.tokens.length;
      const line: PredictionLine = {
        method,
        sample_id: info.id,
        user_id: row.userId,
        category: row.category,
        asin: row.data.asin,
        prediction: (dpl ? dplReviewText(r.text) : r.text).trim(),
        reference: row.data.text,
        prompt_tokens: promptTokens[j]!,
        generated_tokens: r.tokens.length,
      };
      return `${JSON.stringify(line)}\n`;
    });
    await appendFile(o.outFile, lines.join(""));
    written += chunk.length;
    o.onProgress?.({ done: done.size + written, total: mine.length, generatedTokens });
  }
  return { written, skipped: done.size, total: mine.length };
}
