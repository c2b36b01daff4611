import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import {
  assertStoreFits,
  chatTemplateChoice,
  DEP_VARIANTS,
  DepModel,
  type DepVariant,
  describeDataSource,
  dumpGrads,
  ensureModel,
  type InitScheme,
  type LossScaling,
  loadTrainingSamples,
  type MarkerMode,
  type OpenGradSource,
  openGradSource,
  type PromptAlignment,
  runInitialParams,
  type SaeRows,
  stateTrainedOn,
  TINYLLAMA,
  train,
} from "@dep/core";
import { DepError, Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { type DataFlags, dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { addGradEngineOptions, type GradEngineFlags, gradSourceChoice } from "../gradEngineOptions.js";
import { decimal, integer, nonNegativeInt, positions, positiveInt, probability, seed } from "../numbers.js";
import { assertFolderOutput, assertNotOnInputs, dataInputs } from "../outputs.js";
import { Progress } from "../progress.js";
import { addPromptOptions } from "../promptOptions.js";
import { shutdownSignal, threadsOption } from "../runtime.js";

interface TrainFlags extends DataFlags, GradEngineFlags {
  embeddings: string;
  model?: string;
  out: string;
  epochs: number;
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  gradAccum: number;
  seed: number;
  maxSteps?: number;
  saveEvery: number;
  threads: number;
  maxLength: number;
  maxDescriptionChars?: number;
  saeWidth: number;
  linearOutput: boolean;
  diffWeighting: "reference" | "softmax-norm" | "uniform";
  prompt: PromptAlignment;
  chatTemplate: string;
  markers: MarkerMode;
  init: InitScheme;
  maxGradNorm: number;
  decayBiases: boolean;
  lossScaling: LossScaling;
  saeRows: SaeRows;
  variant: DepVariant;
  maxSamples?: number;
  kernelBackend: "auto" | "reference" | "cpu" | "cuda";
  resume: boolean;
  gradBackward: "none" | "f16" | "bf16" | "f32";
  gradWeights: "f32" | "f16";
  dumpGrads?: string;
  json: boolean;
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train DEP's SAE and projectors through the frozen LLM (SPEC §6); resumable")
    .addOption(dataOption("dataset folder (DPL format: dep data synth | prepare)"))
    .addOption(mainOption())
    .addOption(metaOption())
    .requiredOption("--embeddings <dir>", "embedding store of the dataset's reviews (dep embed)")
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama)")
    .requiredOption("--out <dir>", "run folder: metrics.jsonl, checkpoints/epoch-N, state/")
    .option("--epochs <n>", "epochs", integer(1, 100_000), 5)
    .option("--lr <x>", "peak learning rate (AdamW)", decimal(0, 1, { aboveMin: true }), 1e-5)
    .option("--weight-decay <x>", "AdamW weight decay", probability, 0.025)
    .option("--warmup-ratio <x>", "share of updates spent warming up linearly", probability, 0.01)
    .option("--grad-accum <n>", "samples per optimizer update (batch 1 each)", integer(1, 1_048_576), 16)
    .option("--seed <n>", "seed of the initialisation and the sample order", seed, 42)
    .option("--max-steps <n>", "stop after this many optimizer updates", positiveInt)
    .option(
      "--save-every <n>",
      "also save the resumable state every N updates (0: epoch ends only)",
      nonNegativeInt,
      0,
    )
    .addOption(threadsOption())
    .option("--max-length <n>", "prompt budget in positions (SPEC §5)", positions, 3072)
    .option(
      "--max-description-chars <n>",
      "cut item descriptions in prompts (small-context LLMs)",
      positiveInt,
    )
    .option("--sae-width <n>", "SAE width h", integer(1, 65_536), 512)
    .option("--linear-output", "linear SAE decoder output instead of the reference's GELU", false)
    .addOption(
      new Option("--diff-weighting <mode>", "peer weighting of difference embeddings")
        .choices(["reference", "softmax-norm", "uniform"])
        .default("reference"),
    )
    .addOption(
      new Option(
        "--init <scheme>",
        "initialisation: the reference's N(0, 0.02) with zero biases, or torch's nn.Linear default",
      )
        .choices(["reference", "torch"])
        .default("reference"),
    )
    .option(
      "--max-grad-norm <x>",
      "clip each update's gradient to this global L2 norm (0: off)",
      decimal(0, 1e6),
      1,
    )
    .option(
      "--decay-biases",
      "weight-decay the biases too (the reference's HF decay groups exempt them)",
      false,
    )
    .addOption(
      new Option(
        "--loss-scaling <mode>",
        "reference: per window, the token-weighted LM mean plus the sum of the SAE terms (what transformers 4.51.3 + DeepSpeed compute); mean: the per-sample mean",
      )
        .choices(["reference", "mean"])
        .default("reference"),
    )
    .addOption(
      new Option(
        "--sae-rows <r>",
        "SAE loss over all qualifying rows (reference) or only those the prompt shows",
      )
        .choices(["all", "shown"])
        .default("all"),
    )
    .addOption(
      new Option(
        "--variant <v>",
        "DEP, an ablation (his-only, diff-only, no-sae) or the pplug-style baseline (needs dep embed --items)",
      )
        .choices(DEP_VARIANTS)
        .default("dep"),
    )
    .option("--max-samples <n>", "use at most N training samples", positiveInt)
    .addOption(
      new Option("--kernel-backend <b>", "where the SAE/projector kernels run")
        .choices(["auto", "reference", "cpu", "cuda"])
        .default("auto"),
    )
    .addOption(
      new Option(
        "--grad-backward <t>",
        "--engine ggml: transposed weight copy for the backward (none: exact, slowest, least memory)",
      )
        .choices(["none", "f16", "bf16", "f32"])
        .default("f16"),
    )
    .addOption(
      new Option(
        "--grad-weights <t>",
        "--engine ggml: storage of the frozen LLM matrices in the gradient graph",
      )
        .choices(["f32", "f16"])
        .default("f32"),
    )
    .option("--resume", "continue the run in --out from its last saved state", false)
    .option(
      "--dump-grads <file>",
      "run one sample without updating and write params, grads and inputs (safetensors)",
    )
    .option("--json", "no progress line; print the result as JSON", false);
  addGradEngineOptions(cmd);
  addPromptOptions(cmd, true)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep train --data data/ --embeddings emb/ --out runs/dep --epochs 1 --grad-accum 4 --threads 2",
    )
    .action(async (o: TrainFlags) => {
      const dataDir = dataSource(o);
      const inputs = [...dataInputs(dataDir), o.embeddings, o.model];
      if (o.dumpGrads) {
        assertNotOnInputs(o.dumpGrads, inputs, "--dump-grads");
      } else {
        assertNotOnInputs(o.out, inputs);
        assertFolderOutput(o.out);
        if (o.resume && !existsSync(join(o.out, "run.json")))
          throw new DepError(
            "DEP_USAGE",
            `--resume: nothing to resume in ${o.out} (no run.json there); check --out, or drop --resume to start a run`,
          );
      }
      const trained = o.resume ? await stateTrainedOn(o.out) : null;
      if (trained) await assertStoreFits(o.embeddings, trained, `the run in ${o.out}`);
      const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
      const llm = await Llm.load(modelPath, {
        threads: o.threads,
        contextSize: Math.min(4096, o.maxLength + 1024),
        gradBackward: o.gradBackward,
        gradWeights: o.gradWeights,
      });
      let grads: OpenGradSource | null = null;
      try {
        grads = await openGradSource(llm, gradSourceChoice(o), { threads: o.threads, path: modelPath });
        const gradLlm = grads.model;
        if (o.dumpGrads) {
          const { data, samples } = await loadTrainingSamples(dataDir, o.embeddings, "train", {
            weighting: o.diffWeighting,
            prompt: o.prompt,
            seed: o.seed,
            maxSamples: 1,
          });
          const sample = data[0];
          if (!sample)
            throw new DepError(
              "DEP_INPUT",
              `${describeDataSource(dataDir)}: no training sample has a qualifying review`,
            );
          const dims = { d: samples.dim, h: o.saeWidth, H: llm.info.nEmbd };
          const model = new DepModel(
            { ...dims, linearOutput: o.linearOutput },
            runInitialParams(dims, o.seed, o.init),
            { threads: o.threads, backend: o.kernelBackend },
          );
          const r = await dumpGrads(gradLlm, model, sample, o.dumpGrads, o.maxLength);
          const summary = {
            file: o.dumpGrads,
            sample: samples.samples[0]!.id,
            loss: r.lossLm + r.saeLoss,
            lossLm: r.lossLm,
            k: r.k,
          };
          console.log(
            o.json
              ? JSON.stringify(summary)
              : `wrote ${o.dumpGrads} (sample ${summary.sample}, loss ${summary.loss.toFixed(4)})`,
          );
          return;
        }
        const progress = new Progress({ label: "train", unit: "samples", quiet: o.json });
        const result = await train({
          llm: gradLlm,
          dataDir,
          embDir: o.embeddings,
          outDir: o.out,
          threads: o.threads,
          epochs: o.epochs,
          lr: o.lr,
          weightDecay: o.weightDecay,
          warmupRatio: o.warmupRatio,
          gradAccum: o.gradAccum,
          seed: o.seed,
          ...(o.maxSteps ? { maxSteps: o.maxSteps } : {}),
          saveEvery: o.saveEvery,
          maxLength: o.maxLength,
          ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
          h: o.saeWidth,
          linearOutput: o.linearOutput,
          weighting: o.diffWeighting,
          prompt: o.prompt,
          chatTemplate: chatTemplateChoice(o.chatTemplate),
          markers: o.markers,
          init: o.init,
          maxGradNorm: o.maxGradNorm,
          decayBiases: o.decayBiases,
          lossScaling: o.lossScaling,
          saeRows: o.saeRows,
          variant: o.variant,
          ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
          kernelBackend: o.kernelBackend,
          resume: o.resume,
          signal: shutdownSignal,
          onProgress: (p) =>
            progress.update(
              p.microStep,
              p.totalMicroSteps,
              `epoch ${p.epoch}/${p.epochs} update ${p.optimizerStep} loss ${p.loss.toFixed(3)} (lm ${p.lossLm.toFixed(3)} sae ${p.saeLoss.toFixed(3)}) ${p.tokensPerSecond.toFixed(0)} tok/s`,
            ),
        });
        progress.done();
        if (o.json) console.log(JSON.stringify(result));
        else {
          console.log(
            `run ${result.runDir}: ${result.optimizerSteps} updates${result.interrupted ? " (interrupted; rerun with --resume)" : ""}`,
          );
          for (const c of result.epochCheckpoints) console.log(`checkpoint ${c}`);
        }
        if (result.interrupted)
          throw new DepError(
            "DEP_INTERRUPTED",
            `training interrupted; state saved in ${basename(o.out)}/state (rerun with --resume)`,
          );
      } finally {
        await grads?.dispose();
        await llm.dispose();
      }
    });
}
