import {
  assertStoreFits,
  chatTemplateChoice,
  checkpointVariant,
  DEFAULT_SUMMARY_TOKENS,
  DEP_VARIANTS,
  DPL_DEFAULT_RETRIEVED,
  ensureModel,
  type GenerationMethod,
  generatePredictions,
  isTrainedMethod,
  loadModelCheckpoint,
  modelOfCheckpoint,
  recipeOf,
  TINYLLAMA,
} from "@dep/core";
import { DepError, Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { acceptOtherLlmOption, assertCheckpointRunsOn } from "../checkpointFit.js";
import { dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { integer, positiveInt } from "../numbers.js";
import { assertFreshOutput, assertNotOnInputs, dataInputs } from "../outputs.js";
import { Progress } from "../progress.js";
import { addPromptOptions } from "../promptOptions.js";
import { shutdownSignal } from "../runtime.js";
import { addSamplingOptions, samplingOf } from "../samplingOptions.js";
import { llmIdentity, shardedOut, shardOption } from "../shardOption.js";

export const METHODS: GenerationMethod[] = [
  ...DEP_VARIANTS,
  "no-soft",
  "non-personalized",
  "rag",
  "pag",
  "dpl",
];

/** `--num-retrieved`: DPL's choices (1..8). */
export const numRetrievedOption = () =>
  new Option(
    "--num-retrieved <n>",
    "past reviews and difference items per sample of the dpl method (DPL's --num_retrieved)",
  )
    .argParser(integer(1, 8))
    .default(DPL_DEFAULT_RETRIEVED);

export function registerGenerate(program: Command): void {
  const cmd = program
    .command("generate")
    .description(
      "write personalized reviews for a split (SPEC §7); resumable — a rerun skips finished samples",
    )
    .option(
      "--checkpoint <dir>",
      "a checkpoint folder (RUNDIR/checkpoints/epoch-N); needed by the trained methods (dep, his-only, diff-only, no-sae, pplug-style)",
    )
    .addOption(dataOption())
    .addOption(mainOption())
    .addOption(metaOption())
    .requiredOption("--embeddings <dir>", "embedding store (dep embed)")
    .addOption(new Option("--split <s>", "which split").choices(["train", "val", "test"]).default("test"))
    .requiredOption("--out <file>", "predictions JSONL (appended to; finished samples are skipped)")
    .addOption(
      new Option(
        "--method <m>",
        "generation method (default: the checkpoint's variant with --checkpoint, else no-soft; pag keeps its user summaries in OUT.profiles.jsonl, dpl its differences and summaries in OUT.dpl-differences.jsonl and OUT.dpl-summaries.jsonl)",
      ).choices(METHODS),
    )
    .option("--no-soft", "the DEP prompt without soft rows (same as --method no-soft)")
    .option("--rag-k <n>", "history reviews shown by the rag and pag methods", positiveInt, 4)
    .option(
      "--pag-summary-tokens <n>",
      "new tokens per user summary of the pag method",
      positiveInt,
      DEFAULT_SUMMARY_TOKENS,
    )
    .addOption(numRetrievedOption())
    .addOption(acceptOtherLlmOption())
    .addOption(shardOption())
    .option("--json", "no progress line; print the result as JSON", false);
  addPromptOptions(cmd, false);
  addSamplingOptions(cmd)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep generate --checkpoint runs/dep/checkpoints/epoch-5 --data data/ --embeddings emb/ --out preds.jsonl",
    )
    .action(async (o) => {
      const data = dataSource(o);
      const out = shardedOut(o.out, o.shard);
      assertNotOnInputs(out, [...dataInputs(data), o.embeddings, o.checkpoint, o.model]);
      assertFreshOutput(out, true, "file"); // resumable: only a folder in its place is refused
      const ckpt0 = o.checkpoint && o.soft !== false ? await loadModelCheckpoint(o.checkpoint) : null;
      const method: GenerationMethod =
        o.soft === false ? "no-soft" : (o.method ?? (ckpt0 ? checkpointVariant(ckpt0.config) : "no-soft"));
      const needsModel = isTrainedMethod(method);
      if (needsModel && !o.checkpoint)
        throw new DepError("DEP_USAGE", `--method ${method} needs --checkpoint`);
      const ckpt = needsModel ? ckpt0 : null;
      if (ckpt) await assertStoreFits(o.embeddings, ckpt.config, o.checkpoint);
      const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
      const llm = await Llm.load(modelPath, {
        threads: o.threads,
        // the pag summaries are written in the same context: up to --max-length prompt tokens too
        // as vLLM: room for the whole prompt budget plus every new token asked for
        contextSize:
          o.maxLength + (method === "pag" ? Math.max(o.maxTokens, o.pagSummaryTokens) : o.maxTokens),
      });
      try {
        if (ckpt) await assertCheckpointRunsOn(ckpt.config, o.checkpoint, llm, modelPath, o.acceptOtherLlm);
        const model = ckpt ? modelOfCheckpoint(ckpt, { threads: o.threads, backend: "auto" }) : null;
        const progress = new Progress({ label: `generate (${method})`, unit: "samples", quiet: o.json });
        const r = await generatePredictions({
          llm,
          model,
          method,
          ragK: o.ragK,
          pagSummaryTokens: o.pagSummaryTokens,
          dplRetrieved: o.numRetrieved,
          llmIdentity: llmIdentity(modelPath, llm.info),
          dataDir: data,
          embDir: o.embeddings,
          split: o.split,
          outFile: out,
          ...samplingOf(o),
          // as the checkpoint was trained unless asked otherwise
          prompt: o.prompt ?? (ckpt0 ? recipeOf(ckpt0.config.hyperparameters).prompt : "reference"),
          markers: o.markers ?? (ckpt0 ? recipeOf(ckpt0.config.hyperparameters).markers : "rows"),
          chatTemplate: chatTemplateChoice(
            o.chatTemplate ?? (ckpt0 ? recipeOf(ckpt0.config.hyperparameters).chatTemplate : "reference"),
          ),
          ...(o.shard ? { shard: o.shard, shardSettings: { llm: llmIdentity(modelPath, llm.info) } } : {}),
          signal: shutdownSignal,
          onProgress: (p) => progress.update(p.done, p.total, `${p.generatedTokens} tokens`),
        });
        progress.done();
        if (shutdownSignal.aborted) {
          throw new DepError(
            "DEP_INTERRUPTED",
            `generation interrupted after ${r.written} new samples; rerun to resume`,
          );
        }
        console.log(
          o.json
            ? JSON.stringify({ out, method, ...r })
            : `${out}: ${r.written} written, ${r.skipped} already done, ${r.total} in all`,
        );
      } finally {
        await llm.dispose();
      }
    });
}
