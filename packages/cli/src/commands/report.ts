import { writeReport } from "@dep/eval";
import type { Command } from "commander";
import { assertFreshOutput, assertNotOnInputs } from "../outputs.js";

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
    .option("--force", "replace an existing --out folder", false)
    .option("--json", "print the written file list as JSON", false)
    .addHelpText("after", "\nExample:\n  $ dep report --runs runs/dep runs/rag runs/no-soft --out report/")
    .action(async (opts: { runs: string[]; out: string; force: boolean; json: boolean }) => {
      assertNotOnInputs(opts.out, opts.runs);
      assertFreshOutput(opts.out, opts.force, "folder");
      const res = await writeReport(opts.runs, opts.out, { overwrite: opts.force });
      if (opts.json) console.log(JSON.stringify({ files: res.files }));
      else for (const f of res.files) console.log(f);
    });
}
