// `dep report`: the table as Markdown, CSV and JSON plus the plots as SVG and PNG, written atomically.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { loadRun } from "./loadRuns.js";
import { methodComparisonSpec, renderChart, trainingCurvesSpec } from "./plots.js";
import { buildTable, type ReportTable, tableCsv, tableMarkdown } from "./table.js";
import type { RunRecord } from "./types.js";

function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface ReportResult {
  table: ReportTable;
  files: string[];
}

export async function writeReport(runDirs: readonly string[], outDir: string): Promise<ReportResult> {
  if (runDirs.length === 0) throw new DepError("DEP_USAGE", "no runs given: pass one or more run folders");
  const runs: RunRecord[] = runDirs.map(loadRun);
  const table = buildTable(runs);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, data: string | Buffer) => {
    const path = join(outDir, name);
    writeAtomic(path, data);
    files.push(path);
  };
  put("table.md", tableMarkdown(table));
  put("table.csv", tableCsv(table));
  put(
    "table.json",
    `${JSON.stringify({ ...table, runs: runs.map((r) => ({ method: r.method, category: r.category, dir: r.dir })) }, null, 2)}\n`,
  );
  const methods = await renderChart(methodComparisonSpec(table));
  put("methods.svg", methods.svg);
  put("methods.png", methods.png);
  const curves = trainingCurvesSpec(runs);
  if (curves) {
    const chart = await renderChart(curves);
    put("training.svg", chart.svg);
    put("training.png", chart.png);
  }
  return { table, files };
}
