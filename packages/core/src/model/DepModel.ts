// The DEP model (SPEC §4): X = [his; diff] -> SAE -> z -> two projectors -> soft rows in the LLM's
// input-embedding space. Forward and backward run through the native kernels; gradients accumulate into
// one DepParams-shaped buffer so that gradient accumulation is a plain sum.
import {
  DepError,
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
import { type Architecture, type DepDims, type DepParams, projectorInput, zeroParams } from "./params.js";

export interface DepModelConfig extends DepDims {
  /** X^ = z W2 + b2 instead of the reference's GELU(z W2 + b2) */
  linearOutput?: boolean;
  reconWeight?: number;
  klWeight?: number;
  rho?: number;
}

/** What a forward pass keeps for its backward. */
export interface DepForward {
  /**
   * per sample: soft rows, his rows first, then diff rows ([2k, H]); one row [1, H] (the user token) for
   * the pplug architecture
   */
  soft: Float32Array[];
  /** the SAE's loss term (mean over the batch's samples; already weighted 100 and 1e-3 as SPEC §6; 0 without SAE) */
  saeLoss: number;
  /** per sample (SmoothL1 mean, KL) */
  sampleTerms: Float32Array;
  readonly cache: {
    X: Float32Array;
    k: Int32Array;
    sae: SaeForwardResult | null;
    /** projector inputs: SAE codes (dep), X rows (no-sae), or the weighted means (pplug; zDiff empty) */
    zHis: Float32Array;
    zDiff: Float32Array;
    his: ProjForwardResult;
    diff: ProjForwardResult | null;
    /** pplug: the softmax weights over each sample's k his rows, concatenated */
    weights: Float32Array | null;
  };
}

export class DepModel {
  readonly config: DepModelConfig;
  readonly params: DepParams;
  readonly kernel: KernelOptions;
  /**
   * The 4 marker rows [4, H] (MARKERS order) fed at the marker positions with --markers rows: frozen, never
   * trained (the reference's added-token embedding rows); null for models trained with text markers.
   */
  markerRows: Float32Array | null = null;

  constructor(config: DepModelConfig, params: DepParams, kernel: KernelOptions) {
    this.config = config;
    this.params = params;
    this.kernel = kernel;
  }

  get architecture(): Architecture {
    return this.config.architecture ?? "dep";
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

  /**
   * X: [B, 16, d] (his rows 0..k-1, diff rows 8..8+k-1); k: [B], each in 1..8. `query` [B, d]: the
   * embedding of each sample's input (the target item's text), needed by the pplug architecture only.
   */
  forward(X: Float32Array, k: Int32Array, query?: Float32Array): DepForward {
    const { d, H } = this.config;
    const nIn = projectorInput(this.config);
    const arch = this.architecture;
    const n = k.reduce((a, b) => a + b, 0);
    const B = k.length;
    let sae: SaeForwardResult | null = null;
    let weights: Float32Array | null = null;
    let zHis: Float32Array;
    let zDiff: Float32Array;
    if (arch === "pplug") {
      if (!query || query.length !== B * d) {
        throw new DepError(
          "DEP_INVALID_ARGUMENT",
          `the pplug model needs a query embedding [${B}, ${d}] per sample (got ${query?.length ?? 0} floats)`,
        );
      }
      ({ u: zHis, weights } = inputAwareMean(X, k, query, d));
      zDiff = new Float32Array(0);
    } else {
      // the his and diff rows the projectors read: SAE codes (dep) or X itself (no-sae)
      let source = X;
      if (arch === "dep") {
        sae = saeForward(this.kernel, this.saeConfig, this.params.sae, X, k);
        source = sae.z;
      }
      zHis = new Float32Array(n * nIn);
      zDiff = new Float32Array(n * nIn);
      let r = 0;
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < k[b]!; i++, r++) {
          const his = (b * SAE_ROWS + i) * nIn;
          const diff = (b * SAE_ROWS + SAE_MAX_K + i) * nIn;
          zHis.set(source.subarray(his, his + nIn), r * nIn);
          zDiff.set(source.subarray(diff, diff + nIn), r * nIn);
        }
      }
    }
    const dims = { h: nIn, H };
    const his = projForward(this.kernel, dims, this.params.his, zHis);
    const diff = arch === "pplug" ? null : projForward(this.kernel, dims, this.params.diff, zDiff);
    const soft: Float32Array[] = [];
    let r = 0;
    for (let b = 0; b < B; b++) {
      if (!diff) {
        soft.push(his.y.slice(b * H, (b + 1) * H));
        continue;
      }
      const kb = k[b]!;
      const rows = new Float32Array(2 * kb * H);
      rows.set(his.y.subarray(r * H, (r + kb) * H), 0);
      rows.set(diff.y.subarray(r * H, (r + kb) * H), kb * H);
      soft.push(rows);
      r += kb;
    }
    return {
      soft,
      saeLoss: sae ? sae.loss : 0,
      sampleTerms: sae ? sae.sampleTerms : new Float32Array(2 * B),
      cache: { X, k, sae, zHis, zDiff, his, diff, weights },
    };
  }

  /**
   * Adds to `grads` the gradient of (LM loss + SAE loss) given dL/d(soft rows) per sample (same layout as
   * forward's `soft`; null = no LM gradient for that sample).
   */
  backward(fwd: DepForward, dSoft: ReadonlyArray<Float32Array | null>, grads: DepParams): void {
    const { H } = this.config;
    const nIn = projectorInput(this.config);
    const dims = { h: nIn, H };
    const { X, k, sae } = fwd.cache;
    const withSae = sae !== null;
    if (!fwd.cache.diff) {
      // pplug: one row per sample, the weights are not trained (frozen sentence embeddings)
      const dy = new Float32Array(k.length * H);
      dSoft.forEach((g, b) => {
        if (g) dy.set(g.subarray(0, H), b * H);
      });
      projBackward(this.kernel, dims, this.params.his, fwd.cache.zHis, fwd.cache.his, dy, {
        grads: grads.his,
        accumulate: true,
        dx: false,
      });
      return;
    }
    const n = fwd.cache.zHis.length / nIn;
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
    const gh = projBackward(this.kernel, dims, this.params.his, fwd.cache.zHis, fwd.cache.his, dyHis, {
      grads: grads.his,
      accumulate: true,
      dx: withSae,
    });
    const gd = projBackward(this.kernel, dims, this.params.diff, fwd.cache.zDiff, fwd.cache.diff, dyDiff, {
      grads: grads.diff,
      accumulate: true,
      dx: withSae,
    });
    if (!sae) return;
    const h = nIn;
    const dzUp = new Float32Array(k.length * SAE_ROWS * h);
    r = 0;
    for (let b = 0; b < k.length; b++) {
      for (let i = 0; i < k[b]!; i++, r++) {
        dzUp.set(gh.dx!.subarray(r * h, (r + 1) * h), (b * SAE_ROWS + i) * h);
        dzUp.set(gd.dx!.subarray(r * h, (r + 1) * h), (b * SAE_ROWS + SAE_MAX_K + i) * h);
      }
    }
    saeBackward(this.kernel, this.saeConfig, this.params.sae, X, k, sae, {
      dzUp,
      grads: grads.sae,
      accumulate: true,
    });
  }

  zeroGrads(): DepParams {
    return zeroParams(this.config);
  }
}

/**
 * PPlug's input-aware personal aggregation: u = sum_i w_i e_i over a sample's k his rows, with
 * w = softmax_i(cos(query, e_i)), from frozen sentence embeddings.
 */
export function inputAwareMean(
  X: Float32Array,
  k: Int32Array,
  query: Float32Array,
  d: number,
): { u: Float32Array; weights: Float32Array } {
  const B = k.length;
  const u = new Float32Array(B * d);
  const weights = new Float32Array(k.reduce((a, b) => a + b, 0));
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  let w0 = 0;
  for (let b = 0; b < B; b++) {
    const q = query.subarray(b * d, (b + 1) * d);
    const qn = norm(q);
    const rows = Array.from({ length: k[b]! }, (_, i) =>
      X.subarray((b * SAE_ROWS + i) * d, (b * SAE_ROWS + i + 1) * d),
    );
    const cos = rows.map((e) => e.reduce((s, x, j) => s + x * q[j]!, 0) / (qn * norm(e)));
    const max = Math.max(...cos);
    const ex = cos.map((c) => Math.exp(c - max));
    const sum = ex.reduce((a, b) => a + b, 0);
    rows.forEach((e, i) => {
      const w = ex[i]! / sum;
      weights[w0 + i] = w;
      for (let j = 0; j < d; j++) u[b * d + j]! += w * e[j]!;
    });
    w0 += k[b]!;
  }
  return { u, weights };
}
