// AdamW over every DEP parameter (the native fused kernel), with its state kept for checkpoints, and the
// reference's gradient clipping.
import { adamwStep, type KernelOptions } from "@dep/native-cuda";
import { type DepDims, type DepParams, namedParamList, paramList, zeroParams } from "../model/params.js";

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /**
   * Decay biases too (false, the reference: HF Trainer's `get_decay_parameter_names` (transformers 4.51.3
   * trainer.py, Trainer.get_decay_parameter_names / create_optimizer) puts every parameter whose name
   * contains "bias" in the weight_decay = 0 group).
   */
  decayBiases?: boolean;
}

export const REFERENCE_ADAMW: AdamWConfig = {
  lr: 1e-5,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.025,
  decayBiases: false,
};

/** Whether a parameter is in the decayed group under the reference's rule (no decay on biases). */
export function decays(name: string, decayBiases: boolean): boolean {
  return decayBiases || !name.includes("bias");
}

export class AdamW {
  readonly m: DepParams;
  readonly v: DepParams;
  /** optimizer updates done so far */
  step = 0;

  constructor(
    readonly config: AdamWConfig,
    dims: DepDims,
    readonly kernel: KernelOptions,
  ) {
    this.m = zeroParams(dims);
    this.v = zeroParams(dims);
  }

  /** One update of every parameter at learning rate `lr`, with grads scaled by `gradScale` first. */
  update(params: DepParams, grads: DepParams, lr: number, gradScale = 1): void {
    this.step++;
    const ps = namedParamList(params);
    const gs = paramList(grads);
    const ms = paramList(this.m);
    const vs = paramList(this.v);
    for (let i = 0; i < ps.length; i++) {
      const g = gs[i]!;
      if (gradScale !== 1) for (let j = 0; j < g.length; j++) g[j] = g[j]! * gradScale;
      adamwStep(
        this.kernel,
        {
          lr,
          beta1: this.config.beta1,
          beta2: this.config.beta2,
          eps: this.config.eps,
          weightDecay: decays(ps[i]!.name, this.config.decayBiases ?? false) ? this.config.weightDecay : 0,
          step: this.step,
        },
        ps[i]!.data,
        g,
        ms[i]!,
        vs[i]!,
      );
    }
  }
}

/**
 * Clips the gradients to a global L2 norm of at most `maxNorm` (in place) and returns the norm before
 * clipping. Same rule as DeepSpeed's `gradient_clipping` (ds_z1_config.json: 1.0) and
 * torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is below 1. maxNorm <= 0: no clipping.
 */
export function clipGradNorm(grads: DepParams, maxNorm: number): number {
  let sum = 0;
  const gs = paramList(grads);
  for (const g of gs) for (let j = 0; j < g.length; j++) sum += g[j]! * g[j]!;
  const norm = Math.sqrt(sum);
  const coef = maxNorm / (norm + 1e-6);
  if (maxNorm > 0 && coef < 1) for (const g of gs) for (let j = 0; j < g.length; j++) g[j] = g[j]! * coef;
  return norm;
}

/** Multiplies every gradient by `factor` (in place). */
export function scaleGrads(grads: DepParams, factor: number): void {
  if (factor !== 1)
    for (const g of paramList(grads)) for (let j = 0; j < g.length; j++) g[j] = g[j]! * factor;
}

/** Sets every gradient to zero. */
export function zeroGrads(grads: DepParams): void {
  for (const g of paramList(grads)) g.fill(0);
}
