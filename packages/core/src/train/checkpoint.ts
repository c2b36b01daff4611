// Checkpoints: the reference implementation's tensor names and PyTorch layouts (so weights move both ways),
// a JSON config beside them, and for resuming the optimizer state and the trainer's position. Every
// checkpoint folder is written under a temporary name and renamed into place, so a kill at any moment
// leaves either the old or the new checkpoint, never a half-written one.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { z } from "zod";
import { writeDirAtomic } from "../io/atomic.js";
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.js";
import {
  type DepDims,
  type DepParams,
  fromTorchTensors,
  paramList,
  paramSlots,
  toTorchTensors,
} from "../model/params.js";
import { architectureOf, DEP_VARIANTS, type DepVariant, variantOf } from "./variants.js";

export interface ModelCheckpointConfig extends DepDims {
  format: "dep-checkpoint/1";
  linearOutput: boolean;
  /** the frozen LLM these projectors target */
  llm: { file: string; sha256: string | null; nEmbd: number };
  embedder: string | null;
  hyperparameters: Record<string, unknown>;
  epoch: number | null;
  optimizerStep: number;
}

/** The method a checkpoint was trained as (its run's --variant; "dep" for checkpoints from elsewhere). */
export function checkpointVariant(config: ModelCheckpointConfig): DepVariant {
  const v = config.hyperparameters.variant;
  if (typeof v === "string" && (DEP_VARIANTS as readonly string[]).includes(v)) return v as DepVariant;
  return variantOf(config.architecture ?? "dep");
}

const MODEL_FILE = "model.safetensors";
const CONFIG_FILE = "config.json";

export async function saveModelCheckpoint(
  dir: string,
  params: DepParams,
  config: ModelCheckpointConfig,
): Promise<void> {
  await writeDirAtomic(
    dir,
    async (tmp) => {
      const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
      for (const [name, t] of Object.entries(toTorchTensors(params, config)))
        tensors[name] = { dtype: "F32", ...t };
      await writeSafetensors(join(tmp, MODEL_FILE), tensors, { format: "pt", producer: "dep" });
      await writeFile(join(tmp, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    },
    { overwrite: true },
  );
}

export function readCheckpointConfig(dir: string): ModelCheckpointConfig {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${dir} is not a dep checkpoint (no ${CONFIG_FILE}); pass a checkpoint folder`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new DepError("DEP_CHECKPOINT", `${path}: not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  const parsed = checkpointConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "(top level)";
    throw new DepError(
      "DEP_CHECKPOINT",
      `${path}: field ${field}: ${issue.message}; this is not a config.json that dep train writes (restore it from the run)`,
    );
  }
  const config = parsed.data as ModelCheckpointConfig;
  const variant = config.hyperparameters.variant;
  if (
    typeof variant === "string" &&
    architectureOf(variant as DepVariant) !== (config.architecture ?? "dep")
  ) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${path}: hyperparameters.variant ${variant} does not use architecture ${config.architecture}; the config is inconsistent`,
    );
  }
  if (config.llm.nEmbd !== config.H)
    throw new DepError("DEP_CHECKPOINT", `${path}: llm.nEmbd ${config.llm.nEmbd} differs from H ${config.H}`);
  return config;
}

const positive = z
  .number()
  .int()
  .positive()
  .max(1 << 24);
/** What `dep train` writes (ModelCheckpointConfig); unknown formats, architectures and variants are errors. */
const checkpointConfigSchema = z
  .object({
    format: z.literal("dep-checkpoint/1", { error: 'expected "dep-checkpoint/1" (a newer dep wrote it?)' }),
    d: positive,
    h: positive,
    H: positive,
    architecture: z.enum(["dep", "no-sae", "pplug"]).optional(),
    linearOutput: z.boolean(),
    llm: z.object({
      file: z.string(),
      sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/, "expected 64 hex digits")
        .nullable(),
      nEmbd: positive,
    }),
    embedder: z.string().nullable(),
    hyperparameters: z.looseObject({
      variant: z.enum(DEP_VARIANTS as [DepVariant, ...DepVariant[]]).optional(),
    }),
    epoch: z.number().int().nonnegative().nullable(),
    optimizerStep: z.number().int().nonnegative(),
  })
  .loose();

/** Reads the parameters of a checkpoint folder (or of a bare reference safetensors file, given its dims). */
export async function loadModelCheckpoint(
  dir: string,
): Promise<{ config: ModelCheckpointConfig; params: DepParams }> {
  const config = readCheckpointConfig(dir);
  const path = join(dir, MODEL_FILE);
  const params = await loadReferenceWeights(path, config);
  assertFinite(params, config, path);
  return { config, params };
}

export async function loadReferenceWeights(path: string, dims: DepDims): Promise<DepParams> {
  if (!existsSync(path)) throw new DepError("DEP_CHECKPOINT", `${path} is missing`);
  let file: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    file = await readSafetensors(path, { names: paramSlots(dims).map((s) => s.name) });
  } catch (err) {
    const e = err as DepError;
    throw new DepError("DEP_CHECKPOINT", `${path}: ${e.message}`, { cause: err });
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of file.tensors) tensors.set(name, { shape: t.shape, data: toFloat32(t) });
  return fromTorchTensors(tensors, dims, path);
}

/** Optimizer moments under `m.<name>` / `v.<name>` in the same layout as the weights. */
export async function saveOptimizerState(
  path: string,
  m: DepParams,
  v: DepParams,
  dims: DepDims,
): Promise<void> {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [prefix, p] of [["m", m] as const, ["v", v] as const]) {
    for (const [name, t] of Object.entries(toTorchTensors(p, dims)))
      tensors[`${prefix}.${name}`] = { dtype: "F32", ...t };
  }
  await writeSafetensors(path, tensors);
}

export async function loadOptimizerState(
  path: string,
  m: DepParams,
  v: DepParams,
  dims: DepDims,
): Promise<void> {
  const file = await readSafetensors(path);
  for (const [prefix, p] of [["m", m] as const, ["v", v] as const]) {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const slot of paramSlots(dims)) {
      const t = file.tensors.get(`${prefix}.${slot.name}`);
      if (!t)
        throw new DepError("DEP_CHECKPOINT", `${path}: optimizer tensor ${prefix}.${slot.name} is missing`);
      tensors.set(slot.name, { shape: t.shape, data: toFloat32(t) });
    }
    const loaded = fromTorchTensors(tensors, dims, path);
    const dst = paramList(p);
    paramList(loaded).forEach((src, i) => {
      dst[i]!.set(src);
    });
  }
}

/** NaN or infinite saved tensors (a corrupt file, a diverged run) would silently give NaN losses and texts. */
export function assertFinite(
  p: DepParams,
  dims: DepDims,
  file: string,
  prefix = "",
  nonNegative = false,
): void {
  for (const slot of paramSlots(dims)) {
    const arr = slot.get(p);
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i]!;
      if (!Number.isFinite(x) || (nonNegative && x < 0)) {
        throw new DepError(
          "DEP_CHECKPOINT",
          `${file}: tensor ${prefix}${slot.name} holds ${x} at index ${i}; the file is corrupt (or training diverged): restore it, or use another checkpoint`,
        );
      }
    }
  }
}
