// The data the HTML report's predictions browser and user pages run on: one row per sample id, each
// method's prediction and sentence-level scores side by side, stored column-wise to keep 10k+ samples small.
import { type Dataset, itemKey } from "@dep/core";
import { recordId, type SampleScores } from "../../evaluate.js";
import type { ExplainResult } from "../../explain/types.js";
import type { RunSamples } from "../runSamples.js";
import type { RunRecord } from "../types.js";

/** Per-sample metric columns, in the paper's order. */
export const SAMPLE_METRICS = [
  { key: "rouge1", label: "R-1", digits: 3 },
  { key: "rougeL", label: "R-L", digits: 3 },
  { key: "meteor", label: "METEOR", digits: 3 },
  { key: "bleu", label: "BLEU", digits: 1 },
  { key: "bertscore", label: "BERTScore", digits: 3 },
] as const satisfies ReadonlyArray<{ key: keyof SampleScores; label: string; digits: number }>;

export interface BrowserData {
  methods: string[];
  /** the method the "better / worse than" filter compares the others with (DEP when present) */
  base: string;
  metrics: Array<{ key: string; label: string; digits: number }>;
  samples: { id: string[]; user: string[]; category: string[]; item: string[]; reference: string[] };
  /** pred[method][row]: the prediction text, or null when that method has no line for the sample */
  pred: Record<string, Array<string | null>>;
  /** scores[method][metric][row], rounded; null when not measured */
  scores: Record<string, Record<string, Array<number | null>>>;
  /** user pages: the explain output per user, when dep explain ran */
  users: Record<string, { category: string; units: ExplainResult["users"][number]["units"] }>;
}

const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Joins every run's prediction lines by sample id (methods with several runs, e.g. per category, merge). */
export function buildBrowserData(
  runs: readonly RunRecord[],
  samples: readonly RunSamples[],
  opts: { dataset?: Dataset | null; explain?: ExplainResult | null } = {},
): BrowserData | null {
  const methods = [...new Set(runs.map((r) => r.method))];
  const rowOf = new Map<string, number>();
  const cols: BrowserData["samples"] = { id: [], user: [], category: [], item: [], reference: [] };
  const perMethod = new Map<string, Map<string, { text: string; scores: SampleScores | null }>>();
  runs.forEach((run, r) => {
    const s = samples[r]!;
    if (!s.predictions) return;
    let m = perMethod.get(run.method);
    if (!m) {
      m = new Map();
      perMethod.set(run.method, m);
    }
    s.predictions.forEach((line, i) => {
      const id = recordId(line, i);
      m.set(id, { text: line.prediction, scores: s.scores?.[id] ?? null });
      if (rowOf.has(id)) return;
      rowOf.set(id, cols.id.length);
      const category = typeof line.category === "string" ? line.category : run.category;
      const asin = typeof line.asin === "string" ? line.asin : "";
      cols.id.push(id);
      cols.user.push(typeof line.user_id === "string" ? line.user_id : "");
      cols.category.push(category);
      cols.item.push(opts.dataset?.items.get(itemKey(category, asin))?.title ?? asin);
      cols.reference.push(line.reference);
    });
  });
  if (cols.id.length === 0) return null;
  const shown = methods.filter((m) => perMethod.has(m));
  const pred: BrowserData["pred"] = {};
  const scores: BrowserData["scores"] = {};
  const measured = new Set<string>();
  for (const method of shown) {
    const byId = perMethod.get(method)!;
    pred[method] = cols.id.map((id) => byId.get(id)?.text ?? null);
    scores[method] = {};
    for (const metric of SAMPLE_METRICS) {
      scores[method][metric.key] = cols.id.map((id) => {
        const v = byId.get(id)?.scores?.[metric.key];
        if (typeof v !== "number") return null;
        measured.add(metric.key);
        return round(v, metric.digits + 2);
      });
    }
  }
  const metrics = SAMPLE_METRICS.filter((m) => measured.has(m.key)).map((m) => ({ ...m }));
  for (const method of shown)
    for (const key of Object.keys(scores[method]!)) if (!measured.has(key)) delete scores[method]![key];
  const users: BrowserData["users"] = {};
  for (const u of opts.explain?.users ?? []) users[u.user_id] = { category: u.category, units: u.units };
  const base = shown.find((m) => /^dep$/i.test(m)) ?? shown.find((m) => /dep/i.test(m)) ?? shown[0]!;
  return { methods: shown, base, metrics, samples: cols, pred, scores, users };
}
