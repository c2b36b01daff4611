import { writeReport } from "@dep/eval";
import { DepError } from "@dep/native-cuda";
import type { Command } from "commander";
import { assertFreshOutput, assertNotOnInputs } from "../outputs.js";

interface ReportCliOptions {
  runs: string[];
  out: string;
  json: boolean;
  html: boolean;
  data?: string;
  explain?: string;
  title: string;
  force: boolean;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description(
      "write the paper-style results table (Markdown, CSV, JSON) and plots (SVG, PNG) from evaluated runs",
    )
    .requiredOption(
      "--runs <dirs...>",
      "run folders, each with eval.json (dep eval --json) and optional run.json / metrics.jsonl",
    )
    .requiredOption("--out <dir>", "output folder")
    .option(
      "--html",
      "also write report.html (self-contained: results, charts, predictions browser, SAE section) and the charts' *.vl.json",
      false,
    )
    .option("--data <dir>", "dataset folder, for item titles in the predictions browser (with --html)")
    .option(
      "--explain <path>",
      "dep explain's output folder or explain.json: SAE section and user pages (with --html)",
    )
    .option("--title <text>", "the HTML report's title", "DEP report")
    .option("--force", "replace an existing --out folder", false)
    .option("--json", "print the written file list as JSON", false)
    .addHelpText(
      "after",
      "\nRun folders may also hold preds.jsonl and per-sample.json (dep eval --per-sample): the HTML report's\npredictions browser and bootstrap intervals use them.\n\nExample:\n  $ dep report --runs runs/dep runs/rag runs/no-soft --out report/\n  $ dep report --runs runs/* --out report/ --html --data data/ --explain explain/",
    )
    .action(async (opts: ReportCliOptions) => {
      if (!opts.html && (opts.data || opts.explain))
        throw new DepError("DEP_USAGE", "--data and --explain only feed the HTML report; add --html");
      assertNotOnInputs(opts.out, [
        ...opts.runs,
        ...(opts.data ? [opts.data] : []),
        ...(opts.explain ? [opts.explain] : []),
      ]);
      assertFreshOutput(opts.out, opts.force, "folder");
      const res = await writeReport(opts.runs, opts.out, {
        overwrite: opts.force,
        html: opts.html,
        dataDir: opts.data,
        explain: opts.explain,
        title: opts.title,
      });
      if (opts.json) console.log(JSON.stringify({ files: res.files }));
      else for (const f of res.files) console.log(f);
    });
}
