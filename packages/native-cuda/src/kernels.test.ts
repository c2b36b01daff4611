// Kernel wrappers: same numbers as the C++ reference, every bad argument raises a coded error, async ==
// sync, AdamW over 100 steps matches a plain TypeScript AdamW. Needs the built addon (`pnpm build`).
import { describe, expect, it } from "vitest";
import {
  adamwStep,
  adamwStepAsync,
  diffEmbed,
  diffEmbedAsync,
  type KernelOptions,
  kernelsInfo,
  linearFromTorch,
  linearToTorch,
  type ProjWeights,
  projBackward,
  projForward,
  projForwardAsync,
  type SaeWeights,
  saeBackward,
  saeBackwardAsync,
  saeForward,
  saeForwardAsync,
  userMeans,
} from "./kernels.js";

const REF: KernelOptions = { threads: 1, backend: "reference" };
const CPU: KernelOptions = { threads: 2, backend: "cpu" };

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function rand(r: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * r() - 1) * scale;
  return a;
}

/** max |a-b| / max |b| (the tests' relative error, as in test_kernels.cpp) */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return den > 0 ? num / den : num;
}

function expectCode(f: () => unknown, code: string, index?: number) {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect((caught as { code: string }).code).toBe(code);
  if (index !== undefined) expect((caught as { index: number }).index).toBe(index);
}

// a small diff-embedding problem
function diffProblem(seed: number, d: number) {
  const r = rng(seed);
  const nRows = 40;
  const emb = rand(r, nRows * d);
  const segOffsets = Int32Array.from([0, 10, 25, 40]);
  const T = 5;
  const selfRow = Int32Array.from({ length: T }, (_, i) => (i * 7) % nRows);
  const selfUser = Int32Array.from({ length: T }, (_, i) => i % 3);
  const counts = [1, 3, 2, 5, 4];
  const peerOffsets = new Int32Array(T + 1);
  counts.forEach((c, i) => {
    peerOffsets[i + 1] = (peerOffsets[i] as number) + c;
  });
  const np = peerOffsets[T] as number;
  const peerRow = Int32Array.from({ length: np }, (_, i) => (i * 11 + 3) % nRows);
  const peerUser = Int32Array.from({ length: np }, (_, i) => (i + 1) % 3);
  return { emb, d, segOffsets, selfRow, selfUser, peerOffsets, peerRow, peerUser };
}

function saeProblem(seed: number, B: number, d: number, h: number) {
  const r = rng(seed);
  const w: SaeWeights = {
    W1: rand(r, d * h, 1 / Math.sqrt(d)),
    b1: rand(r, h, 1 / Math.sqrt(d)),
    W2: rand(r, h * d, 1 / Math.sqrt(h)),
    b2: rand(r, d, 1 / Math.sqrt(h)),
  };
  const X = rand(r, B * 16 * d, 1.5);
  const k = Int32Array.from({ length: B }, (_, i) => 1 + (i % 8));
  const dzUp = rand(r, B * 16 * h, 0.01);
  return { w, X, k, dzUp, cfg: { d, h } };
}

function projProblem(seed: number, N: number, h: number, H: number) {
  const r = rng(seed);
  const w: ProjWeights = {
    A1: rand(r, h * H, 1 / Math.sqrt(h)),
    c1: rand(r, H, 1 / Math.sqrt(h)),
    A2: rand(r, H * H, 1 / Math.sqrt(H)),
    c2: rand(r, H, 1 / Math.sqrt(H)),
  };
  return { w, x: rand(r, N * h), dy: rand(r, N * H), dims: { h, H } };
}

describe("kernels: wrappers vs the C++ reference", () => {
  it("reports the backend", () => {
    const info = kernelsInfo();
    expect(["avx512", "avx2", "generic"]).toContain(info.cpuIsa);
    expect(typeof info.cudaAvailable).toBe("boolean");
  });

  it("user means and difference embedding (every weighting, f32 and bf16)", () => {
    const p = diffProblem(1, 37);
    const mRef = userMeans(REF, { emb: p.emb, d: p.d, segOffsets: p.segOffsets });
    const mCpu = userMeans(CPU, { emb: p.emb, d: p.d, segOffsets: p.segOffsets });
    expect(relErr(mCpu, mRef)).toBeLessThanOrEqual(1e-5);
    // plain TS mean of user 1
    for (let j = 0; j < p.d; j++) {
      let s = 0;
      for (let r = 10; r < 25; r++) s += p.emb[r * p.d + j] as number;
      expect(mRef[p.d + j]).toBeCloseTo(s / 15, 5);
    }
    for (const weighting of ["reference", "softmax-norm", "uniform"] as const) {
      const a = { ...p, means: mRef, weighting, weights: true };
      const ref = diffEmbed(REF, a);
      const cpu = diffEmbed(CPU, a);
      expect(relErr(cpu.out, ref.out)).toBeLessThanOrEqual(1e-5);
      // plain TS for target 3
      const t = 3;
      const p0 = p.peerOffsets[t] as number;
      const p1 = p.peerOffsets[t + 1] as number;
      const mu = (u: number, j: number) => mRef[u * p.d + j] as number;
      const s: number[] = [];
      for (let i = p0; i < p1; i++) {
        let acc = 0;
        for (let j = 0; j < p.d; j++)
          acc += (mu(p.selfUser[t] as number, j) - mu(p.peerUser[i] as number, j)) ** 2;
        s.push(Math.sqrt(acc));
      }
      const sum = s.reduce((x, y) => x + y, 0);
      const logits =
        weighting === "uniform" ? s.map(() => 0) : s.map((v) => (weighting === "reference" ? v / sum : v));
      const mx = Math.max(...logits);
      const ex = logits.map((v) => Math.exp(v - mx));
      const z = ex.reduce((x, y) => x + y, 0);
      const w = ex.map((v) => v / z);
      for (let i = 0; i < w.length; i++) expect(ref.weights?.[p0 + i]).toBeCloseTo(w[i] as number, 6);
      for (let j = 0; j < p.d; j++) {
        let o = p.emb[(p.selfRow[t] as number) * p.d + j] as number;
        for (let i = p0; i < p1; i++)
          o -= (w[i - p0] as number) * (p.emb[(p.peerRow[i] as number) * p.d + j] as number);
        expect(ref.out[t * p.d + j]).toBeCloseTo(o, 5);
      }
    }
    // bf16 storage: the same rows truncated to bf16 give the same result as f32 of the truncated values
    const bf = new Uint16Array(p.emb.length);
    const trunc = new Float32Array(p.emb.length);
    const u32 = new Uint32Array(p.emb.buffer);
    for (let i = 0; i < bf.length; i++) {
      bf[i] = (u32[i] as number) >>> 16;
      trunc[i] = new Float32Array(new Uint32Array([((u32[i] as number) >>> 16) << 16]).buffer)[0] as number;
    }
    const a32 = diffEmbed(CPU, { ...p, emb: trunc, means: mRef });
    const a16 = diffEmbed(CPU, { ...p, emb: bf, dtype: "bf16", means: mRef });
    expect(relErr(a16.out, a32.out)).toBeLessThanOrEqual(1e-6);
  });

  it("SAE forward + backward (k = 1..8, d and h odd)", () => {
    const p = saeProblem(2, 9, 37, 19);
    for (const linearOutput of [false, true]) {
      const cfg = { ...p.cfg, linearOutput };
      const fr = saeForward(REF, cfg, p.w, p.X, p.k);
      const fc = saeForward(CPU, cfg, p.w, p.X, p.k);
      expect(Math.abs(fc.loss - fr.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(fr.loss));
      expect(relErr(fc.z, fr.z)).toBeLessThanOrEqual(1e-5);
      expect(relErr(fc.sampleTerms, fr.sampleTerms)).toBeLessThanOrEqual(1e-5);
      // the batch loss is the mean over samples of 100 * (recon + 1e-3 * KL)
      let mean = 0;
      for (let b = 0; b < 9; b++)
        mean += 100 * ((fr.sampleTerms[2 * b] as number) + 1e-3 * (fr.sampleTerms[2 * b + 1] as number));
      expect(fr.loss).toBeCloseTo(mean / 9, 3);
      const gr = saeBackward(REF, cfg, p.w, p.X, p.k, fr, { dzUp: p.dzUp, dX: true });
      const gc = saeBackward(CPU, cfg, p.w, p.X, p.k, fc, { dzUp: p.dzUp, dX: true });
      for (const key of ["W1", "b1", "W2", "b2", "dX"] as const)
        expect(relErr(gc[key] as Float32Array, gr[key] as Float32Array), key).toBeLessThanOrEqual(1e-5);
    }
  });

  it("projector forward + backward", () => {
    const p = projProblem(3, 24, 19, 45);
    const fr = projForward(REF, p.dims, p.w, p.x);
    const fc = projForward(CPU, p.dims, p.w, p.x);
    expect(relErr(fc.y, fr.y)).toBeLessThanOrEqual(1e-5);
    const gr = projBackward(REF, p.dims, p.w, p.x, fr, p.dy, { dx: true });
    const gc = projBackward(CPU, p.dims, p.w, p.x, fc, p.dy, { dx: true });
    for (const key of ["A1", "c1", "A2", "c2", "dx"] as const)
      expect(relErr(gc[key] as Float32Array, gr[key] as Float32Array), key).toBeLessThanOrEqual(1e-5);
    // accumulate adds
    const acc = projBackward(CPU, p.dims, p.w, p.x, fc, p.dy, { grads: { ...gc }, accumulate: true });
    for (let i = 0; i < 10; i++) expect(acc.A2[i]).toBeCloseTo(2 * (gr.A2[i] as number), 5);
  });

  it("async versions give the same numbers", async () => {
    const p = saeProblem(4, 3, 16, 8);
    const fs = saeForward(CPU, p.cfg, p.w, p.X, p.k);
    const fa = await saeForwardAsync(CPU, p.cfg, p.w, p.X, p.k);
    expect(fa.loss).toBe(fs.loss);
    expect(relErr(fa.z, fs.z)).toBe(0);
    const gs = saeBackward(CPU, p.cfg, p.w, p.X, p.k, fs);
    const ga = await saeBackwardAsync(CPU, p.cfg, p.w, p.X, p.k, fa);
    expect(relErr(ga.W1, gs.W1)).toBe(0);
    const q = projProblem(5, 4, 8, 12);
    expect(
      relErr((await projForwardAsync(CPU, q.dims, q.w, q.x)).y, projForward(CPU, q.dims, q.w, q.x).y),
    ).toBe(0);
    const d = diffProblem(6, 8);
    const means = userMeans(CPU, { emb: d.emb, d: d.d, segOffsets: d.segOffsets });
    expect(
      relErr((await diffEmbedAsync(CPU, { ...d, means })).out, diffEmbed(CPU, { ...d, means }).out),
    ).toBe(0);
  });

  it("converts PyTorch [out, in] weights", () => {
    const t = Float32Array.from({ length: 12 }, (_, i) => i); // [out=3, in=4]
    const ours = linearFromTorch(t, 3, 4);
    expect(ours[2 * 3 + 1]).toBe(t[1 * 4 + 2]);
    expect(Array.from(linearToTorch(ours, 4, 3))).toEqual(Array.from(t));
  });
});

describe("kernels: AdamW", () => {
  it("100 steps match a plain TypeScript AdamW to 1e-6", async () => {
    const r = rng(7);
    const n = 5003;
    const p = rand(r, n);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    // plain AdamW (torch.optim.AdamW), float32 state like the kernel's
    const pt = Float32Array.from(p);
    const mt = new Float32Array(n);
    const vt = new Float32Array(n);
    const lr = 1e-3;
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-8;
    const wd = 0.025;
    for (let step = 1; step <= 100; step++) {
      const g = rand(r, n);
      if (step % 2) adamwStep(CPU, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step }, p, g, m, v);
      else await adamwStepAsync(CPU, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step }, p, g, m, v);
      const bc1 = 1 - b1 ** step;
      const bc2 = 1 - b2 ** step;
      for (let i = 0; i < n; i++) {
        const gi = g[i] as number;
        const q = (pt[i] as number) - lr * wd * (pt[i] as number);
        mt[i] = b1 * (mt[i] as number) + (1 - b1) * gi;
        vt[i] = b2 * (vt[i] as number) + (1 - b2) * gi * gi;
        pt[i] = q - ((lr / bc1) * (mt[i] as number)) / (Math.sqrt((vt[i] as number) / bc2) + eps);
      }
    }
    let e = 0;
    for (let i = 0; i < n; i++) e = Math.max(e, Math.abs((p[i] as number) - (pt[i] as number)));
    expect(e).toBeLessThanOrEqual(1e-6);
  });
});

describe("kernels: every bad argument raises a coded error", () => {
  const d = diffProblem(8, 6);
  const means = userMeans(CPU, { emb: d.emb, d: d.d, segOffsets: d.segOffsets });
  const good = { ...d, means };
  const s = saeProblem(9, 2, 8, 4);
  const q = projProblem(10, 3, 4, 5);

  it("options", () => {
    expectCode(() => diffEmbed({ threads: 0, backend: "cpu" }, good), "DEP_INVALID_ARGUMENT");
    expectCode(() => diffEmbed({ backend: "cpu" } as KernelOptions, good), "DEP_INVALID_ARGUMENT");
    expectCode(() => diffEmbed({ threads: 1, backend: "tpu" as "cpu" }, good), "DEP_INVALID_ARGUMENT");
    if (!kernelsInfo().cudaAvailable)
      expectCode(() => diffEmbed({ threads: 1, backend: "cuda" }, good), "DEP_BACKEND_UNAVAILABLE");
  });

  it("diffEmbed: lengths, indices, peers, non-finite, types", () => {
    expectCode(() => diffEmbed(CPU, { ...good, emb: d.emb.subarray(1) }), "DEP_SHAPE_MISMATCH");
    expectCode(() => diffEmbed(CPU, { ...good, means: means.subarray(0, 5) }), "DEP_SHAPE_MISMATCH");
    expectCode(() => diffEmbed(CPU, { ...good, selfUser: d.selfUser.subarray(1) }), "DEP_SHAPE_MISMATCH");
    expectCode(() => diffEmbed(CPU, { ...good, peerUser: d.peerUser.subarray(1) }), "DEP_SHAPE_MISMATCH");
    expectCode(
      () => diffEmbed(CPU, { ...good, peerOffsets: d.peerOffsets.subarray(1) }),
      "DEP_SHAPE_MISMATCH",
    );
    expectCode(() => diffEmbed(CPU, { ...good, out: new Float32Array(3) }), "DEP_SHAPE_MISMATCH");
    const badRow = Int32Array.from(d.peerRow);
    badRow[4] = 40;
    expectCode(() => diffEmbed(CPU, { ...good, peerRow: badRow }), "DEP_INDEX_RANGE", 4);
    const negRow = Int32Array.from(d.selfRow);
    negRow[2] = -1;
    expectCode(() => diffEmbed(CPU, { ...good, selfRow: negRow }), "DEP_INDEX_RANGE", 2);
    const badUser = Int32Array.from(d.peerUser);
    badUser[0] = 3;
    expectCode(() => diffEmbed(CPU, { ...good, peerUser: badUser }), "DEP_INDEX_RANGE", 0);
    const badSelfUser = Int32Array.from(d.selfUser);
    badSelfUser[1] = 99;
    expectCode(() => diffEmbed(CPU, { ...good, selfUser: badSelfUser }), "DEP_INDEX_RANGE", 1);
    // target 2 without peers
    const off = Int32Array.from(d.peerOffsets);
    const rows = Array.from(d.peerRow);
    const users = Array.from(d.peerUser);
    const cut = (off[3] as number) - (off[2] as number);
    rows.splice(off[2] as number, cut);
    users.splice(off[2] as number, cut);
    for (let t = 3; t < off.length; t++) off[t] = (off[t] as number) - cut;
    expectCode(
      () =>
        diffEmbed(CPU, {
          ...good,
          peerOffsets: off,
          peerRow: Int32Array.from(rows),
          peerUser: Int32Array.from(users),
        }),
      "DEP_NO_PEERS",
      2,
    );
    const nan = Float32Array.from(d.emb);
    nan[7] = Number.NaN;
    expectCode(() => diffEmbed(CPU, { ...good, emb: nan }), "DEP_NON_FINITE", 7);
    const inf = Float32Array.from(means);
    inf[3] = Number.POSITIVE_INFINITY;
    expectCode(() => diffEmbed(CPU, { ...good, means: inf }), "DEP_NON_FINITE", 3);
    expectCode(
      () => diffEmbed(CPU, { ...good, selfRow: Float32Array.from(d.selfRow) as unknown as Int32Array }),
      "DEP_INVALID_ARGUMENT",
    );
    expectCode(() => diffEmbed(CPU, { ...good, weighting: "max" as "uniform" }), "DEP_INVALID_ARGUMENT");
    expectCode(() => diffEmbed(CPU, { ...good, d: 0 }), "DEP_INVALID_ARGUMENT");
  });

  it("userMeans: empty segment, range", () => {
    expectCode(
      () => userMeans(CPU, { emb: d.emb, d: d.d, segOffsets: Int32Array.from([0, 10, 10, 40]) }),
      "DEP_EMPTY_SEGMENT",
      1,
    );
    expectCode(
      () => userMeans(CPU, { emb: d.emb, d: d.d, segOffsets: Int32Array.from([0, 10, 41]) }),
      "DEP_INDEX_RANGE",
    );
  });

  it("SAE: shapes, k range, non-finite, workspace", () => {
    expectCode(() => saeForward(CPU, s.cfg, s.w, s.X.subarray(8), s.k), "DEP_SHAPE_MISMATCH");
    expectCode(
      () => saeForward(CPU, s.cfg, { ...s.w, W1: s.w.W1.subarray(1) }, s.X, s.k),
      "DEP_SHAPE_MISMATCH",
    );
    expectCode(
      () => saeForward(CPU, s.cfg, { ...s.w, b2: new Float32Array(7) }, s.X, s.k),
      "DEP_SHAPE_MISMATCH",
    );
    expectCode(() => saeForward(CPU, s.cfg, s.w, s.X, Int32Array.from([1, 9])), "DEP_INDEX_RANGE", 1);
    expectCode(() => saeForward(CPU, s.cfg, s.w, s.X, Int32Array.from([0, 2])), "DEP_INDEX_RANGE", 0);
    const nan = Float32Array.from(s.X);
    nan[5] = Number.NaN;
    expectCode(() => saeForward(CPU, s.cfg, s.w, nan, s.k), "DEP_NON_FINITE", 5);
    expectCode(() => saeForward(CPU, { ...s.cfg, rho: 1.5 }, s.w, s.X, s.k), "DEP_INVALID_ARGUMENT");
    const fwd = saeForward(CPU, s.cfg, s.w, s.X, s.k);
    expectCode(
      () => saeBackward(CPU, s.cfg, s.w, s.X, s.k, { ...fwd, workspace: new Float32Array(3) }),
      "DEP_SHAPE_MISMATCH",
    );
    expectCode(
      () => saeBackward(CPU, s.cfg, s.w, s.X, s.k, fwd, { dzUp: new Float32Array(5) }),
      "DEP_SHAPE_MISMATCH",
    );
    const badUp = new Float32Array(2 * 16 * 4);
    badUp[9] = Number.NEGATIVE_INFINITY;
    expectCode(() => saeBackward(CPU, s.cfg, s.w, s.X, s.k, fwd, { dzUp: badUp }), "DEP_NON_FINITE", 9);
  });

  it("projector: shapes, non-finite", () => {
    expectCode(() => projForward(CPU, q.dims, q.w, q.x.subarray(1)), "DEP_SHAPE_MISMATCH");
    expectCode(
      () => projForward(CPU, q.dims, { ...q.w, A2: new Float32Array(24) }, q.x),
      "DEP_SHAPE_MISMATCH",
    );
    const fwd = projForward(CPU, q.dims, q.w, q.x);
    expectCode(() => projBackward(CPU, q.dims, q.w, q.x, fwd, q.dy.subarray(2)), "DEP_SHAPE_MISMATCH");
    const nan = Float32Array.from(q.dy);
    nan[0] = Number.NaN;
    expectCode(() => projBackward(CPU, q.dims, q.w, q.x, fwd, nan), "DEP_NON_FINITE", 0);
  });

  it("AdamW: lengths, params", () => {
    const p = new Float32Array(4);
    expectCode(
      () =>
        adamwStep(
          CPU,
          { lr: 1e-3, step: 1 },
          p,
          new Float32Array(3),
          new Float32Array(4),
          new Float32Array(4),
        ),
      "DEP_SHAPE_MISMATCH",
    );
    expectCode(
      () => adamwStep(CPU, { lr: 1e-3, step: 0 }, p, p, new Float32Array(4), new Float32Array(4)),
      "DEP_INVALID_ARGUMENT",
    );
    expectCode(
      () => adamwStep(CPU, { lr: Number.NaN, step: 1 }, p, p, new Float32Array(4), new Float32Array(4)),
      "DEP_INVALID_ARGUMENT",
    );
    expectCode(
      () => adamwStep(CPU, { lr: 1e-3, beta1: 1, step: 1 }, p, p, new Float32Array(4), new Float32Array(4)),
      "DEP_INVALID_ARGUMENT",
    );
    const g = new Float32Array(4);
    g[2] = Number.NaN;
    expectCode(
      () => adamwStep(CPU, { lr: 1e-3, step: 1 }, p, g, new Float32Array(4), new Float32Array(4)),
      "DEP_NON_FINITE",
      2,
    );
  });

  it("async calls reject with the code instead of throwing", async () => {
    const badRow = Int32Array.from(d.peerRow);
    badRow[1] = -5;
    await expect(diffEmbedAsync(CPU, { ...good, peerRow: badRow })).rejects.toMatchObject({
      code: "DEP_INDEX_RANGE",
      index: 1,
    });
    await expect(saeForwardAsync(CPU, s.cfg, s.w, s.X.subarray(1), s.k)).rejects.toMatchObject({
      code: "DEP_SHAPE_MISMATCH",
    });
    await expect(saeForwardAsync(CPU, s.cfg, s.w, s.X, Int32Array.from([3, 12]))).rejects.toMatchObject({
      code: "DEP_INDEX_RANGE",
      index: 1,
    });
  });
});
