// `dep train` (SPEC §6): batch 1 with gradient accumulation, AdamW with linear warm-up/decay, a checkpoint
// per epoch (reference tensor names), a resumable state every --save-every updates, at epoch ends and on
// interruption, and a metrics.jsonl line per step.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { appendFile, mkdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { DepError, type KernelBackend } from "@dep/native-cuda";
import { modelFileSha256 } from "../assets.js";
import { loadDataset } from "../data/load.js";
import { type DataSource, dataSourceOptions, describeDataSource } from "../data/source.js";
import { type Dataset, type DplRow, itemKey } from "../data/types.js";
import { itemText } from "../embed/embedDataset.js";
import { EmbeddingStore, textKey } from "../embed/store.js";
import { DepModel } from "../model/DepModel.js";
import { type DepDims, type DepParams, initParams } from "../model/params.js";
import type { DiffWeighting } from "../peers/diff.js";
import { buildDifferenceSamples, type DifferenceSamples } from "../peers/samples.js";
import { Rng } from "../util/rng.js";
import { type ModelCheckpointConfig, saveModelCheckpoint } from "./checkpoint.js";
import { AdamW, REFERENCE_ADAMW, zeroGrads } from "./optimizer.js";
import { promptInputFor } from "./promptInput.js";
import { linearWarmupDecay } from "./schedule.js";
import { hasTrainerState, loadTrainerState, saveTrainerState, type TrainerState } from "./state.js";
import { runSample, type SampleData, type TrainingLlm } from "./step.js";
import { architectureOf, type DepVariant, slotKindsOf } from "./variants.js";

export interface TrainOptions {
  dataDir: DataSource;
  embDir: string;
  /** the frozen LLM (loaded by the caller: `Llm.load(path, { threads })`) */
  llm: TrainingLlm & { path?: string };
  outDir: string;
  threads: number;
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  warmupRatio?: number;
  gradAccum?: number;
  seed?: number;
  /** stop after this many optimizer updates (the schedule still spans the full run) */
  maxSteps?: number;
  /** write the resumable state every N optimizer updates (0: only at epoch ends and on interruption) */
  saveEvery?: number;
  maxLength?: number;
  /** cut item descriptions in prompts to this many characters (default: whole) */
  maxDescriptionChars?: number;
  /** SAE width (reference 512) */
  h?: number;
  linearOutput?: boolean;
  weighting?: DiffWeighting;
  referencePromptAlignment?: boolean;
  /** "dep" (his + diff slots), or the ablations "his-only" / "diff-only" */
  variant?: DepVariant;
  /** use at most this many training samples (quick experiments) */
  maxSamples?: number;
  kernelBackend?: KernelBackend;
  resume?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  microStep: number;
  totalMicroSteps: number;
  optimizerStep: number;
  loss: number;
  lossLm: number;
  saeLoss: number;
  lr: number;
  tokensPerSecond: number;
}

export interface TrainResult {
  runDir: string;
  epochCheckpoints: string[];
  optimizerSteps: number;
  interrupted: boolean;
  finalLoss: number | null;
}

/** The settings that define a run (hashed so that --resume with different settings is refused). */
function resolveSettings(o: TrainOptions) {
  return {
    epochs: o.epochs ?? 5,
    lr: o.lr ?? REFERENCE_ADAMW.lr,
    weightDecay: o.weightDecay ?? REFERENCE_ADAMW.weightDecay,
    warmupRatio: o.warmupRatio ?? 0.01,
    gradAccum: o.gradAccum ?? 16,
    seed: o.seed ?? 42,
    maxLength: o.maxLength ?? 3072,
    maxDescriptionChars: o.maxDescriptionChars ?? null,
    h: o.h ?? 512,
    linearOutput: o.linearOutput ?? false,
    weighting: o.weighting ?? ("reference" as DiffWeighting),
    referencePromptAlignment: o.referencePromptAlignment ?? false,
    maxSamples: o.maxSamples ?? null,
    variant: o.variant ?? ("dep" as DepVariant),
    threads: o.threads,
  };
}

/** The parameters a run starts from: PyTorch-default initialisation from the run's seed (its "init" stream). */
export function runInitialParams(dims: DepDims, seed: number): DepParams {
  const rng = new Rng(seed).fork("init");
  return initParams(dims, () => rng.float());
}

/** Sample order of an epoch: a seeded permutation, derived from (seed, epoch) so resuming needs no RNG state. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed).fork(`epoch-${epoch}`);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export async function loadTrainingSamples(
  dataDir: DataSource,
  embDir: string,
  split: "train" | "val" | "test",
  o: {
    weighting: DiffWeighting;
    referencePromptAlignment: boolean;
    seed: number;
    maxSamples?: number | null;
    /** attach each sample's query (its target item's embedded `itemText`): the pplug-style method's input */
    itemQueries?: boolean;
  },
): Promise<{ dataset: Dataset; rows: DplRow[]; samples: DifferenceSamples; data: SampleData[] }> {
  const dataset = await loadDataset({
    ...dataSourceOptions(dataDir),
    splits: split === "test" ? ["test"] : [split, "test"],
  });
  const samples = await buildDifferenceSamples({
    dataset,
    dataDir, // for messages
    embDir,
    split,
    weighting: o.weighting,
    referencePromptAlignment: o.referencePromptAlignment,
    subset: "dep",
    seed: o.seed,
  });
  const rows = dataset.rows.filter((r) => r.split === split);
  const n = o.maxSamples ? Math.min(o.maxSamples, samples.samples.length) : samples.samples.length;
  const kept = samples.samples.slice(0, n);
  const queries = o.itemQueries
    ? await itemQueries(
        dataset,
        kept.map((info) => rows[info.row]!),
        embDir,
      )
    : null;
  const data: SampleData[] = kept.map((info, index) => {
    const row = rows[info.row]!;
    return {
      x: samples.x,
      index,
      k: info.k,
      input: promptInputFor(dataset, row, info),
      targetText: row.data.text,
      ...(queries ? { query: queries.subarray(index * samples.dim, (index + 1) * samples.dim) } : {}),
    };
  });
  return { dataset, rows, samples, data };
}

/** The embedded `itemText` of each row's target item, [n, d], from the store (dep embed --items). */
async function itemQueries(dataset: Dataset, rows: readonly DplRow[], embDir: string): Promise<Float32Array> {
  const store = await EmbeddingStore.open(embDir);
  const texts = rows.map((row) => {
    const item = dataset.items.get(itemKey(row.category, row.data.asin));
    if (!item)
      throw new DepError(
        "DEP_INPUT_MISSING_ITEM",
        `item ${row.data.asin} (${row.category}) is not in the item metadata`,
      );
    return itemText(item);
  });
  const keys = texts.map(textKey);
  const missing = keys.findIndex((key) => !store.has(key));
  if (missing >= 0) {
    throw new DepError(
      "DEP_EMBED_MISSING",
      `${embDir} has no embedding of item ${rows[missing]!.data.asin}'s text: the pplug-style method embeds the target item; run \`dep embed --items\` with the same embedder`,
    );
  }
  return store.gather(keys);
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const s = resolveSettings(o);
  const runDir = o.outDir;
  const configHash = createHash("sha256").update(JSON.stringify(s)).digest("hex").slice(0, 16);
  const resuming = o.resume === true && (await hasTrainerState(runDir));
  if (!o.resume && existsSync(join(runDir, "run.json"))) {
    throw new DepError(
      "DEP_USAGE",
      `${runDir} already holds a run: pass --resume to continue it, or choose another --out`,
    );
  }
  const { data, samples } = await loadTrainingSamples(o.dataDir, o.embDir, "train", {
    ...s,
    itemQueries: s.variant === "pplug-style",
  });
  if (data.length === 0)
    throw new DepError(
      "DEP_INPUT",
      `${describeDataSource(o.dataDir)}: no training sample has a qualifying review`,
    );
  await mkdir(runDir, { recursive: true }); // only once the inputs are valid: bad input leaves no folder

  const llm = o.llm;
  const dims: DepDims = {
    d: samples.dim,
    h: s.h,
    H: llm.info.nEmbd,
    architecture: architectureOf(s.variant),
  };
  const kernel = { backend: o.kernelBackend ?? "cpu", threads: o.threads } as const;
  const model = new DepModel(
    { ...dims, linearOutput: s.linearOutput },
    runInitialParams(dims, s.seed),
    kernel,
  );
  const optimizer = new AdamW({ ...REFERENCE_ADAMW, lr: s.lr, weightDecay: s.weightDecay }, dims, kernel);
  const grads = model.zeroGrads();
  const updatesPerEpoch = Math.ceil(data.length / s.gradAccum);
  const schedule = linearWarmupDecay(s.lr, updatesPerEpoch * s.epochs, s.warmupRatio);
  const metricsPath = join(runDir, "metrics.jsonl");
  const state: TrainerState = {
    position: {
      epoch: 0,
      position: 0,
      microStep: 0,
      optimizerStep: 0,
      accumulated: 0,
      metricsLines: 0,
      configHash,
    },
    params: model.params,
    m: optimizer.m,
    v: optimizer.v,
    grads,
  };
  if (resuming) {
    const pos = await loadTrainerState(runDir, state, dims);
    if (pos.configHash !== configHash) {
      throw new DepError(
        "DEP_USAGE",
        `${runDir} was started with other settings (config hash ${pos.configHash}, now ${configHash}); resume with the same options`,
      );
    }
    const stateFile = join(runDir, "state", "trainer_state.json");
    if (pos.epoch > s.epochs || pos.position > data.length || pos.accumulated >= s.gradAccum)
      throw new DepError(
        "DEP_CHECKPOINT",
        `${stateFile}: epoch ${pos.epoch}, position ${pos.position}, accumulated ${pos.accumulated} do not fit this run ` +
          `(${s.epochs} epochs of ${data.length} samples, ${s.gradAccum} per update); the state is corrupt: restore it, or start the run again`,
      );
    optimizer.step = pos.optimizerStep;
    // drop log lines written after the saved state; the lines it includes must be whole
    const lines = existsSync(metricsPath)
      ? readFileSync(metricsPath, "utf8").split("\n").filter(Boolean)
      : [];
    if (lines.length < pos.metricsLines)
      throw new DepError(
        "DEP_CHECKPOINT",
        `${metricsPath} has ${lines.length} lines but the saved state includes ${pos.metricsLines}; restore the log, or start the run again`,
      );
    lines.slice(0, pos.metricsLines).forEach((line, i) => {
      try {
        JSON.parse(line);
      } catch {
        throw new DepError(
          "DEP_CHECKPOINT",
          `${metricsPath}:${i + 1} is torn (not valid JSON) but the saved state includes it; restore the log, or start the run again`,
        );
      }
    });
    writeFileSync(
      metricsPath,
      lines
        .slice(0, pos.metricsLines)
        .map((l) => `${l}\n`)
        .join(""),
    );
  } else {
    writeFileSync(metricsPath, "");
  }
  const ckptBase: Omit<ModelCheckpointConfig, "epoch" | "optimizerStep"> = {
    format: "dep-checkpoint/1",
    ...dims,
    linearOutput: s.linearOutput,
    // which frozen LLM the projectors were trained for (its sha256 is streamed once per run start)
    llm: {
      file: basename(llm.path ?? "unknown"),
      sha256: llm.path && existsSync(llm.path) ? await modelFileSha256(llm.path) : null,
      nEmbd: dims.H,
    },
    embedder: samples.plan.embedder,
    hyperparameters: {
      ...s,
      beta1: REFERENCE_ADAMW.beta1,
      beta2: REFERENCE_ADAMW.beta2,
      eps: REFERENCE_ADAMW.eps,
    },
  };
  writeFileSync(
    join(runDir, "run.json"),
    `${JSON.stringify({ method: s.variant, dataDir: o.dataDir, embDir: o.embDir, model: llm.path ?? null, settings: s, configHash }, null, 2)}\n`,
  );

  const pos = state.position;
  const epochCheckpoints: string[] = [];
  let finalLoss: number | null = null;
  let interrupted = false;
  const stopAt = o.maxSteps ?? Number.POSITIVE_INFINITY;
  const save = () => saveTrainerState(runDir, state, dims);

  // samples this process trained on, and the first reason one was skipped: a fresh run where none fits would
  // only apply weight decay, and save that as its checkpoints
  let ran = 0;
  let firstSkip: string | null = null;
  const assertTrainedOn = async () => {
    if (resuming || ran > 0 || firstSkip === null) return;
    await rm(runDir, { recursive: true, force: true });
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      `all ${pos.microStep} training samples run so far were skipped (${firstSkip}); raise --max-length or shorten the prompts (--max-description-chars)`,
    );
  };
  outer: while (pos.epoch < s.epochs) {
    const order = epochOrder(data.length, s.seed, pos.epoch);
    while (pos.position < data.length) {
      if (pos.optimizerStep >= stopAt) break outer;
      if (o.signal?.aborted) {
        interrupted = true;
        break outer;
      }
      const sample = data[order[pos.position]!]!;
      const t0 = performance.now();
      const r = await runSample(llm, model, sample, {
        maxLength: s.maxLength,
        ...(s.maxDescriptionChars !== null ? { maxDescriptionChars: s.maxDescriptionChars } : {}),
        grads,
        slotKinds: slotKindsOf(s.variant),
      }).catch((err: DepError) => {
        // a sample whose prompt cannot fit even with one history review is skipped, and logged
        if (err.code === "DEP_PROMPT_TOO_LONG") return err;
        throw err;
      });
      const seconds = (performance.now() - t0) / 1000;
      if (r instanceof DepError) firstSkip ??= r.message;
      else ran++;
      pos.position++;
      pos.microStep++;
      pos.accumulated++;
      const lr = schedule.lr(pos.optimizerStep);
      const row =
        r instanceof DepError
          ? { step: pos.microStep, epoch: pos.epoch + 1, update: pos.optimizerStep, skipped: r.message }
          : {
              step: pos.microStep,
              epoch: pos.epoch + 1,
              update: pos.optimizerStep,
              loss: r.lossLm + r.saeLoss,
              loss_lm: r.lossLm,
              loss_sae: r.saeLoss,
              loss_recon: r.recon,
              loss_kl: r.kl,
              k: r.k,
              prompt_tokens: r.prompt.nPositions,
              target_tokens: r.targetIds.length,
              lr,
              seconds,
              seconds_kernels: r.seconds.kernels,
              seconds_llm: r.seconds.llm,
              seconds_glue: r.seconds.glue,
              seconds_optimizer: 0,
            };
      const endOfEpoch = pos.position === data.length;
      if (pos.accumulated === s.gradAccum || endOfEpoch) {
        const tOpt = performance.now();
        optimizer.update(model.params, grads, lr, 1 / s.gradAccum);
        zeroGrads(grads);
        if ("seconds_optimizer" in row) row.seconds_optimizer = (performance.now() - tOpt) / 1000;
        pos.accumulated = 0;
        pos.optimizerStep++;
      }
      await appendFile(metricsPath, `${JSON.stringify(row)}\n`);
      pos.metricsLines++;
      if (pos.accumulated === 0 && o.saveEvery && pos.optimizerStep % o.saveEvery === 0 && !endOfEpoch)
        await save();
      if (r instanceof DepError) continue;
      finalLoss = r.lossLm + r.saeLoss;
      o.onProgress?.({
        epoch: pos.epoch + 1,
        epochs: s.epochs,
        microStep: pos.microStep,
        totalMicroSteps: data.length * s.epochs,
        optimizerStep: pos.optimizerStep,
        loss: finalLoss,
        lossLm: r.lossLm,
        saeLoss: r.saeLoss,
        lr,
        tokensPerSecond: (r.prompt.nPositions + r.targetIds.length) / seconds,
      });
    }
    // epoch end: a selectable checkpoint, then the resumable state pointing at the next epoch
    await assertTrainedOn();
    const dir = join(runDir, "checkpoints", `epoch-${pos.epoch + 1}`);
    await saveModelCheckpoint(dir, model.params, {
      ...ckptBase,
      epoch: pos.epoch + 1,
      optimizerStep: pos.optimizerStep,
    });
    epochCheckpoints.push(dir);
    pos.epoch++;
    pos.position = 0;
    await save();
  }
  if (!interrupted) await assertTrainedOn();
  if (interrupted || pos.optimizerStep >= stopAt) await save();
  if (pos.optimizerStep >= stopAt && !interrupted) {
    const dir = join(runDir, "checkpoints", "last");
    await saveModelCheckpoint(dir, model.params, {
      ...ckptBase,
      epoch: null,
      optimizerStep: pos.optimizerStep,
    });
  }
  return { runDir, epochCheckpoints, optimizerSteps: pos.optimizerStep, interrupted, finalLoss };
}
