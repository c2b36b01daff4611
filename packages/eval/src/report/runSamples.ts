// What the HTML report reads beyond eval.json: a run's predictions (preds.jsonl / predictions.jsonl, as dep
// generate writes them) and its per-sample scores (per-sample.json, from dep eval --per-sample).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import {
  type PerSampleReport,
  type PredictionRecord,
  parsePredictions,
  type SampleScores,
} from "../evaluate.js";
import type { RunRecord } from "./types.js";

export const PREDICTION_FILES = ["preds.jsonl", "predictions.jsonl"] as const;
export const PER_SAMPLE_FILE = "per-sample.json";

export interface RunSamples {
  /** the run's prediction lines, or null when the folder has none */
  predictions: PredictionRecord[] | null;
  /** sample id -> sentence-level scores, or null without per-sample.json */
  scores: Record<string, SampleScores> | null;
  /** the per-sample columns' signatures */
  signatures: PerSampleReport["signatures"] | null;
}

function readPerSample(path: string): PerSampleReport {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const v = value as Partial<PerSampleReport> | null;
  if (v?.format !== "dep-per-sample/1" || typeof v.samples !== "object" || v.samples === null)
    throw new DepError(
      "DEP_INPUT",
      `${path}: not a per-sample score file (expected "format": "dep-per-sample/1" from dep eval --per-sample)`,
    );
  return v as PerSampleReport;
}

export function loadRunSamples(run: RunRecord): RunSamples {
  const predFile = PREDICTION_FILES.map((f) => join(run.dir, f)).find((p) => existsSync(p));
  const predictions = predFile ? parsePredictions(readFileSync(predFile, "utf8"), predFile) : null;
  const scorePath = join(run.dir, PER_SAMPLE_FILE);
  const per = existsSync(scorePath) ? readPerSample(scorePath) : null;
  return { predictions, scores: per?.samples ?? null, signatures: per?.signatures ?? null };
}
