// Reads evaluated run folders: eval.json (dep eval --json), optional run.json {method, category}, and
// optional metrics.jsonl (the training log).
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DepError } from "@dep/native-cuda";
import type { EvalSummary, RunRecord } from "./types.js";

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function checkEval(path: string, value: unknown): EvalSummary {
  const e = value as Partial<EvalSummary> | null;
  const need = (cond: boolean, field: string) => {
    if (!cond)
      throw new DepError(
        "DEP_INPUT",
        `${path}: field \`${field}\` is missing or not a number (expected dep eval --json output)`,
      );
  };
  need(typeof e?.n === "number", "n");
  need(typeof e?.bleu?.score === "number", "bleu.score");
  need(typeof e?.rouge1?.hf === "number", "rouge1.hf");
  need(typeof e?.rougeL?.hf === "number", "rougeL.hf");
  need(typeof e?.meteor?.score === "number", "meteor.score");
  if (e?.bertscore != null) need(typeof e.bertscore.f === "number", "bertscore.f");
  return e as EvalSummary;
}

function readTrainingLog(path: string): Array<Record<string, number>> {
  if (!existsSync(path)) return [];
  const rows: Array<Record<string, number>> = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        rows.push(JSON.parse(line) as Record<string, number>);
      } catch {
        throw new DepError("DEP_INPUT", `${path}:${i + 1}: malformed JSON line in the training log`);
      }
    });
  return rows;
}

export function loadRun(dir: string): RunRecord {
  const evalPath = join(dir, "eval.json");
  if (!existsSync(evalPath)) {
    throw new DepError(
      "DEP_INPUT",
      `${dir}: no eval.json (run \`dep eval --predictions ... --json > ${evalPath}\`)`,
    );
  }
  const raw = readJson(evalPath) as Record<string, unknown>;
  const summary = checkEval(evalPath, raw);
  const runJsonPath = join(dir, "run.json");
  const meta = (existsSync(runJsonPath) ? readJson(runJsonPath) : {}) as {
    method?: unknown;
    category?: unknown;
  };
  const method =
    typeof meta.method === "string"
      ? meta.method
      : typeof raw.method === "string"
        ? raw.method
        : basename(dir);
  const category =
    typeof meta.category === "string"
      ? meta.category
      : typeof raw.category === "string"
        ? raw.category
        : "all";
  return { method, category, dir, eval: summary, trainingLog: readTrainingLog(join(dir, "metrics.jsonl")) };
}
