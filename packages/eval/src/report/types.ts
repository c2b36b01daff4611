/** The corpus scores of one method on one category, as `dep eval --json` prints them (subset used here). */
export interface EvalSummary {
  n: number;
  bleu: { score: number; signature?: string };
  rouge1: { hf: number; mean: number };
  rougeL: { hf: number; mean: number };
  meteor: { score: number; signature?: string };
  bertscore: { p: number; r: number; f: number; signature?: string } | null;
}

/** One evaluated run: which method, on which category, with what scores, and its training log if any. */
export interface RunRecord {
  method: string;
  category: string;
  dir: string;
  eval: EvalSummary;
  /** Rows of the run's metrics.jsonl (training steps), when present. */
  trainingLog: Array<Record<string, number>>;
}

/** The table's metric columns, in the paper's order. */
export const TABLE_METRICS = [
  { key: "rouge1", label: "R-1", pick: (e: EvalSummary) => e.rouge1.hf, digits: 4 },
  { key: "rougeL", label: "R-L", pick: (e: EvalSummary) => e.rougeL.hf, digits: 4 },
  { key: "meteor", label: "METEOR", pick: (e: EvalSummary) => e.meteor.score, digits: 4 },
  { key: "bleu", label: "BLEU", pick: (e: EvalSummary) => e.bleu.score, digits: 2 },
  { key: "bertscore", label: "BERTScore", pick: (e: EvalSummary) => e.bertscore?.f ?? null, digits: 4 },
] as const;

export type TableMetricKey = (typeof TABLE_METRICS)[number]["key"];
