// `dep eval`: read predictions JSONL, score every metric, and break down by a grouping field.
import { isUtf8 } from "node:buffer";
import { readFile, stat } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { warnInvalidUtf8 } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { type BertScoreOptions, bertScore, type TokenEncoder } from "./metrics/bertscore.js";
import { bleu, bleuSignature, sentenceBleu } from "./metrics/bleu.js";
import { meteor } from "./metrics/meteor/meteor.js";
import { rouge } from "./metrics/rouge.js";

/** One predictions.jsonl line: `prediction` and `reference`, plus any extra fields (user_id, category...). */
export interface PredictionRecord {
  prediction: string;
  reference: string;
  [field: string]: unknown;
}

export interface EvalReport {
  n: number;
  bleu: { score: number; signature: string };
  rouge1: { hf: number; mean: number };
  rouge2: { hf: number; mean: number };
  rougeL: { hf: number; mean: number };
  rougeLsum: { hf: number; mean: number };
  meteor: { score: number; signature: string };
  bertscore: { p: number; r: number; f: number; signature: string } | null;
}

export interface EvaluateOptions {
  /** Per-token encoder for BERTScore; without it `bertscore` is null. */
  bertScoreEncoder?: TokenEncoder;
  bertScoreOptions?: BertScoreOptions;
  /** punkt_tab English directory for METEOR (default `$NLTK_DATA/tokenizers/punkt_tab/english`). */
  punktDir?: string;
  /** Seed of HF rouge's bootstrap (default 42). */
  seed?: number;
  /**
   * Compute BLEU, ROUGE and METEOR on a worker thread, so that the process keeps answering signals during
   * minutes of synchronous work; `signal` then stops it at once (DEP_INTERRUPTED).
   */
  offThread?: boolean;
  signal?: AbortSignal;
}

interface TextMetrics {
  corpus: Pick<EvalReport, "bleu" | "rouge1" | "rouge2" | "rougeL" | "rougeLsum" | "meteor">;
  /** per pair, for dep eval --per-sample */
  rougePairs: ReturnType<typeof rouge>["perPair"];
  meteor: number[];
}

/** BLEU, ROUGE and METEOR of aligned predictions and references (synchronous, CPU-bound). */
export function textMetrics(
  preds: string[],
  refs: string[],
  o: { seed?: number; punktDir?: string | undefined } = {},
): TextMetrics {
  const b = bleu(preds, refs);
  const rg = rouge(preds, refs, { seed: o.seed ?? 42 });
  const m = meteor(preds, refs, { punktDir: o.punktDir });
  return {
    corpus: {
      bleu: { score: b.score, signature: b.signature },
      rouge1: rg.rouge1,
      rouge2: rg.rouge2,
      rougeL: rg.rougeL,
      rougeLsum: rg.rougeLsum,
      meteor: { score: m.score, signature: m.signature },
    },
    rougePairs: rg.perPair,
    meteor: m.perPair,
  };
}

/** `textMetrics` on a worker thread (see textMetricsWorker.ts); aborting `signal` terminates it. */
function textMetricsOffThread(
  preds: string[],
  refs: string[],
  o: { seed?: number; punktDir?: string | undefined },
  signal?: AbortSignal,
): Promise<TextMetrics> {
  return offThread({ preds, refs, o }, signal);
}

/** METEOR (as `meteor`) on a worker thread; aborting `signal` terminates it (DEP_INTERRUPTED). */
export function meteorOffThread(
  preds: string[],
  refs: string[],
  o: { punktDir?: string | undefined },
  signal?: AbortSignal,
): Promise<ReturnType<typeof meteor>> {
  return offThread({ preds, refs, o, only: "meteor" }, signal);
}

async function offThread<T>(workerData: object, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw new DepError("DEP_INTERRUPTED", "evaluation interrupted");
  const worker = new Worker(new URL("./textMetricsWorker.js", import.meta.url), { workerData });
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      void worker.terminate();
      reject(new DepError("DEP_INTERRUPTED", "evaluation interrupted"));
    };
    signal?.addEventListener("abort", stop, { once: true });
    worker.once("message", (m: T) => resolve(m));
    worker.once("error", reject);
    worker.once("exit", () => signal?.removeEventListener("abort", stop));
  });
}

const MAX_REPORTED = 20;

/** Parses predictions JSONL text; every malformed line is reported as `file:line: problem`. Blank lines are skipped. */
export function parsePredictions(text: string, file = "<predictions>"): PredictionRecord[] {
  const records: PredictionRecord[] = [];
  const problems: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim().length === 0) continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      problems.push(`${where}: not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${where}: expected a JSON object with "prediction" and "reference"`);
      continue;
    }
    const obj = value as Record<string, unknown>;
    const missing = (["prediction", "reference"] as const).filter((k) => typeof obj[k] !== "string");
    if (missing.length > 0) {
      problems.push(`${where}: field ${missing.map((k) => `"${k}"`).join(" and ")} missing or not a string`);
      continue;
    }
    records.push(obj as PredictionRecord);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_REPORTED).join("\n  ");
    const more = problems.length > MAX_REPORTED ? `\n  ... and ${problems.length - MAX_REPORTED} more` : "";
    throw new DepError(
      "DEP_INPUT",
      `${problems.length} malformed line(s) in ${file}; each line must be a JSON object with string fields "prediction" and "reference":\n  ${shown}${more}`,
    );
  }
  return records;
}

/** Reads and validates a predictions JSONL file. */
export async function readPredictions(path: string): Promise<PredictionRecord[]> {
  let bytes: Buffer;
  try {
    // a FIFO or device would block the whole process in a synchronous read: only regular files are read
    if (!(await stat(path)).isFile())
      throw new DepError(
        "DEP_INPUT",
        `${path}: not a regular file; pass the JSONL file that dep generate wrote`,
      );
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof DepError) throw err;
    const why =
      (err as { code?: string }).code === "ENOENT"
        ? "no such file; pass the JSONL that dep generate wrote"
        : `cannot read it (${(err as Error).message})`;
    throw new DepError("DEP_INPUT", `${path}: ${why}`, { cause: err });
  }
  const bad: number[] = [];
  if (!isUtf8(bytes)) {
    let start = 0;
    for (let line = 1; start <= bytes.length; line++) {
      const end = bytes.indexOf(0x0a, start);
      const stop = end < 0 ? bytes.length : end;
      if (!isUtf8(bytes.subarray(start, stop))) bad.push(line);
      start = stop + 1;
    }
    warnInvalidUtf8(path, bad);
  }
  return parsePredictions(bytes.toString("utf8").replace(/^\uFEFF/, ""), path);
}

/** One sample's sentence-level scores (same scales as the corpus values: BLEU 0-100, the rest 0-1). */
export interface SampleScores {
  bleu: number;
  rouge1: number;
  rougeL: number;
  meteor: number;
  /** BERTScore F1, or null without an encoder */
  bertscore: number | null;
}

export interface PerSampleReport {
  format: "dep-per-sample/1";
  corpus: EvalReport;
  /** how each per-sample column is computed */
  signatures: Record<keyof SampleScores, string | null>;
  /** sample id -> scores, in file order */
  samples: Record<string, SampleScores>;
}

async function scoreAll(
  records: PredictionRecord[],
  opts: EvaluateOptions,
): Promise<{
  report: EvalReport;
  rougePairs: ReturnType<typeof rouge>["perPair"];
  meteor: number[];
  bertscore: number[] | null;
}> {
  if (records.length === 0)
    throw new DepError("DEP_INPUT", "no predictions to evaluate (the file has no records)");
  const preds = records.map((r) => r.prediction);
  const refs = records.map((r) => r.reference);
  const o = { seed: opts.seed ?? 42, punktDir: opts.punktDir };
  const text = opts.offThread
    ? await textMetricsOffThread(preds, refs, o, opts.signal)
    : textMetrics(preds, refs, o);
  let bs: EvalReport["bertscore"] = null;
  let bsPairs: number[] | null = null;
  if (opts.bertScoreEncoder) {
    const r = await bertScore(preds, refs, opts.bertScoreEncoder, opts.bertScoreOptions);
    bs = { p: r.p, r: r.r, f: r.f, signature: r.signature };
    bsPairs = r.perPair.map((x) => x.f);
  }
  const report: EvalReport = { n: records.length, ...text.corpus, bertscore: bs };
  return { report, rougePairs: text.rougePairs, meteor: text.meteor, bertscore: bsPairs };
}

/** Scores in-memory records with every metric. */
export async function evaluateRecords(
  records: PredictionRecord[],
  opts: EvaluateOptions = {},
): Promise<EvalReport> {
  return (await scoreAll(records, opts)).report;
}

/** The id a record is keyed by: its `sample_id` (as dep generate writes it), else `id`, else `line N`. */
export function recordId(r: PredictionRecord, i: number): string {
  for (const key of ["sample_id", "id"]) {
    const v = r[key];
    if (typeof v === "string" && v.length > 0) return v;
    if (typeof v === "number") return String(v);
  }
  return `line ${i + 1}`;
}

/**
 * `dep eval --per-sample`: the corpus report (identical to evaluateRecords') plus, per sample, sacreBLEU's
 * sentence_bleu, rouge_score's ROUGE-1/L F, NLTK's single_meteor_score and BERTScore F1, keyed by sample id.
 */
export async function evaluatePerSample(
  records: PredictionRecord[],
  opts: EvaluateOptions = {},
  file = "<predictions>",
): Promise<PerSampleReport> {
  const ids = records.map(recordId);
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const first = seen.get(id);
    if (first !== undefined)
      throw new DepError(
        "DEP_INPUT",
        `${file}: sample id "${id}" appears on records ${first + 1} and ${i + 1}; per-sample scores need one record per id`,
      );
    seen.set(id, i);
  });
  const all = await scoreAll(records, opts);
  const samples: Record<string, SampleScores> = {};
  records.forEach((r, i) => {
    samples[ids[i]!] = {
      bleu: sentenceBleu(r.prediction, [r.reference]),
      rouge1: all.rougePairs[i]!.rouge1.fmeasure,
      rougeL: all.rougePairs[i]!.rougeL.fmeasure,
      meteor: all.meteor[i]!,
      bertscore: all.bertscore ? all.bertscore[i]! : null,
    };
  });
  return {
    format: "dep-per-sample/1",
    corpus: all.report,
    signatures: {
      bleu: `sentence_bleu|${bleuSignature("1", false, true)}`,
      rouge1: "rouge_score:0.1.2|tok:default|stem:no|F",
      rougeL: "rouge_score:0.1.2|tok:default|stem:no|F",
      meteor: all.report.meteor.signature,
      bertscore: all.report.bertscore ? `${all.report.bertscore.signature}|F1` : null,
    },
    samples,
  };
}

/** `dep eval --predictions PATH`: the report object of issue 7. */
export async function evaluatePredictions(path: string, opts: EvaluateOptions = {}): Promise<EvalReport> {
  return evaluateRecords(await readPredictions(path), opts);
}

/**
 * Scores each group of records sharing the value of `field` (e.g. "category", "user_id") separately,
 * as if each group were its own predictions file (rouge's bootstrap reseeded per group). Records
 * without the field fall in the group "(none)". Groups are returned sorted by key.
 */
export async function evaluateByGroup(
  records: PredictionRecord[],
  field: string,
  opts: EvaluateOptions = {},
): Promise<Array<{ group: string; report: EvalReport }>> {
  const groups = new Map<string, PredictionRecord[]>();
  for (const r of records) {
    const v = r[field];
    const key = v === undefined || v === null ? "(none)" : typeof v === "string" ? v : JSON.stringify(v);
    let g = groups.get(key);
    if (!g) {
      g = [];
      groups.set(key, g);
    }
    g.push(r);
  }
  const out: Array<{ group: string; report: EvalReport }> = [];
  for (const key of [...groups.keys()].sort())
    out.push({ group: key, report: await evaluateRecords(groups.get(key)!, opts) });
  return out;
}
