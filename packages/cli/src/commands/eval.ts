import { writeJsonAtomic } from "@dep/core";
import {
  evaluateByGroup,
  evaluatePerSample,
  evaluateRecords,
  expandPredictionPaths,
  formatGroupTable,
  formatReport,
  loadGgufTokenEncoder,
  readPredictionFiles,
} from "@dep/eval";
import { DepError } from "@dep/native-cuda";
import type { Command } from "commander";
import { seed } from "../numbers.js";
import { shutdownSignal, threadsOption } from "../runtime.js";

interface EvalOptions {
  predictions: string[] | string;
  json: boolean;
  groupBy?: string;
  perSample: boolean;
  out?: string;
  punkt?: string;
  seed: number;
  bertscoreModel?: string;
  bertscoreIdf: boolean;
  threads: number;
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "score predictions against references: BLEU (sacreBLEU), ROUGE (rouge_score + HF bootstrap), METEOR (NLTK), BERTScore (a GGUF model)",
    )
    .requiredOption(
      "--predictions <files...>",
      "JSONL with `prediction` and `reference` per line (extra fields are kept); several files or globs are one corpus",
    )
    .option("--json", "print one JSON object", false)
    .option(
      "--group-by <field>",
      "also score each group of lines sharing this field (e.g. category, user_id)",
    )
    .option(
      "--per-sample",
      "also score every sample (sentence BLEU, ROUGE-1/L F, METEOR, BERTScore F1) into --out, keyed by sample id",
      false,
    )
    .option(
      "--out <file>",
      "where --per-sample writes its JSON (corpus scores + per-sample scores), atomically",
    )
    .option("--punkt <dir>", "Punkt English parameters (default: $NLTK_DATA/tokenizers/punkt_tab/english)")
    .option("--seed <n>", "seed of the HF ROUGE bootstrap", seed, 42)
    .option(
      "--bertscore-model <gguf>",
      "also score BERTScore with this GGUF model's last-layer token states (any llama.cpp model)",
    )
    .option("--bertscore-idf", "weight BERTScore tokens by idf over the references", false)
    .addOption(threadsOption("CPU threads for the BERTScore model (default: $DEP_THREADS or the CPU count)"))
    .addHelpText(
      "after",
      "\nExample:\n  $ dep eval --predictions runs/dep/preds.jsonl --json > runs/dep/eval.json\n  $ dep eval --predictions 'runs/dep/preds-*.jsonl' runs/dep/more.jsonl\n  $ dep eval --predictions preds.jsonl --bertscore-model ~/models/bge-m3-q8_0.gguf",
    )
    .action(async (opts: EvalOptions) => {
      if (opts.perSample !== (opts.out !== undefined))
        throw new DepError(
          "DEP_USAGE",
          opts.perSample
            ? "--per-sample needs --out FILE (where to write the per-sample scores)"
            : "--out is only used with --per-sample; add --per-sample or drop --out",
        );
      const files = expandPredictionPaths([opts.predictions].flat());
      const records = await readPredictionFiles(files);
      const encoder = opts.bertscoreModel
        ? await loadGgufTokenEncoder(opts.bertscoreModel, { threads: opts.threads })
        : null;
      const common = {
        seed: opts.seed,
        offThread: true, // Ctrl-C and SIGTERM stay answered during minutes of metric work
        signal: shutdownSignal,
        ...(opts.punkt ? { punktDir: opts.punkt } : {}),
        ...(encoder ? { bertScoreEncoder: encoder, bertScoreOptions: { idf: opts.bertscoreIdf } } : {}),
      };
      let report: Awaited<ReturnType<typeof evaluateRecords>>;
      let groups: Awaited<ReturnType<typeof evaluateByGroup>> | null;
      try {
        if (opts.perSample) {
          const per = await evaluatePerSample(records, common, files.join(", "));
          await writeJsonAtomic(opts.out!, per);
          report = per.corpus;
        } else report = await evaluateRecords(records, common);
        groups = opts.groupBy ? await evaluateByGroup(records, opts.groupBy, common) : null;
      } finally {
        await encoder?.dispose();
      }
      if (encoder && encoder.truncated > 0)
        console.error(
          `warning: ${encoder.truncated} texts were longer than the BERTScore model's context and were cut`,
        );
      if (opts.json) {
        console.log(JSON.stringify(groups ? { ...report, groups } : report));
        return;
      }
      console.log(formatReport(report));
      if (groups) console.log(`\n${formatGroupTable(opts.groupBy!, groups)}`);
    });
}
