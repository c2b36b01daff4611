// `dep loss`: the held-out language-model loss of users' target reviews under a checkpoint's soft rows, the
// same run's initial (untrained) soft rows, or no soft rows — the learning check of SPEC §6 without
// sampling noise.

import type { Shard } from "@dep/core";
import {
  assertStoreFits,
  chatTemplateChoice,
  checkpointVariant,
  ensureModel,
  heldOutLoss,
  heldOutLossToFile,
  loadModelCheckpoint,
  loadTrainingSamples,
  modelFingerprint,
  modelOfCheckpoint,
  type OpenGradSource,
  openGradSource,
  recipeOf,
  runInitialParams,
  slotKindsOf,
  TINYLLAMA,
} from "@dep/core";
import { DepError, Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { acceptOtherLlmOption, assertCheckpointFitsLlm, assertCheckpointRunsOn } from "../checkpointFit.js";
import { type DataFlags, dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { addGradEngineOptions, type GradEngineFlags, gradSourceChoice } from "../gradEngineOptions.js";
import { positions, positiveInt } from "../numbers.js";
import { assertFreshOutput, assertNotOnInputs, dataInputs } from "../outputs.js";
import { Progress } from "../progress.js";
import { addPromptOptions, type PromptFlags } from "../promptOptions.js";
import { shutdownSignal, threadsOption } from "../runtime.js";
import { llmIdentity, shardedOut, shardOption } from "../shardOption.js";

type SoftRows = "trained" | "untrained" | "none";

export function registerLoss(program: Command): void {
  const cmd = program
    .command("loss")
    .description(
      "held-out LM loss of the target reviews with a checkpoint's soft rows, its run's initial ones, or none",
    )
    .requiredOption("--checkpoint <dir>", "a checkpoint folder (RUNDIR/checkpoints/epoch-N or last)")
    .addOption(dataOption())
    .addOption(mainOption())
    .addOption(metaOption())
    .requiredOption("--embeddings <dir>", "embedding store (dep embed)")
    .addOption(new Option("--split <s>", "which split").choices(["train", "val", "test"]).default("test"))
    .addOption(
      new Option(
        "--soft <rows>",
        "trained: the checkpoint; untrained: the initialisation its run started from; none: no soft slots",
      )
        .choices(["trained", "untrained", "none"])
        .default("trained"),
    )
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama)")
    .addOption(acceptOtherLlmOption())
    .option("--max-samples <n>", "use at most N samples", positiveInt)
    .option("--max-length <n>", "prompt budget in positions (default: the run's)", positions)
    .option(
      "--max-description-chars <n>",
      "cut item descriptions in prompts (default: the run's)",
      positiveInt,
    )
    .addOption(threadsOption())
    .option(
      "--out <file>",
      "also write each sample's loss as a JSONL line (resumable: finished samples are skipped)",
    )
    .addOption(shardOption())
    .option("--json", "no progress line; print the result as JSON", false);
  addGradEngineOptions(cmd);
  addPromptOptions(cmd, false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep loss --checkpoint runs/dep/checkpoints/epoch-5 --data data/ --embeddings emb/ --soft none",
    )
    .action(
      async (
        o: DataFlags &
          GradEngineFlags & {
            checkpoint: string;
            embeddings: string;
            split: "train" | "val" | "test";
            soft: SoftRows;
            model?: string;
            maxSamples?: number;
            maxLength?: number;
            maxDescriptionChars?: number;
            threads: number;
            acceptOtherLlm: boolean;
            json: boolean;
            out?: string;
            shard?: Shard;
          } & PromptFlags,
      ) => {
        const dataDir = dataSource(o);
        if (o.shard && !o.out)
          throw new DepError("DEP_USAGE", "--shard needs --out FILE (the per-sample losses to merge)");
        const out = o.out ? shardedOut(o.out, o.shard) : undefined;
        if (out) {
          assertNotOnInputs(out, [...dataInputs(dataDir), o.embeddings, o.checkpoint, o.model]);
          assertFreshOutput(out, true, "file"); // resumable: only a folder in its place is refused
        }
        const ckpt = await loadModelCheckpoint(o.checkpoint);
        const { config, params } = ckpt;
        await assertStoreFits(o.embeddings, config, o.checkpoint);
        const hp = config.hyperparameters as {
          seed?: number;
          maxLength?: number;
          maxDescriptionChars?: number | null;
          weighting?: "reference" | "softmax-norm" | "uniform";
        };
        const recipe = recipeOf(config.hyperparameters);
        const variant = checkpointVariant(config);
        const maxLength = o.maxLength ?? hp.maxLength ?? 3072;
        const maxDescriptionChars = o.maxDescriptionChars ?? hp.maxDescriptionChars ?? undefined;
        const kernel = { threads: o.threads, backend: "auto" as const };
        const model =
          o.soft === "none"
            ? null
            : modelOfCheckpoint(
                ckpt,
                kernel,
                o.soft === "trained" ? params : runInitialParams(config, hp.seed ?? 42, recipe.init),
              );
        const { data, samples } = await loadTrainingSamples(dataDir, o.embeddings, o.split, {
          weighting: hp.weighting ?? "reference",
          prompt: o.prompt ?? recipe.prompt,
          seed: hp.seed ?? 42,
          ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
          itemQueries: variant === "pplug-style",
        });
        const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
        const llm = await Llm.load(modelPath, {
          threads: o.threads,
          contextSize: 4096,
          gradBackward: "f16",
          gradWeights: "f16",
        });
        let grads: OpenGradSource | null = null;
        try {
          // --soft none runs no soft rows: any LLM of the width will do
          if (o.soft !== "none")
            await assertCheckpointRunsOn(config, o.checkpoint, llm, modelPath, o.acceptOtherLlm);
          else assertCheckpointFitsLlm(config, o.checkpoint, llm, modelPath);
          grads = await openGradSource(llm, gradSourceChoice(o), { threads: o.threads, path: modelPath });
          const progress = new Progress({ label: `loss (${o.soft})`, unit: "samples", quiet: o.json });
          const t0 = performance.now();
          const common = {
            llm: grads.model,
            model,
            samples: data,
            maxLength,
            ...(maxDescriptionChars ? { maxDescriptionChars } : {}),
            slotKinds: slotKindsOf(variant),
            chatTemplate: chatTemplateChoice(o.chatTemplate ?? recipe.chatTemplate),
            markers: o.markers ?? recipe.markers,
            signal: shutdownSignal,
            onProgress: (done: number, total: number) => progress.update(done, total),
          };
          const settings = {
            soft: o.soft,
            model: model ? modelFingerprint(model) : null,
            split: o.split,
            maxLength,
            maxDescriptionChars: maxDescriptionChars ?? null,
            llm: llmIdentity(modelPath, llm.info),
            gradSource: grads.model.gradSource,
          };
          const r = out
            ? await heldOutLossToFile({
                ...common,
                ids: data.map((_, i) => samples.samples[i]!.id),
                outFile: out,
                ...(o.shard ? { shard: o.shard, shardSettings: settings } : {}),
              })
            : await heldOutLoss(common);
          progress.done();
          if (shutdownSignal.aborted)
            throw new DepError("DEP_INTERRUPTED", `loss interrupted after ${r.n} samples`);
          const result = {
            ...(out ? { out } : {}),
            checkpoint: o.checkpoint,
            split: o.split,
            soft: o.soft,
            variant,
            n: r.n,
            overBudget: r.overBudget,
            tokenMean: r.tokenMean,
            sampleMean: r.sampleMean,
            gradSource: grads.model.gradSource,
            seconds: (performance.now() - t0) / 1000,
          };
          if (r.overBudget > 0)
            console.error(
              `dep: warning: ${r.overBudget} of ${r.n} prompts are longer than --max-length ${maxLength} even with one history review; they were kept whole (every held-out sample counts)`,
            );
          console.log(
            o.json
              ? JSON.stringify(result)
              : `${o.split} LM loss (${o.soft} soft rows, ${result.variant}): ${r.tokenMean.toFixed(4)} per token, ${r.sampleMean.toFixed(4)} per sample mean, n=${r.n}`,
          );
        } finally {
          await grads?.dispose();
          await llm.dispose();
        }
      },
    );
}
