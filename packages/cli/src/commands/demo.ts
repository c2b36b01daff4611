// `dep demo`: the whole method on what the npm registry gives us — TinyLlama as the frozen LLM, USE-lite
// as the sentence encoder, a synthetic population with planted user differences. Every stage is reused
// when its output exists, so a rerun (or a run after Ctrl-C) continues where it stopped.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { copyFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  createEmbedder,
  depHome,
  embedDataset,
  ensureModel,
  type GenerationMethod,
  generatePredictions,
  heldOutLoss,
  loadModelCheckpoint,
  loadTrainingSamples,
  modelOfCheckpoint,
  type OpenGradSource,
  openGradSource,
  runInitialParams,
  synthesize,
  TINYLLAMA,
  train,
  writeDiffFile,
  writeJsonAtomic,
} from "@dep/core";
import { evaluatePerSample, explain, readPredictions, writeReport } from "@dep/eval";
import { DepError, Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { addGradEngineOptions, type GradEngineFlags, gradSourceChoice } from "../gradEngineOptions.js";
import { seed } from "../numbers.js";
import { shutdownSignal, threadsOption } from "../runtime.js";

interface DemoSize {
  users: number;
  trainSamples: number;
  epochs: number;
  gradAccum: number;
  testSamples: number;
  maxTokens: number;
  maxLength: number;
  maxDescriptionChars: number;
  lr: number;
}

/** Sizes: small fits well inside 20 minutes on a 2-core laptop CPU; medium doubles the work. */
export const DEMO_SIZES: Record<"small" | "medium", DemoSize> = {
  small: {
    users: 30,
    trainSamples: 8,
    epochs: 2,
    gradAccum: 2,
    testSamples: 4,
    maxTokens: 48,
    // the reference's prompt (system text, layout) with one review of up to ~1000 characters fits in ~600
    maxLength: 600,
    maxDescriptionChars: 120,
    lr: 1e-3,
  },
  medium: {
    users: 60,
    trainSamples: 16,
    epochs: 2,
    gradAccum: 4,
    testSamples: 8,
    maxTokens: 64,
    maxLength: 704,
    maxDescriptionChars: 160,
    lr: 1e-3,
  },
};

const METHODS: GenerationMethod[] = ["dep", "no-soft", "rag"];

export function registerDemo(program: Command): void {
  const cmd = program
    .command("demo")
    .description(
      "the main job on embedded defaults: synth data -> embed -> diff -> train DEP -> generate -> eval -> explain -> report (report.html)",
    )
    .addOption(new Option("--size <s>", "how much work").choices(["small", "medium"]).default("small"))
    .option("--seed <n>", "seed of the data, the initialisation and the sampling", seed, 42)
    .addOption(threadsOption())
    .option("--out <dir>", "demo folder (default: $DEP_HOME/demo/<size>-seed<seed>)")
    .option("--json", "print the summary as JSON", false);
  addGradEngineOptions(cmd)
    .addHelpText(
      "after",
      "\nExample:\n  $ pnpm demo            # = dep demo --size small\n  $ dep demo --size medium --threads 2",
    )
    .action(
      async (
        o: GradEngineFlags & {
          size: "small" | "medium";
          seed: number;
          threads: number;
          out?: string;
          json: boolean;
        },
      ) => {
        const size = DEMO_SIZES[o.size];
        const dir = resolve(o.out ?? join(depHome(), "demo", `${o.size}-seed${o.seed}`));
        const t0 = performance.now();
        const log = (line: string) => {
          if (!o.json)
            console.error(`[demo ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}`);
        };
        const stop = () => {
          if (shutdownSignal.aborted)
            throw new DepError("DEP_INTERRUPTED", `demo interrupted; rerun to continue (${dir})`);
        };
        mkdirSync(dir, { recursive: true });
        log(`folder ${dir}`);

        const modelPath = await ensureModel(TINYLLAMA);
        const dataDir = join(dir, "data");
        if (!existsSync(join(dataDir, "dataset.json"))) {
          log(`synthesizing ${size.users} users`);
          await synthesize({ users: size.users, seed: o.seed, outDir: dataDir, overwrite: true });
        }
        stop();
        const embDir = join(dir, "emb");
        log("embedding reviews with USE-lite");
        const embedder = await createEmbedder("use-lite");
        const emb = await embedDataset({ dataDir, embedder, outDir: embDir, signal: shutdownSignal });
        await embedder.dispose?.();
        stop();
        log(`embeddings: ${emb.texts} texts (${emb.embedded} new)`);
        const diffFile = join(dir, "diff", "test.safetensors");
        if (!existsSync(diffFile)) {
          const d = await writeDiffFile({ dataDir, embDir, split: "test", outFile: diffFile });
          log(
            `difference embeddings: ${d.samples} test samples (${d.excluded.count} without a qualifying review)`,
          );
        }

        const llm = await Llm.load(modelPath, {
          threads: o.threads,
          contextSize: 2048,
          gradBackward: "f16",
          gradWeights: "f16",
        });
        // the gradient engine for training and the held-out loss, freed before generation
        let grads: OpenGradSource | null = null;
        const gradModel = async () => {
          if (!grads) {
            grads = await openGradSource(llm, gradSourceChoice(o), { threads: o.threads, path: modelPath });
            log(`LLM gradients: ${grads.model.gradSource}`);
          }
          return grads.model;
        };
        const closeGrads = async () => {
          await grads?.dispose();
          grads = null;
        };
        try {
          const runsDir = join(dir, "runs");
          const depRun = join(runsDir, "dep");
          const lastCkpt = join(depRun, "checkpoints", `epoch-${size.epochs}`);
          const common = { maxLength: size.maxLength, maxDescriptionChars: size.maxDescriptionChars };
          let trainSeconds = Number(readState(dir).trainSeconds ?? 0);
          if (!existsSync(lastCkpt)) {
            log(`training DEP on ${size.trainSamples} samples x ${size.epochs} epochs (TinyLlama frozen)`);
            const t = performance.now();
            const r = await train({
              llm: await gradModel(),
              dataDir,
              embDir,
              outDir: depRun,
              threads: o.threads,
              epochs: size.epochs,
              gradAccum: size.gradAccum,
              lr: size.lr,
              seed: o.seed,
              maxSamples: size.trainSamples,
              ...common,
              resume: existsSync(join(depRun, "run.json")),
              signal: shutdownSignal,
              onProgress: (p) =>
                log(
                  `  step ${p.microStep}/${p.totalMicroSteps} loss ${p.loss.toFixed(3)} (lm ${p.lossLm.toFixed(3)})`,
                ),
            });
            trainSeconds += (performance.now() - t) / 1000;
            await saveState(dir, { trainSeconds });
            if (r.interrupted) stop();
          }
          const ckpt = await loadModelCheckpoint(lastCkpt);
          const { config } = ckpt;
          const kernel = { threads: o.threads, backend: "auto" as const };
          const trained = modelOfCheckpoint(ckpt, kernel);

          const heldOutFile = join(dir, "heldout.json");
          if (!existsSync(heldOutFile)) {
            log(`held-out LM loss on ${size.testSamples} test users: trained / untrained / no soft rows`);
            const { data } = await loadTrainingSamples(dataDir, embDir, "test", {
              weighting: "reference",
              prompt: "reference",
              seed: o.seed,
              maxSamples: size.testSamples,
            });
            const untrained = modelOfCheckpoint(ckpt, kernel, runInitialParams(config, o.seed));
            const lossModel = await gradModel();
            const result: Record<string, number> = {};
            for (const [name, model] of [
              ["trained", trained],
              ["untrained", untrained],
              ["no-soft", null],
            ] as const) {
              result[name] = (
                await heldOutLoss({ llm: lossModel, model, samples: data, ...common, signal: shutdownSignal })
              ).tokenMean;
              stop();
              log(`  ${name}: ${result[name]!.toFixed(4)}`);
            }
            await writeFile(heldOutFile, `${JSON.stringify(result, null, 2)}\n`);
          }
          await closeGrads();
          const heldOut = JSON.parse(readFileSync(heldOutFile, "utf8")) as Record<string, number>;

          const runDirs: string[] = [];
          const scores: Record<string, { meteor: number; rougeL: number }> = {};
          for (const method of METHODS) {
            const runDir = method === "dep" ? depRun : join(runsDir, method);
            mkdirSync(runDir, { recursive: true });
            const preds = join(runDir, "preds.jsonl");
            log(`generating with ${method}`);
            await generatePredictions({
              llm,
              model: method === "dep" ? trained : null,
              method,
              dataDir,
              embDir,
              split: "test",
              outFile: preds,
              maxSamples: size.testSamples,
              maxTokens: size.maxTokens,
              seed: o.seed,
              parallel: size.testSamples,
              ...common,
              signal: shutdownSignal,
            });
            stop();
            const perSample = await evaluatePerSample(await readPredictions(preds), {}, preds);
            await writeJsonAtomic(join(runDir, "per-sample.json"), perSample);
            const report = perSample.corpus;
            await writeFile(
              join(runDir, "eval.json"),
              `${JSON.stringify({ ...report, method, category: "synthetic" })}\n`,
            );
            if (method !== "dep")
              await writeFile(
                join(runDir, "run.json"),
                `${JSON.stringify({ method, category: "synthetic" })}\n`,
              );
            scores[method] = { meteor: report.meteor.score, rougeL: report.rougeL.hf };
            runDirs.push(runDir);
          }
          log("explaining the SAE's units (dep explain)");
          const explainDir = join(dir, "explain");
          const explained = await explain({
            checkpoint: lastCkpt,
            dataDir,
            embDir,
            seed: o.seed,
            kernel,
          });
          await writeJsonAtomic(join(explainDir, "explain.json"), explained);
          const reportDir = join(dir, "report");
          const { files } = await writeReport(runDirs, reportDir, {
            html: true,
            dataDir,
            explain: explainDir,
            title: `dep demo (${o.size}, seed ${o.seed})`,
            overwrite: true,
          });
          const html = join(reportDir, "report.html");
          mkdirSync(join(reportDir, "predictions"), { recursive: true });
          for (const [i, m] of METHODS.entries())
            await copyFile(join(runDirs[i]!, "preds.jsonl"), join(reportDir, "predictions", `${m}.jsonl`));
          await writeFile(
            join(reportDir, "config.json"),
            `${JSON.stringify({ size: o.size, ...size, seed: o.seed, threads: o.threads, llm: modelPath, embedder: "use-lite", heldOut }, null, 2)}\n`,
          );
          const seconds = (performance.now() - t0) / 1000;
          const summary = [
            `DEP trained in ${trainSeconds.toFixed(0)} s; held-out LM loss: trained ${heldOut.trained!.toFixed(3)}, untrained ${heldOut.untrained!.toFixed(3)}, no soft rows ${heldOut["no-soft"]!.toFixed(3)}`,
            `METEOR / ROUGE-L on ${size.testSamples} test users: ${METHODS.map((m) => `${m} ${scores[m]!.meteor.toFixed(4)} / ${scores[m]!.rougeL.toFixed(4)}`).join(", ")}`,
            `report: ${reportDir} (table.md, methods.png, training.png, predictions/) — demo took ${seconds.toFixed(0)} s this run`,
            ...(explained.traits
              ? [
                  `SAE units vs the planted traits: mean held-out AUC of the best unit ${explained.traits.meanHeldOutAuc.toFixed(3)} (chance 0.5; ${explained.traits.users} users${explained.traits.users < 60 ? ", too few for a stable estimate" : ""})`,
                ]
              : []),
            `open ${html}`,
          ];
          if (o.json)
            console.log(
              JSON.stringify({
                dir,
                report: reportDir,
                html,
                explain: join(explainDir, "explain.json"),
                traits: explained.traits && {
                  users: explained.traits.users,
                  meanHeldOutAuc: explained.traits.meanHeldOutAuc,
                },
                files,
                heldOut,
                scores,
                seconds,
              }),
            );
          else console.log(summary.join("\n"));
        } finally {
          await closeGrads();
          await llm.dispose();
        }
      },
    );
}

function readState(dir: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(dir, "demo-state.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function saveState(dir: string, state: Record<string, unknown>): Promise<void> {
  await writeFile(join(dir, "demo-state.json"), `${JSON.stringify({ ...readState(dir), ...state })}\n`);
}
