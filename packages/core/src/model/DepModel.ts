// The DEP model (SPEC §4): X = [his; diff] -> SAE -> z -> two projectors -> soft rows in the LLM's
// input-embedding space. Forward and backward run through the native kernels; gradients accumulate into
// one DepParams-shaped buffer so that gradient accumulation is a plain sum.
import {
  type KernelOptions,
  type ProjForwardResult,
  projBackward,
  projForward,
  SAE_MAX_K,
  SAE_ROWS,
  type SaeConfig,
  type SaeForwardResult,
  saeBackward,
  saeForward,
} from "@dep/native-cuda";
import { type DepDims, type DepParams, zeroParams } from "./params.js";

export interface DepModelConfig extends DepDims {
  /** X^ = z W2 + b2 instead of the reference's GELU(z W2 + b2) */
  linearOutput?: boolean;
  reconWeight?: number;
  klWeight?: number;
  rho?: number;
}

/** What a forward pass keeps for its backward. */
export interface DepForward {
  /** per sample: soft rows [2k, H], his rows first, then diff rows */
  soft: Float32Array[];
  /** the SAE's loss term (mean over the batch's samples; already weighted 100 and 1e-3 as SPEC §6) */
  saeLoss: number;
  /** per sample (SmoothL1 mean, KL) */
  sampleTerms: Float32Array;
  readonly cache: {
    X: Float32Array;
    k: Int32Array;
    sae: SaeForwardResult;
    zHis: Float32Array;
    zDiff: Float32Array;
    his: ProjForwardResult;
    diff: ProjForwardResult;
  };
}

export class DepModel {
  readonly config: DepModelConfig;
  readonly params: DepParams;
  readonly kernel: KernelOptions;

  constructor(config: DepModelConfig, params: DepParams, kernel: KernelOptions) {
    this.config = config;
    this.params = params;
    this.kernel = kernel;
  }

  get saeConfig(): SaeConfig {
    const c = this.config;
    return {
      d: c.d,
      h: c.h,
      linearOutput: c.linearOutput ?? false,
      reconWeight: c.reconWeight ?? 100,
      klWeight: c.klWeight ?? 1e-3,
      rho: c.rho ?? 0.05,
    };
  }

  /** X: [B, 16, d] (his rows 0..k-1, diff rows 8..8+k-1); k: [B], each in 1..8. */
  forward(X: Float32Array, k: Int32Array): DepForward {
    const { h, H } = this.config;
    const sae = saeForward(this.kernel, this.saeConfig, this.params.sae, X, k);
    const n = k.reduce((a, b) => a + b, 0);
    const zHis = new Float32Array(n * h);
    const zDiff = new Float32Array(n * h);
    let r = 0;
    for (let b = 0; b < k.length; b++) {
      for (let i = 0; i < k[b]!; i++, r++) {
        zHis.set(sae.z.subarray((b * SAE_ROWS + i) * h, (b * SAE_ROWS + i + 1) * h), r * h);
        zDiff.set(
          sae.z.subarray((b * SAE_ROWS + SAE_MAX_K + i) * h, (b * SAE_ROWS + SAE_MAX_K + i + 1) * h),
          r * h,
        );
      }
    }
    const his = projForward(this.kernel, { h, H }, this.params.his, zHis);
    const diff = projForward(this.kernel, { h, H }, this.params.diff, zDiff);
    const soft: Float32Array[] = [];
    r = 0;
    for (let b = 0; b < k.length; b++) {
      const kb = k[b]!;
      const rows = new Float32Array(2 * kb * H);
      rows.set(his.y.subarray(r * H, (r + kb) * H), 0);
      rows.set(diff.y.subarray(r * H, (r + kb) * H), kb * H);
      soft.push(rows);
      r += kb;
    }
    return {
      soft,
      saeLoss: sae.loss,
      sampleTerms: sae.sampleTerms,
      cache: { X, k, sae, zHis, zDiff, his, diff },
    };
  }

  /**
   * Adds to `grads` the gradient of (LM loss + SAE loss) given dL/d(soft rows) per sample (same layout as
   * forward's `soft`; null = no LM gradient for that sample).
   */
  backward(fwd: DepForward, dSoft: ReadonlyArray<Float32Array | null>, grads: DepParams): void {
    const { h, H } = this.config;
    const { X, k } = fwd.cache;
    const n = fwd.cache.zHis.length / h;
    const dyHis = new Float32Array(n * H);
    const dyDiff = new Float32Array(n * H);
    let r = 0;
    for (let b = 0; b < k.length; b++) {
      const kb = k[b]!;
      const g = dSoft[b];
      if (g) {
        dyHis.set(g.subarray(0, kb * H), r * H);
        dyDiff.set(g.subarray(kb * H, 2 * kb * H), r * H);
      }
      r += kb;
    }
    const gh = projBackward(this.kernel, { h, H }, this.params.his, fwd.cache.zHis, fwd.cache.his, dyHis, {
      grads: grads.his,
      accumulate: true,
      dx: true,
    });
    const gd = projBackward(
      this.kernel,
      { h, H },
      this.params.diff,
      fwd.cache.zDiff,
      fwd.cache.diff,
      dyDiff,
      {
        grads: grads.diff,
        accumulate: true,
        dx: true,
      },
    );
    const dzUp = new Float32Array(k.length * SAE_ROWS * h);
    r = 0;
    for (let b = 0; b < k.length; b++) {
      for (let i = 0; i < k[b]!; i++, r++) {
        dzUp.set(gh.dx!.subarray(r * h, (r + 1) * h), (b * SAE_ROWS + i) * h);
        dzUp.set(gd.dx!.subarray(r * h, (r + 1) * h), (b * SAE_ROWS + SAE_MAX_K + i) * h);
      }
    }
    saeBackward(this.kernel, this.saeConfig, this.params.sae, X, k, fwd.cache.sae, {
      dzUp,
      grads: grads.sae,
      accumulate: true,
    });
  }

  zeroGrads(): DepParams {
    return zeroParams(this.config);
  }
}
