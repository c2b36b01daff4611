// `dep report`: the table as Markdown, CSV and JSON plus the plots as SVG and PNG, written atomically.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeDirAtomic } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { loadRun } from "./loadRuns.js";
import { methodComparisonSpec, renderChart, trainingCurvesSpec } from "./plots.js";
import { buildTable, type ReportTable, tableCsv, tableMarkdown } from "./table.js";
import type { RunRecord } from "./types.js";

export interface ReportResult {
  table: ReportTable;
  files: string[];
}

/**
 * Writes the report folder as a whole (a temporary sibling renamed into place), so a failure (a full disk)
 * leaves no partial folder. An existing `outDir` is replaced only with `overwrite`.
 */
export async function writeReport(
  runDirs: readonly string[],
  outDir: string,
  options: { overwrite?: boolean } = {},
): Promise<ReportResult> {
  if (runDirs.length === 0) throw new DepError("DEP_USAGE", "no runs given: pass one or more run folders");
  const runs: RunRecord[] = runDirs.map(loadRun);
  const table = buildTable(runs);
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
      const methods = await renderChart(methodComparisonSpec(table));
      await put("methods.svg", methods.svg);
      await put("methods.png", methods.png);
      const curves = trainingCurvesSpec(runs);
      if (curves) {
        const chart = await renderChart(curves);
        await put("training.svg", chart.svg);
        await put("training.png", chart.png);
      }
    },
    { overwrite: options.overwrite ?? false, flag: "--force" },
  );
  return { table, files };
}
