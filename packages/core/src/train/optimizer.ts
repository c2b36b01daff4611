// AdamW over every DEP parameter (the native fused kernel), with its state kept for checkpoints.
import { adamwStep, type KernelOptions } from "@dep/native-cuda";
import { type DepDims, type DepParams, paramList, zeroParams } from "../model/params.js";

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const REFERENCE_ADAMW: AdamWConfig = {
  lr: 1e-5,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.025,
};

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
    const ps = paramList(params);
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
          weightDecay: this.config.weightDecay,
          step: this.step,
        },
        ps[i]!,
        g,
        ms[i]!,
        vs[i]!,
      );
    }
  }
}

/** Sets every gradient to zero. */
export function zeroGrads(grads: DepParams): void {
  for (const g of paramList(grads)) g.fill(0);
}
