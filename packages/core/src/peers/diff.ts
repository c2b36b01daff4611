// Difference embeddings over a CSR description of targets (SPEC-DEP §3), in plain TypeScript. This is the same
// contract as the fused native kernel (@dep/native-cuda, kernels issue): per target its own review row, its user,
// and a list of (peer review row, peer user); plus the users' means and a weighting mode. The native call can
// replace `computeDifferences`; this version stays as its test oracle.
import { DepError } from "@dep/native-cuda";

export type DiffWeighting = "reference" | "softmax-norm" | "uniform";
export const DIFF_WEIGHTINGS: readonly DiffWeighting[] = ["reference", "softmax-norm", "uniform"];

/** T targets in CSR form. Rows index the embedding matrix; users index the means. */
export interface DiffCsr {
  /** [T] row of the target's own review embedding */
  selfRow: Int32Array;
  /** [T] the target's user */
  selfUser: Int32Array;
  /** [T+1] peers of target t are entries peerPtr[t] .. peerPtr[t+1]-1 */
  peerPtr: Int32Array;
  /** [nnz] row of the peer's embedding of the same item */
  peerRow: Int32Array;
  /** [nnz] the peer's user */
  peerUser: Int32Array;
}

/**
 * Peer weights for one target from the norms s_r = ||mean[u] - mean[r]||_2:
 * - reference:    w = softmax(s / sum(s))  (the reference code; near-uniform). If sum(s) = 0 the weights are
 *                 uniform (the reference would divide by zero).
 * - softmax-norm: w = softmax(s)
 * - uniform:      w = 1/n
 */
export function peerWeights(s: Float64Array, n: number, mode: DiffWeighting, out: Float64Array): void {
  if (mode === "uniform") {
    for (let i = 0; i < n; i++) out[i] = 1 / n;
    return;
  }
  let scale = 1;
  if (mode === "reference") {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += s[i]!;
    if (!(sum > 0)) {
      for (let i = 0; i < n; i++) out[i] = 1 / n;
      return;
    }
    scale = 1 / sum;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, s[i]! * scale);
  let z = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp(s[i]! * scale - max);
    z += out[i]!;
  }
  for (let i = 0; i < n; i++) out[i] = out[i]! / z;
}

/**
 * out[t] = e[selfRow[t]] - sum_r w_r e[peerRow[r]], weights from the users' means (see `peerWeights`).
 * Accumulates in float64. A target without peers is an error naming its index.
 */
export function computeDifferences(
  csr: DiffCsr,
  means: Float32Array,
  embeddings: Float32Array,
  dim: number,
  weighting: DiffWeighting,
): Float32Array {
  const T = csr.selfRow.length;
  if (csr.selfUser.length !== T || csr.peerPtr.length !== T + 1) {
    throw new DepError("DEP_INVALID_ARGUMENT", "computeDifferences: selfUser/peerPtr do not match selfRow");
  }
  const nnz = csr.peerPtr[T]!;
  if (csr.peerRow.length < nnz || csr.peerUser.length < nnz) {
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      "computeDifferences: peerRow/peerUser shorter than peerPtr says",
    );
  }
  const nRows = embeddings.length / dim;
  const nUsers = means.length / dim;
  const out = new Float32Array(T * dim);
  const acc = new Float64Array(dim);
  const stamp = new Int32Array(nUsers).fill(-1);
  const dist = new Float64Array(nUsers);
  let s = new Float64Array(64);
  let w = new Float64Array(64);
  for (let t = 0; t < T; t++) {
    const p0 = csr.peerPtr[t]!;
    const p1 = csr.peerPtr[t + 1]!;
    const n = p1 - p0;
    if (n <= 0) throw new DepError("DEP_INVALID_ARGUMENT", `computeDifferences: target ${t} has no peers`);
    if (n > s.length) {
      s = new Float64Array(n * 2);
      w = new Float64Array(n * 2);
    }
    const u = csr.selfUser[t]!;
    const self = csr.selfRow[t]!;
    if (u < 0 || u >= nUsers || self < 0 || self >= nRows) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `computeDifferences: target ${t} has an out-of-range row or user`,
      );
    }
    const mu = u * dim;
    if (weighting !== "uniform") {
      for (let i = 0; i < n; i++) {
        const r = csr.peerUser[p0 + i]!;
        if (r < 0 || r >= nUsers)
          throw new DepError("DEP_INVALID_ARGUMENT", `computeDifferences: bad peer user at ${p0 + i}`);
        // ||mean[u] - mean[r]|| is cached while consecutive targets share their user
        if (stamp[r] === u) {
          s[i] = dist[r]!;
          continue;
        }
        const mr = r * dim;
        let q = 0;
        for (let j = 0; j < dim; j++) {
          const x = means[mu + j]! - means[mr + j]!;
          q += x * x;
        }
        s[i] = Math.sqrt(q);
        stamp[r] = u;
        dist[r] = s[i]!;
      }
    }
    peerWeights(s, n, weighting, w);
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const row = csr.peerRow[p0 + i]!;
      if (row < 0 || row >= nRows)
        throw new DepError("DEP_INVALID_ARGUMENT", `computeDifferences: bad peer row at ${p0 + i}`);
    }
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const wa = w[i]!;
      const wb = w[i + 1]!;
      const oa = csr.peerRow[p0 + i]! * dim;
      const ob = csr.peerRow[p0 + i + 1]! * dim;
      for (let j = 0; j < dim; j++) acc[j] = acc[j]! + wa * embeddings[oa + j]! + wb * embeddings[ob + j]!;
    }
    if (i < n) {
      const wa = w[i]!;
      const oa = csr.peerRow[p0 + i]! * dim;
      for (let j = 0; j < dim; j++) acc[j] = acc[j]! + wa * embeddings[oa + j]!;
    }
    const so = self * dim;
    const oo = t * dim;
    for (let j = 0; j < dim; j++) out[oo + j] = embeddings[so + j]! - acc[j]!;
  }
  return out;
}

/** Targets [t0, t1) of a CSR as their own CSR (peer arrays are views; peerPtr is rebased). */
export function sliceCsr(csr: DiffCsr, t0: number, t1: number): DiffCsr {
  const base = csr.peerPtr[t0]!;
  const end = csr.peerPtr[t1]!;
  const peerPtr = new Int32Array(t1 - t0 + 1);
  for (let t = t0; t <= t1; t++) peerPtr[t - t0] = csr.peerPtr[t]! - base;
  return {
    selfRow: csr.selfRow.subarray(t0, t1),
    selfUser: csr.selfUser.subarray(t0, t1),
    peerPtr,
    peerRow: csr.peerRow.subarray(base, end),
    peerUser: csr.peerUser.subarray(base, end),
  };
}
