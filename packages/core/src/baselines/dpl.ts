// The DPL baseline's three LLM stages for `dep generate --method dpl` (selection: dplSelect.ts; prompts:
// dplPrompts.ts). Per chunk of samples: the differences of the (user, item) pairs not yet written, then the
// summaries of the samples not yet written, then (by the caller) the reviews. Stage outputs are kept in
// JSONL files beside the predictions, one line per (user, item) and per sample, appended per batch, so a
// killed run resumes where it was; a line is used only when the sha256 of its prompt, sampling settings and
// LLM matches, so other settings or another model write new lines instead of reusing old ones.
import { createHash } from "node:crypto";
import { appendFile } from "node:fs/promises";
import type { Dataset, DplRow } from "../data/types.js";
import { itemKey } from "../data/types.js";
import type { EmbeddingStore } from "../embed/store.js";
import { textKey } from "../embed/store.js";
import type { GeneratingLlm, SamplerOrder } from "../generate/generate.js";
import { readJsonLines } from "../io/jsonLines.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import type { PromptTokenizer } from "../prompt/types.js";
import {
  DPL_DIFF_SYSTEM,
  DPL_REVIEW_SYSTEM,
  type DplShownReview,
  type DplStagePrompt,
  dplDiffMessage,
  dplFit,
  dplItem,
  dplRender,
  dplReviewMessage,
  dplSummaryMessage,
  dplSummarySystem,
} from "./dplPrompts.js";
import { type DplSplitIndex, dplSelect, representativePeers } from "./dplSelect.js";

/** DPL's --num_retrieved in main.sh. */
export const DPL_DEFAULT_RETRIEVED = 8;

export function dplDifferencesPathFor(outFile: string): string {
  return `${outFile}.dpl-differences.jsonl`;
}

export function dplSummariesPathFor(outFile: string): string {
  return `${outFile}.dpl-summaries.jsonl`;
}

export interface DplPromptSettings {
  /** past reviews and difference items per sample (DPL's --num_retrieved, 1..8) */
  numRetrieved: number;
  /** token budget of each stage prompt */
  maxLength: number;
  maxDescriptionChars?: number;
  chatTemplate?: ChatTemplateChoice;
  /** seeds the k-means of the peer selection (DPL: random_state=42) */
  seed: number;
}

/** One difference item of a sample, with its stage-1 prompt. */
export interface DplDiffPlan {
  /** `${category}\0${userId}\0${asin}`: the stage-1 cache key */
  key: string;
  asin: string;
  item: DplShownReview["item"];
  /** the representative others shown (before the budget cut) */
  peers: number;
  prompt: DplStagePrompt;
}

/** What the three stages of one sample show, short of the LLM's outputs. */
export interface DplPlan {
  row: DplRow;
  past: DplShownReview[];
  diffs: DplDiffPlan[];
}

/** The selection of dplSelect.ts turned into stage-1 prompts (peers by k-means over the store's vectors). */
export function dplPlan(
  tok: PromptTokenizer,
  o: {
    dataset: Dataset;
    index: DplSplitIndex;
    store: EmbeddingStore;
    row: DplRow;
    settings: DplPromptSettings;
  },
): DplPlan {
  const { row, settings: s } = o;
  const meta = (asin: string) => o.dataset.items.get(itemKey(row.category, asin));
  const sel = dplSelect(o.index, row, s.numRetrieved, (asin) => meta(asin)?.description ?? "");
  const item = (asin: string) => dplItem(meta(asin), s.maxDescriptionChars);
  const diffs = sel.diffItems
    .filter((d) => d.others.length > 0)
    .map((d): DplDiffPlan => {
      const texts = [d.review.text, ...d.others.map((r) => r.text)];
      const vectors = o.store.gather(
        texts.map(textKey),
        (i) => `the review text "${texts[i]!.slice(0, 60)}" (item ${d.review.asin}, ${row.category})`,
      );
      const others = representativePeers(vectors, o.store.dim, s.seed).map((i) => d.others[i]!);
      const shownItem = item(d.review.asin);
      const prompt = dplFit(others.length, s.maxLength, (n) =>
        dplRender(
          tok,
          DPL_DIFF_SYSTEM,
          dplDiffMessage(shownItem, d.review, others.slice(0, n)),
          s.chatTemplate,
        ),
      );
      return {
        key: `${row.category}\u0000${row.userId}\u0000${d.review.asin}`,
        asin: d.review.asin,
        item: shownItem,
        peers: others.length,
        prompt,
      };
    });
  return { row, past: sel.past.map((review) => ({ item: item(review.asin), review })), diffs };
}

/** Stage 2's prompt from the stage-1 outputs (one per difference item, in order). */
export function dplSummaryPrompt(
  tok: PromptTokenizer,
  plan: DplPlan,
  differences: readonly string[],
  s: Pick<DplPromptSettings, "maxLength" | "chatTemplate">,
): DplStagePrompt {
  const diffs = plan.diffs.map((d, i) => ({ item: d.item, difference: differences[i]! }));
  return dplFit(Math.max(diffs.length, plan.past.length), s.maxLength, (n) => {
    const shown = diffs.slice(0, n);
    return dplRender(
      tok,
      dplSummarySystem(shown.length),
      dplSummaryMessage(shown, plan.past.slice(0, n)),
      s.chatTemplate,
    );
  });
}

/** Stage 3's prompt from the stage-2 output. */
export function dplReviewPrompt(
  tok: PromptTokenizer,
  plan: DplPlan,
  summary: string,
  s: Pick<DplPromptSettings, "maxLength" | "chatTemplate" | "maxDescriptionChars">,
  dataset: Dataset,
): DplStagePrompt {
  const row = plan.row;
  const target = {
    item: dplItem(dataset.items.get(itemKey(row.category, row.data.asin)), s.maxDescriptionChars),
    rating: row.data.rating,
    title: row.data.title,
  };
  return dplFit(plan.past.length, s.maxLength, (n) =>
    dplRender(
      tok,
      DPL_REVIEW_SYSTEM,
      dplReviewMessage(target, plan.past.slice(0, n), summary),
      s.chatTemplate,
    ),
  );
}

/** One line of a stage file. */
export interface DplStageLine {
  category: string;
  user_id: string;
  asin: string;
  /** stage 2 only: the sample summarised */
  sample_id?: string;
  /** the LLM's output, stripped (DPL: `.strip()`) */
  output: string;
  /** entries the prompt showed (others for stage 1; difference items and past reviews for stage 2) */
  shown: number;
  prompt_tokens: number;
  generated_tokens: number;
  /** sha256 of the prompt, the sampling settings and the LLM: only a match is reused */
  prompt_sha256: string;
}

function checkStageLine(row: unknown): DplStageLine {
  const l = row as DplStageLine | null;
  if (typeof l?.output !== "string" || typeof l.prompt_sha256 !== "string" || typeof l.user_id !== "string")
    throw new Error("not a DPL stage line");
  return l;
}

/** A stage file: its lines by sha (a key's line under other settings is another sha). */
class StageFile {
  readonly #lines: Map<string, DplStageLine>;

  constructor(readonly path: string) {
    const lines = readJsonLines(path, "a DPL stage line", checkStageLine);
    this.#lines = new Map(lines.map((l) => [l.prompt_sha256, l]));
  }

  get(sha: string): DplStageLine | undefined {
    return this.#lines.get(sha);
  }

  async append(lines: readonly DplStageLine[]): Promise<void> {
    if (lines.length === 0) return;
    await appendFile(this.path, lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    for (const l of lines) this.#lines.set(l.prompt_sha256, l);
  }
}

export interface DplSampling {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  samplerOrder: SamplerOrder;
  parallel: number;
}

export interface DplStagesOptions {
  llm: GeneratingLlm;
  dataset: Dataset;
  /** the maps of the split generated (dplSplitIndex of all its rows) */
  index: DplSplitIndex;
  store: EmbeddingStore;
  settings: DplPromptSettings;
  /** every stage samples as the review does (DPL: one SamplingParams) */
  sampling: DplSampling;
  /** what identifies the LLM (file, size, architecture): part of every stage line's sha */
  llmIdentity: Record<string, unknown>;
  outFile: string;
}

/** The stages 1 and 2 of a `dep generate --method dpl` run, with their files beside `outFile`. */
export class DplStages {
  readonly #o: DplStagesOptions;
  readonly differences: StageFile;
  readonly summaries: StageFile;

  constructor(o: DplStagesOptions) {
    this.#o = o;
    this.differences = new StageFile(dplDifferencesPathFor(o.outFile));
    this.summaries = new StageFile(dplSummariesPathFor(o.outFile));
  }

  #sha(stage: string, prompt: DplStagePrompt): string {
    const { maxTokens, temperature, topP, seed, samplerOrder } = this.#o.sampling;
    return createHash("sha256")
      .update(
        JSON.stringify({
          stage,
          prompt: prompt.text,
          maxTokens,
          temperature,
          topP,
          seed,
          samplerOrder,
          llm: this.#o.llmIdentity,
        }),
      )
      .digest("hex");
  }

  plan(row: DplRow): DplPlan {
    const { dataset, index, store, settings } = this.#o;
    return dplPlan(this.#o.llm, { dataset, index, store, row, settings });
  }

  /** Generates the prompts' outputs in one batch and keeps them; null when aborted (nothing kept). */
  async #run(prompts: readonly DplStagePrompt[], signal?: AbortSignal) {
    const { sampling } = this.#o;
    const results = await this.#o.llm.generateBatch(
      prompts.map((p) => [{ tokens: p.tokens }]),
      { ...sampling, ...(signal ? { signal } : {}) },
    );
    return signal?.aborted ? null : results;
  }

  /**
   * The review prompts (stage 3) of `samples`, after writing whatever stage 1 and 2 outputs they lack.
   * Null when `signal` aborts: the batch being generated is not kept.
   */
  async reviewPrompts(
    samples: ReadonlyArray<{ row: DplRow; sampleId: string }>,
    signal?: AbortSignal,
  ): Promise<DplStagePrompt[] | null> {
    const plans = samples.map((s) => this.plan(s.row));
    // stage 1: the differences of (user, item) pairs not yet written (one request per pair)
    const missing = new Map<string, { plan: DplPlan; diff: DplDiffPlan }>();
    for (const plan of plans) {
      for (const diff of plan.diffs) {
        const sha = this.#sha("difference", diff.prompt);
        if (!this.differences.get(sha) && !missing.has(sha)) missing.set(sha, { plan, diff });
      }
    }
    if (missing.size > 0) {
      const todo = [...missing.entries()];
      const results = await this.#run(
        todo.map(([, m]) => m.diff.prompt),
        signal,
      );
      if (!results) return null;
      await this.differences.append(
        todo.map(([sha, m], j) => ({
          category: m.plan.row.category,
          user_id: m.plan.row.userId,
          asin: m.diff.asin,
          output: results[j]!.text.trim(),
          shown: m.diff.prompt.shown,
          prompt_tokens: m.diff.prompt.tokens.length,
          generated_tokens: results[j]!.tokens.length,
          prompt_sha256: sha,
        })),
      );
    }
    // stage 2: the summaries of samples not yet written
    const { settings, dataset } = this.#o;
    const summaryPrompts = plans.map((plan) =>
      dplSummaryPrompt(
        this.#o.llm,
        plan,
        plan.diffs.map((d) => this.differences.get(this.#sha("difference", d.prompt))!.output),
        settings,
      ),
    );
    const todo = summaryPrompts
      .map((prompt, i) => ({ prompt, i, sha: this.#sha("summary", prompt) }))
      .filter((t, j, all) => !this.summaries.get(t.sha) && all.findIndex((u) => u.sha === t.sha) === j);
    if (todo.length > 0) {
      const results = await this.#run(
        todo.map((t) => t.prompt),
        signal,
      );
      if (!results) return null;
      await this.summaries.append(
        todo.map((t, j) => ({
          category: plans[t.i]!.row.category,
          user_id: plans[t.i]!.row.userId,
          asin: plans[t.i]!.row.data.asin,
          sample_id: samples[t.i]!.sampleId,
          output: results[j]!.text.trim(),
          shown: t.prompt.shown,
          prompt_tokens: t.prompt.tokens.length,
          generated_tokens: results[j]!.tokens.length,
          prompt_sha256: t.sha,
        })),
      );
    }
    return plans.map((plan, i) =>
      dplReviewPrompt(
        this.#o.llm,
        plan,
        this.summaries.get(this.#sha("summary", summaryPrompts[i]!))!.output,
        settings,
        dataset,
      ),
    );
  }
}
