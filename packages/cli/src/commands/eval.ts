import {
  evaluateByGroup,
  evaluatePredictions,
  formatGroupTable,
  formatReport,
  readPredictions,
} from "@dep/eval";
import type { Command } from "commander";

interface EvalOptions {
  predictions: string;
  json: boolean;
  groupBy?: string;
  punkt?: string;
  seed: number;
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "score predictions against references: BLEU (sacreBLEU), ROUGE (rouge_score + HF bootstrap), METEOR (NLTK)",
    )
    .requiredOption(
      "--predictions <file>",
      "JSONL with `prediction` and `reference` per line (extra fields are kept)",
    )
    .option("--json", "print one JSON object", false)
    .option(
      "--group-by <field>",
      "also score each group of lines sharing this field (e.g. category, user_id)",
    )
    .option("--punkt <dir>", "Punkt English parameters (default: $NLTK_DATA/tokenizers/punkt_tab/english)")
    .option("--seed <n>", "seed of the HF ROUGE bootstrap", (v) => Number.parseInt(v, 10), 42)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep eval --predictions runs/dep/preds.jsonl --json > runs/dep/eval.json",
    )
    .action(async (opts: EvalOptions) => {
      const common = { seed: opts.seed, ...(opts.punkt ? { punktDir: opts.punkt } : {}) };
      const report = await evaluatePredictions(opts.predictions, common);
      const groups = opts.groupBy
        ? await evaluateByGroup(await readPredictions(opts.predictions), opts.groupBy, common)
        : null;
      if (opts.json) {
        console.log(JSON.stringify(groups ? { ...report, groups } : report));
        return;
      }
      console.log(formatReport(report));
      if (groups) console.log(`\n${formatGroupTable(opts.groupBy!, groups)}`);
    });
}
