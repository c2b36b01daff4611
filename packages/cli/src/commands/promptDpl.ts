// `dep prompt --method dpl`: the prompts of DPL's three stages for one sample — one difference prompt per
// difference item, the summary prompt, the review prompt. The later stages hold the earlier stages' outputs:
// from the stage files of a `dep generate --method dpl` run with --dpl-outputs, else as placeholders
// <<dpl:difference:i>> and <<dpl:summary>>.
import { existsSync, readFileSync } from "node:fs";
import {
  type ChatTemplateChoice,
  type Dataset,
  type DplRow,
  type DplStageLine,
  type DplStagePrompt,
  dplDifferencesPathFor,
  dplPlan,
  dplReviewPrompt,
  dplSplitIndex,
  dplSummariesPathFor,
  dplSummaryPrompt,
  EmbeddingStore,
  type PromptTokenizer,
} from "@dep/core";
import { DepError } from "@dep/native-cuda";

export interface DplStageView {
  stage: 1 | 2 | 3;
  /** stage 1: the difference item */
  asin?: string;
  /** what the prompt shows, after the budget cut */
  shows: string;
  prompt: DplStagePrompt;
}

/** The last line per key of a stage file (none when the file is missing). */
function stageLines(path: string, keyOf: (l: DplStageLine) => string): Map<string, DplStageLine> {
  if (!existsSync(path)) {
    throw new DepError(
      "DEP_INPUT",
      `${path}: no such stage file; run dep generate --method dpl --out <file> first`,
    );
  }
  const out = new Map<string, DplStageLine>();
  for (const [i, line] of readFileSync(path, "utf8").split("\n").entries()) {
    if (!line.trim()) continue;
    try {
      const l = JSON.parse(line) as DplStageLine;
      out.set(keyOf(l), l);
    } catch {
      throw new DepError("DEP_INPUT", `${path}:${i + 1}: not a DPL stage line`);
    }
  }
  return out;
}

export async function dplStageViews(
  tok: PromptTokenizer,
  o: {
    dataset: Dataset;
    splitRows: readonly DplRow[];
    row: DplRow;
    sampleId: string;
    embeddings: string;
    numRetrieved: number;
    maxLength: number;
    maxDescriptionChars?: number;
    chatTemplate: ChatTemplateChoice;
    seed: number;
    /** the predictions file of a dpl run, whose stage files fill the later stages */
    outputs?: string;
  },
): Promise<DplStageView[]> {
  const settings = {
    numRetrieved: o.numRetrieved,
    maxLength: o.maxLength,
    seed: o.seed,
    chatTemplate: o.chatTemplate,
    ...(o.maxDescriptionChars !== undefined ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
  };
  const store = await EmbeddingStore.open(o.embeddings);
  const plan = dplPlan(tok, {
    dataset: o.dataset,
    index: dplSplitIndex(o.splitRows),
    store,
    row: o.row,
    settings,
  });
  const diffs = o.outputs
    ? stageLines(dplDifferencesPathFor(o.outputs), (l) => `${l.category}\u0000${l.user_id}\u0000${l.asin}`)
    : null;
  const summaries = o.outputs ? stageLines(dplSummariesPathFor(o.outputs), (l) => l.sample_id ?? "") : null;
  const differences = plan.diffs.map((d, i) => diffs?.get(d.key)?.output ?? `<<dpl:difference:${i + 1}>>`);
  const summary = summaries?.get(o.sampleId)?.output ?? "<<dpl:summary>>";
  const s2 = dplSummaryPrompt(tok, plan, differences, settings);
  const s3 = dplReviewPrompt(tok, plan, summary, settings, o.dataset);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const reviews = (n: number) => plural(n, "past review");
  return [
    ...plan.diffs.map(
      (d, i): DplStageView => ({
        stage: 1,
        asin: d.asin,
        shows: `difference ${i + 1} of ${plan.diffs.length}: item ${d.asin}, ${plural(d.prompt.shown, "other review")}`,
        prompt: d.prompt,
      }),
    ),
    {
      stage: 2,
      shows: `summary: ${plural(Math.min(s2.shown, plan.diffs.length), "difference")}, ${reviews(Math.min(s2.shown, plan.past.length))}`,
      prompt: s2,
    },
    { stage: 3, shows: `review: ${reviews(s3.shown)}`, prompt: s3 },
  ];
}

/** The views as text: a header line per prompt, then the prompt as the LLM gets it. */
export function dplStagesText(views: readonly DplStageView[]): string {
  return views
    .map((v) => {
      const text = v.prompt.text.endsWith("\n") ? v.prompt.text : `${v.prompt.text}\n`;
      return `### dpl stage ${v.stage} (${v.shows})\n${text}`;
    })
    .join("\n");
}
