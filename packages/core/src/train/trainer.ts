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
import {
  type DepDims,
  type DepParams,
  type InitScheme,
  initParams,
  initParamsReference,
  REFERENCE_INIT_STD,
} from "../model/params.js";
import type { DiffWeighting } from "../peers/diff.js";
import { buildDifferenceSamples, type DifferenceSamples } from "../peers/samples.js";
import {
  type ChatTemplateChoice,
  chatTemplateName,
  REFERENCE_CHAT_TEMPLATE,
} from "../prompt/chatTemplate.js";
import type { MarkerMode } from "../prompt/text.js";
import { Rng } from "../util/rng.js";
import { type ModelCheckpointConfig, markerTensors, saveModelCheckpoint } from "./checkpoint.js";
import { divergedError, firstNonFinite } from "./divergence.js";
import { AdamW, clipGradNorm, REFERENCE_ADAMW, scaleGrads, zeroGrads } from "./optimizer.js";
import { promptInputFor } from "./promptInput.js";
import { linearWarmupDecay } from "./schedule.js";
import { hasTrainerState, loadTrainerState, saveTrainerState, type TrainerState } from "./state.js";
import { runSample, type SaeRows, type SampleData, type TrainingLlm, targetTokens } from "./step.js";
import { architectureOf, type DepVariant, slotKindsOf } from "./variants.js";

export interface TrainOptions {
  dataDir: DataSource;
  embDir: string;
  /** the frozen LLM (loaded by the caller: `Llm.load(path, { threads })`, its gradients from `openGradSource`) */
  llm: TrainingLlm & { path?: string; gradSource?: string };
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
  /**
   * "reference" (default): the prompt shows the k newest reviews while soft slot i holds the i-th
   * qualifying review (the reference's quirk); "aligned": each slot pair labelled with its own review.
   */
  prompt?: PromptAlignment;
  /** default reference: see prompt/chatTemplate.ts */
  chatTemplate?: ChatTemplateChoice;
  /** "rows" (default, the reference's added tokens: one frozen random row each) or "text" */
  markers?: MarkerMode;
  /** "reference" (default): N(0, 0.02) weights and zero biases; "torch": nn.Linear's default */
  init?: InitScheme;
  /** clip the accumulated gradient to this global L2 norm (reference 1.0; 0: off) */
  maxGradNorm?: number;
  /** weight-decay the biases too (default false: HF Trainer's decay groups) */
  decayBiases?: boolean;
  /** how the accumulated gradient weighs its samples; see LossScaling */
  lossScaling?: LossScaling;
  /** which X rows the SAE loss sees (default all; see runSample) */
  saeRows?: SaeRows;
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
    prompt: o.prompt ?? ("reference" as PromptAlignment),
    chatTemplate: chatTemplateName(o.chatTemplate ?? REFERENCE_CHAT_TEMPLATE),
    markers: o.markers ?? ("rows" as MarkerMode),
    init: o.init ?? ("reference" as InitScheme),
    maxGradNorm: o.maxGradNorm ?? 1,
    decayBiases: o.decayBiases ?? false,
    lossScaling: o.lossScaling ?? ("reference" as LossScaling),
    saeRows: o.saeRows ?? ("all" as SaeRows),
    maxSamples: o.maxSamples ?? null,
    variant: o.variant ?? ("dep" as DepVariant),
    threads: o.threads,
  };
}

/**
 * How one optimizer update weighs the samples of its accumulation window W (issue 14, row 4).
 *
 * "reference" (default) is what the reference's training actually optimizes (transformers 4.51.3 +
 * DeepSpeed ZeRO-1, one GPU): DEPModel.forward takes **kwargs, so Trainer.__init__ sets
 * `model_accepts_loss_kwargs` (trainer.py: any VAR_KEYWORD parameter in the forward signature);
 * Trainer.get_batch_samples counts `num_items_in_batch` = the target tokens (labels != -100) of the whole
 * window; compute_loss passes it to forward, whose `self.loss_function` (loss/loss_utils.py,
 * ForCausalLMLoss -> fixed_cross_entropy) sums the token CE and divides by it; training_step then skips
 * `loss / gradient_accumulation_steps` (model_accepts_loss_kwargs) and sets `scale_wrt_gas = False` for
 * DeepSpeed (PR 35808), so DeepSpeedEngine.backward does not divide by the accumulation steps either. The
 * SAE term `(recon + 1e-3 * kl) * 100` is added per micro-batch and is never divided. Per window:
 *   L_W = sum_i sum_t CE_it / sum_i n_i  +  sum_i SAE_i,
 * i.e. a token-weighted mean of the LM loss and the *sum* of the SAE terms (16x heavier than under a mean).
 * (With several GPUs each rank does this on its own window and DeepSpeed averages the gradients.)
 *
 * "mean": (1 / accumulation) * sum_i (CE_mean_i + SAE_i), the per-sample mean (this project's earlier rule).
 */
export type LossScaling = "reference" | "mean";

/**
 * How one sample enters the accumulated gradient: its LM gradient is multiplied by `lmWeight` as it is
 * accumulated, and the whole window's gradient by `gradScale` before clipping. `nTokens`: the sample's
 * target tokens (EOS included), `windowTokens`: those of every sample in its window.
 */
export function lossWeights(
  mode: LossScaling,
  nTokens: number,
  windowTokens: number,
  gradAccum: number,
): { lmWeight: number; gradScale: number } {
  return mode === "reference"
    ? { lmWeight: nTokens / windowTokens, gradScale: 1 }
    : { lmWeight: 1, gradScale: 1 / gradAccum };
}

export type PromptAlignment = "reference" | "aligned";

/**
 * The parameters a run starts from, drawn from the run's seed (its "init" stream): the reference's
 * N(0, 0.02) / zero biases by default, or nn.Linear's default (`torch`; what runs before issue 14 used).
 */
export function runInitialParams(dims: DepDims, seed: number, init: InitScheme = "reference"): DepParams {
  const rng = new Rng(seed).fork("init");
  return init === "torch"
    ? initParams(dims, () => rng.float())
    : initParamsReference(dims, () => rng.normal());
}

/**
 * The 4 marker rows of a run with --markers rows: the reference adds its markers as new tokens and resizes
 * the embeddings with `mean_resizing=False`, so new rows get `_init_weights`: N(0, initializer_range = 0.02)
 * (transformers 4.51.3 modeling_utils.py, PreTrainedModel._get_resized_embeddings). They are never trained.
 * (For Qwen2.5-7B, whose embedding matrix is padded past its tokenizer, the resize shrinks instead and the
 * rows are the pretrained padding rows; `dep import-reference` brings the released model's own.)
 */
export function initialMarkerRows(H: number, seed: number): Float32Array {
  const rng = new Rng(seed).fork("markers");
  return Float32Array.from({ length: 4 * H }, () => rng.normal() * REFERENCE_INIT_STD);
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
    prompt: PromptAlignment;
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
    referencePromptAlignment: o.prompt === "reference",
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
    runInitialParams(dims, s.seed, s.init),
    kernel,
  );
  if (s.markers === "rows") model.markerRows = initialMarkerRows(dims.H, s.seed);
  const optimizer = new AdamW(
    { ...REFERENCE_ADAMW, lr: s.lr, weightDecay: s.weightDecay, decayBiases: s.decayBiases },
    dims,
    kernel,
  );
  const chatTemplate = o.chatTemplate ?? REFERENCE_CHAT_TEMPLATE;
  // reference loss scaling: the target tokens of the current accumulation window (see LossScaling)
  let window = { start: -1, epoch: -1, tokens: 0 };
  const windowTokens = (order: Int32Array, start: number): number => {
    if (window.start !== start || window.epoch !== pos.epoch) {
      let tokens = 0;
      for (let q = start; q < Math.min(start + s.gradAccum, data.length); q++)
        tokens += targetTokens(llm, data[order[q]!]!.targetText).length;
      window = { start, epoch: pos.epoch, tokens };
    }
    return window.tokens;
  };
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
    `${JSON.stringify({ method: s.variant, dataDir: o.dataDir, embDir: o.embDir, model: llm.path ?? null, gradSource: llm.gradSource ?? null, settings: s, configHash }, null, 2)}\n`,
  );

  const pos = state.position;
  const epochCheckpoints: string[] = [];
  let finalLoss: number | null = null;
  let interrupted = false;
  const stopAt = o.maxSteps ?? Number.POSITIVE_INFINITY;
  // what is on disk, for the message should the run diverge (see divergence.ts)
  let savedUpdate: number | null = resuming ? pos.optimizerStep : null;
  const save = async () => {
    await saveTrainerState(runDir, state, dims);
    savedUpdate = pos.optimizerStep;
  };
  const diverged = (what: string) => {
    const last = join(runDir, "checkpoints", `epoch-${pos.epoch}`);
    const checkpoint = epochCheckpoints.at(-1) ?? (pos.epoch > 0 && existsSync(last) ? last : null);
    const at = { epoch: pos.epoch + 1, microStep: pos.microStep, update: pos.optimizerStep + 1 };
    return divergedError(what, { runDir, ...at, checkpoint, savedUpdate });
  };

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
      const { lmWeight } = lossWeights(
        s.lossScaling,
        targetTokens(llm, sample.targetText).length,
        s.lossScaling === "reference" ? windowTokens(order, pos.position - pos.accumulated) : 1,
        s.gradAccum,
      );
      const r = await runSample(llm, model, sample, {
        maxLength: s.maxLength,
        ...(s.maxDescriptionChars !== null ? { maxDescriptionChars: s.maxDescriptionChars } : {}),
        grads,
        slotKinds: slotKindsOf(s.variant),
        saeRows: s.saeRows,
        markers: s.markers,
        chatTemplate,
        lmWeight,
      }).catch((err: DepError) => {
        // a sample whose prompt cannot fit even with one history review is skipped, and logged
        if (err.code === "DEP_PROMPT_TOO_LONG") return err;
        throw err;
      });
      const seconds = (performance.now() - t0) / 1000;
      pos.position++;
      pos.microStep++;
      if (r instanceof DepError) firstSkip ??= r.message;
      else if (!Number.isFinite(r.lossLm + r.saeLoss))
        throw diverged(`the loss is ${r.lossLm + r.saeLoss} (LM ${r.lossLm}, SAE ${r.saeLoss})`);
      else ran++;
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
              grad_norm: null as number | null,
            };
      const endOfEpoch = pos.position === data.length;
      if (pos.accumulated === s.gradAccum || endOfEpoch) {
        const tOpt = performance.now();
        scaleGrads(grads, lossWeights(s.lossScaling, 1, 1, s.gradAccum).gradScale);
        const gradNorm = clipGradNorm(grads, s.maxGradNorm);
        if (!Number.isFinite(gradNorm)) throw diverged(`the gradient norm is ${gradNorm}`);
        optimizer.update(model.params, grads, lr);
        const bad = firstNonFinite(model.params);
        if (bad) throw diverged(`weight ${bad.name}[${bad.index}] is ${bad.value} after the update`);
        zeroGrads(grads);
        if ("seconds_optimizer" in row) {
          row.seconds_optimizer = (performance.now() - tOpt) / 1000;
          row.grad_norm = gradNorm;
        }
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
    await saveModelCheckpoint(
      dir,
      model.params,
      { ...ckptBase, epoch: pos.epoch + 1, optimizerStep: pos.optimizerStep },
      markerTensors(model.markerRows),
    );
    epochCheckpoints.push(dir);
    pos.epoch++;
    pos.position = 0;
    await save();
  }
  if (!interrupted) await assertTrainedOn();
  if (interrupted || pos.optimizerStep >= stopAt) await save();
  if (pos.optimizerStep >= stopAt && !interrupted) {
    const dir = join(runDir, "checkpoints", "last");
    await saveModelCheckpoint(
      dir,
      model.params,
      { ...ckptBase, epoch: null, optimizerStep: pos.optimizerStep },
      markerTensors(model.markerRows),
    );
  }
  return { runDir, epochCheckpoints, optimizerSteps: pos.optimizerStep, interrupted, finalLoss };
}
