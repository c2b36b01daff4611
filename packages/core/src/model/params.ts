// DEP's trainable parameters (SPEC §4): the SAE and the two projector MLPs, F32, in the kernels' [in, out]
// layout, plus their initialisation (the reference's, or PyTorch's default) and the reference checkpoint names.
import {
  DepError,
  linearFromTorch,
  linearToTorch,
  type ProjWeights,
  type SaeWeights,
} from "@dep/native-cuda";

export interface DepDims {
  /** sentence-embedding width (reference 1024) */
  d: number;
  /** SAE width (reference 512) */
  h: number;
  /** the LLM's input-embedding width */
  H: number;
  /**
   * dep (default): SAE + his/diff projectors from the SAE code; no-sae: the two projectors straight from X;
   * pplug: one projector (`align_mlp_his`) from an input-aware weighted mean of the his rows.
   */
  architecture?: Architecture;
}

export type Architecture = "dep" | "no-sae" | "pplug";

/** Input width of the projectors: the SAE code, or the sentence embedding itself without an SAE. */
export function projectorInput(dims: DepDims): number {
  return (dims.architecture ?? "dep") === "dep" ? dims.h : dims.d;
}

export interface DepParams {
  sae: SaeWeights;
  his: ProjWeights;
  diff: ProjWeights;
}

/** Every parameter tensor with its reference (PyTorch) name, shape and layout, in a fixed order. */
interface ParamSlot {
  name: string;
  /** PyTorch shape ([out, in] for weights) */
  torchShape: (d: DepDims) => number[];
  get: (p: DepParams) => Float32Array;
  /** weight stored [in, out] here, [out, in] in PyTorch: (nIn, nOut) */
  linear?: (d: DepDims) => [number, number];
}

const proj = (key: "his" | "diff"): ParamSlot[] => [
  {
    name: `align_mlp_${key}.0.weight`,
    torchShape: (d) => [d.H, projectorInput(d)],
    get: (p) => p[key].A1,
    linear: (d) => [projectorInput(d), d.H],
  },
  { name: `align_mlp_${key}.0.bias`, torchShape: (d) => [d.H], get: (p) => p[key].c1 },
  {
    name: `align_mlp_${key}.2.weight`,
    torchShape: (d) => [d.H, d.H],
    get: (p) => p[key].A2,
    linear: (d) => [d.H, d.H],
  },
  { name: `align_mlp_${key}.2.bias`, torchShape: (d) => [d.H], get: (p) => p[key].c2 },
];

export const PARAM_SLOTS: readonly ParamSlot[] = [
  {
    name: "sae.encoder.0.weight",
    torchShape: (d) => [d.h, d.d],
    get: (p) => p.sae.W1,
    linear: (d) => [d.d, d.h],
  },
  { name: "sae.encoder.0.bias", torchShape: (d) => [d.h], get: (p) => p.sae.b1 },
  {
    name: "sae.decoder.0.weight",
    torchShape: (d) => [d.d, d.h],
    get: (p) => p.sae.W2,
    linear: (d) => [d.h, d.d],
  },
  { name: "sae.decoder.0.bias", torchShape: (d) => [d.d], get: (p) => p.sae.b2 },
  ...proj("his"),
  ...proj("diff"),
];

/** The parameter tensors an architecture has (PARAM_SLOTS minus the SAE and/or the diff projector). */
export function paramSlots(dims: DepDims): readonly ParamSlot[] {
  const arch = dims.architecture ?? "dep";
  return PARAM_SLOTS.filter(
    (s) =>
      (arch === "dep" || !s.name.startsWith("sae.")) &&
      (arch !== "pplug" || !s.name.startsWith("align_mlp_diff.")),
  );
}

/** Zero parameters; tensors the architecture lacks are empty arrays. */
export function zeroParams(dims: DepDims): DepParams {
  const { H } = dims;
  const arch = dims.architecture ?? "dep";
  const d = arch === "dep" ? dims.d : 0;
  const h = arch === "dep" ? dims.h : 0;
  const nIn = projectorInput(dims);
  const projector = (present: boolean): ProjWeights => ({
    A1: new Float32Array(present ? nIn * H : 0),
    c1: new Float32Array(present ? H : 0),
    A2: new Float32Array(present ? H * H : 0),
    c2: new Float32Array(present ? H : 0),
  });
  return {
    sae: {
      W1: new Float32Array(d * h),
      b1: new Float32Array(h),
      W2: new Float32Array(h * d),
      b2: new Float32Array(d),
    },
    his: projector(true),
    diff: projector(arch !== "pplug"),
  };
}

/** Flat views of every parameter the architecture has, in PARAM_SLOTS order (for the optimizer). */
export function paramList(p: DepParams): Float32Array[] {
  return namedParamList(p).map((e) => e.data);
}

/** paramList with each tensor's reference name (what the optimizer's decay groups go by). */
export function namedParamList(p: DepParams): { name: string; data: Float32Array }[] {
  return PARAM_SLOTS.map((s) => ({ name: s.name, data: s.get(p) })).filter((e) => e.data.length > 0);
}

/**
 * How a run's parameters start. "reference" (default): what the reference gets. DEPModel builds the SAE and
 * projectors with `.to_empty()` inside a `Qwen2ForCausalLM` subclass, so `from_pretrained` treats them as
 * missing keys and fills them with `Qwen2PreTrainedModel._init_weights` (transformers 4.51.3,
 * models/qwen2/modeling_qwen2.py): nn.Linear weight ~ N(0, initializer_range = 0.02), bias = 0.
 * "torch": PyTorch's nn.Linear default, U(+-1/sqrt(fan_in)) for weight and bias.
 */
export type InitScheme = "reference" | "torch";

/** `initializer_range` of Qwen2.5-7B-Instruct's config.json (and of TinyLlama's). */
export const REFERENCE_INIT_STD = 0.02;

/** Draws every parameter layer by layer in PARAM_SLOTS order from a seeded source. */
function fillParams(dims: DepDims, draw: (isBias: boolean, fanIn: number) => number): DepParams {
  const p = zeroParams(dims);
  const fanIn: Record<string, number> = {
    "sae.encoder.0": dims.d,
    "sae.decoder.0": dims.h,
    "align_mlp_his.0": projectorInput(dims),
    "align_mlp_his.2": dims.H,
    "align_mlp_diff.0": projectorInput(dims),
    "align_mlp_diff.2": dims.H,
  };
  for (const slot of paramSlots(dims)) {
    const layer = slot.name.slice(0, slot.name.lastIndexOf("."));
    const isBias = slot.name.endsWith(".bias");
    const data = slot.get(p);
    for (let i = 0; i < data.length; i++) data[i] = draw(isBias, fanIn[layer]!);
  }
  return p;
}

/** PyTorch nn.Linear default initialisation: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function initParams(dims: DepDims, uniform: () => number): DepParams {
  return fillParams(dims, (_, fanIn) => (uniform() * 2 - 1) / Math.sqrt(fanIn));
}

/** The reference's initialisation: weight ~ N(0, std) from `normal` (standard normal draws), bias = 0. */
export function initParamsReference(
  dims: DepDims,
  normal: () => number,
  std = REFERENCE_INIT_STD,
): DepParams {
  return fillParams(dims, (isBias) => (isBias ? 0 : normal() * std));
}

/** The parameters as PyTorch-layout tensors under the reference names. */
export function toTorchTensors(
  p: DepParams,
  dims: DepDims,
): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const slot of paramSlots(dims)) {
    const data = slot.get(p);
    const shape = slot.torchShape(dims);
    out[slot.name] = { shape, data: slot.linear ? linearToTorch(data, ...slot.linear(dims)) : data.slice() };
  }
  return out;
}

/** Inverse of toTorchTensors; checks every name and shape. `where` names the source in errors. */
export function fromTorchTensors(
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  dims: DepDims,
  where: string,
): DepParams {
  const p = zeroParams(dims);
  for (const slot of paramSlots(dims)) {
    const t = tensors.get(slot.name);
    const shape = slot.torchShape(dims);
    if (!t) throw new DepError("DEP_CHECKPOINT", `${where}: tensor ${slot.name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new DepError(
        "DEP_CHECKPOINT",
        `${where}: tensor ${slot.name} has shape [${t.shape}], expected [${shape}]`,
      );
    }
    const dst = slot.get(p);
    dst.set(slot.linear ? linearFromTorch(t.data, shape[0]!, shape[1]!) : t.data);
  }
  return p;
}
