// `dep report`: the table as Markdown, CSV and JSON plus the plots as SVG and PNG, written as one folder
// atomically; with `html`, also one self-contained report.html and the charts' Vega-Lite specs (*.vl.json).
import { existsSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Dataset, loadDataset, writeDirAtomic } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import type { ExplainResult } from "../explain/types.js";
import { bootstrapMeanInterval } from "./bootstrap.js";
import { renderPage } from "./html/page.js";
import { buildBrowserData } from "./html/reportData.js";
import { loadRun } from "./loadRuns.js";
import { type ChartIntervals, methodComparisonSpec, renderChart, trainingCurvesSpec } from "./plots.js";
import { loadRunSamples, type RunSamples } from "./runSamples.js";
import { buildTable, type ReportTable, tableCsv, tableMarkdown } from "./table.js";
import { type RunRecord, TABLE_METRICS } from "./types.js";

export interface ReportResult {
  table: ReportTable;
  files: string[];
}

export interface ReportOptions {
  /** also write report.html and the *.vl.json specs */
  html?: boolean;
  /** dataset folder: item titles for the predictions browser */
  dataDir?: string;
  /** dep explain's output (explain.json or its folder): the SAE section and user pages */
  explain?: string;
  title?: string;
  /** replace an existing `outDir` (else it is an error naming --force) */
  overwrite?: boolean;
}

/** Metrics whose table value is a mean over samples, so a bootstrap of the per-sample values is its interval. */
const MEAN_METRICS = new Set(["rouge1", "rougeL", "meteor", "bertscore"]);

function intervalsOf(runs: readonly RunRecord[], samples: readonly RunSamples[]): ChartIntervals {
  const out: ChartIntervals = {};
  runs.forEach((run, r) => {
    const scores = samples[r]!.scores;
    if (!scores) return;
    const rows = Object.values(scores);
    for (const metric of TABLE_METRICS) {
      if (!MEAN_METRICS.has(metric.key)) continue;
      const values = rows.map((s) => s[metric.key as keyof typeof s]);
      if (!values.every((v): v is number => typeof v === "number")) continue;
      const ci = bootstrapMeanInterval(values);
      if (!ci) continue;
      out[run.method] ??= {};
      out[run.method]![run.category] ??= {};
      out[run.method]![run.category]![metric.key] = ci;
    }
  });
  return out;
}

export function readExplain(path: string): ExplainResult {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "explain.json") : path;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new DepError(
      "DEP_INPUT",
      `${file}: cannot read dep explain's output (${(err as Error).message}); run dep explain --out DIR first`,
      { cause: err },
    );
  }
  if ((value as Partial<ExplainResult> | null)?.format !== "dep-explain/1")
    throw new DepError("DEP_INPUT", `${file}: not a dep explain output (expected "format": "dep-explain/1")`);
  return value as ExplainResult;
}

/**
 * Writes the report folder as a whole (a temporary sibling renamed into place), so bad input or a failure (a
 * full disk) leaves no partial folder. An existing `outDir` is replaced only with `overwrite`.
 */
export async function writeReport(
  runDirs: readonly string[],
  outDir: string,
  opts: ReportOptions = {},
): Promise<ReportResult> {
  if (runDirs.length === 0) throw new DepError("DEP_USAGE", "no runs given: pass one or more run folders");
  const runs: RunRecord[] = runDirs.map(loadRun);
  const table = buildTable(runs);
  // read everything before writing anything
  const samples = opts.html ? runs.map(loadRunSamples) : null;
  const explain = opts.html && opts.explain ? readExplain(opts.explain) : null;
  const dataset: Dataset | null =
    opts.html && opts.dataDir ? await loadDataset({ dir: opts.dataDir, splits: ["test"] }) : null;
  const files: string[] = [];
  await writeDirAtomic(
    outDir,
    async (tmp) => {
      const put = async (name: string, data: string | Buffer) => {
        await writeFile(join(tmp, name), data);
        files.push(join(outDir, name));
      };
      await put("table.md", tableMarkdown(table));
      await put("table.csv", tableCsv(table));
      await put(
        "table.json",
        `${JSON.stringify({ ...table, runs: runs.map((r) => ({ method: r.method, category: r.category, dir: r.dir })) }, null, 2)}\n`,
      );
      const methodsSpec = methodComparisonSpec(table, samples ? intervalsOf(runs, samples) : {});
      const methods = await renderChart(methodsSpec);
      await put("methods.svg", methods.svg);
      await put("methods.png", methods.png);
      const curvesSpec = trainingCurvesSpec(runs);
      const curves = curvesSpec ? await renderChart(curvesSpec) : null;
      if (curves) {
        await put("training.svg", curves.svg);
        await put("training.png", curves.png);
      }
      if (samples) {
        await put("methods.vl.json", `${JSON.stringify(methodsSpec, null, 2)}\n`);
        if (curvesSpec) await put("training.vl.json", `${JSON.stringify(curvesSpec, null, 2)}\n`);
        const browser = buildBrowserData(runs, samples, { dataset, explain });
        await put(
          "report.html",
          renderPage({
            title: opts.title ?? "DEP report",
            table,
            runs,
            charts: { methods: methods.svg, training: curves?.svg ?? null },
            browser,
            explain,
            sampleSignatures: samples.find((s) => s.signatures)?.signatures ?? null,
          }),
        );
      }
    },
    { overwrite: opts.overwrite ?? false, flag: "--force" },
  );
  return { table, files };
}
