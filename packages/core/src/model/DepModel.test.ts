import { describe, expect, it } from "vitest";
import { Rng } from "../util/rng.js";
import { DepModel, inputAwareMean } from "./DepModel.js";
import {
  type DepDims,
  fromTorchTensors,
  initParams,
  PARAM_SLOTS,
  paramList,
  paramSlots,
  toTorchTensors,
} from "./params.js";

const dims = { d: 12, h: 8, H: 10 };
const uniform = (seed: number) => {
  const r = new Rng(seed);
  return () => r.float();
};

function batch(k: number[], seed: number) {
  const r = new Rng(seed);
  const X = new Float32Array(k.length * 16 * dims.d);
  k.forEach((kb, b) => {
    for (const base of [0, 8]) {
      for (let i = 0; i < kb; i++) {
        for (let j = 0; j < dims.d; j++) X[(b * 16 + base + i) * dims.d + j] = r.float() * 2 - 1;
      }
    }
  });
  return { X, k: Int32Array.from(k) };
}

describe("DEP parameters", () => {
  it("initialise like PyTorch nn.Linear, deterministically per seed", () => {
    const p = initParams(dims, uniform(1));
    const q = initParams(dims, uniform(1));
    expect(paramList(p).map((a) => Array.from(a))).toEqual(paramList(q).map((a) => Array.from(a)));
    const bound = (fanIn: number) => 1 / Math.sqrt(fanIn);
    const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbs(p.sae.W1)).toBeLessThanOrEqual(bound(dims.d));
    expect(maxAbs(p.sae.W1)).toBeGreaterThan(0.8 * bound(dims.d));
    expect(maxAbs(p.sae.b2)).toBeLessThanOrEqual(bound(dims.h));
    expect(maxAbs(p.his.A2)).toBeLessThanOrEqual(bound(dims.H));
    expect(maxAbs(p.diff.A1)).toBeGreaterThan(bound(dims.H)); // fan-in h, wider than H's bound
    expect(Array.from(initParams(dims, uniform(2)).sae.W1)).not.toEqual(Array.from(p.sae.W1));
  });

  it("map to the reference names in PyTorch [out, in] layout and back", () => {
    const p = initParams(dims, uniform(3));
    const t = toTorchTensors(p, dims);
    expect(Object.keys(t)).toEqual(PARAM_SLOTS.map((s) => s.name));
    expect(t["sae.encoder.0.weight"]!.shape).toEqual([dims.h, dims.d]);
    expect(t["align_mlp_his.0.weight"]!.shape).toEqual([dims.H, dims.h]);
    // torch W[out][in] == ours W[in][out]
    expect(t["sae.encoder.0.weight"]!.data[2 * dims.d + 5]).toBe(p.sae.W1[5 * dims.h + 2]);
    expect(t["align_mlp_diff.2.weight"]!.data[3 * dims.H + 7]).toBe(p.diff.A2[7 * dims.H + 3]);
    const back = fromTorchTensors(new Map(Object.entries(t)), dims, "test");
    expect(paramList(back).map((a) => Array.from(a))).toEqual(paramList(p).map((a) => Array.from(a)));
    const broken = new Map(Object.entries(t));
    broken.set("sae.decoder.0.bias", { shape: [3], data: new Float32Array(3) });
    expect(() => fromTorchTensors(broken, dims, "ckpt.safetensors")).toThrow(
      /sae.decoder.0.bias has shape \[3\]/,
    );
    broken.set("sae.decoder.0.bias", t["sae.decoder.0.bias"]!);
    broken.delete("align_mlp_his.2.bias");
    expect(() => fromTorchTensors(broken, dims, "x")).toThrow(/align_mlp_his.2.bias is missing/);
  });
});

describe("DepModel", () => {
  it("routes his rows to one projector and diff rows to the other", () => {
    const model = new DepModel(dims, initParams(dims, uniform(4)), { threads: 2, backend: "reference" });
    const { X, k } = batch([3, 1], 5);
    const f = model.forward(X, k);
    expect(f.soft.map((s) => s.length)).toEqual([6 * dims.H, 2 * dims.H]);
    // swapping the projectors swaps his and diff outputs
    const swapped = new DepModel(
      dims,
      { ...model.params, his: model.params.diff, diff: model.params.his },
      model.kernel,
    );
    const g = swapped.forward(X, k);
    expect(f.soft[0]!.length).toBe(g.soft[0]!.length);
    expect(Array.from(f.soft[0]!.subarray(0, dims.H))).not.toEqual(
      Array.from(g.soft[0]!.subarray(0, dims.H)),
    );
    expect(Number.isFinite(f.saeLoss) && f.saeLoss > 0).toBe(true);
  });

  it("backward matches central finite differences of saeLoss + <R, soft>", () => {
    expect(checkGradients(dims)).toBe(36);
  });
});

/** Checks every parameter tensor's gradient at three entries against central differences; returns the count. */
function checkGradients(dimensions: DepDims, query?: Float32Array): number {
  const model = new DepModel(dimensions, initParams(dimensions, uniform(6)), {
    threads: 2,
    backend: "reference",
  });
  const { X, k } = batch([2, 3], 7);
  const r = new Rng(8);
  const f0 = model.forward(X, k, query);
  const R = f0.soft.map((s) => Float32Array.from({ length: s.length }, () => r.float() * 2 - 1));
  const objective = () => {
    const f = model.forward(X, k, query);
    let j = f.saeLoss;
    f.soft.forEach((s, b) => {
      for (let i = 0; i < s.length; i++) j += s[i]! * R[b]![i]!;
    });
    return j;
  };
  const grads = model.zeroGrads();
  model.backward(f0, R, grads);
  const params = paramList(model.params);
  const gl = paramList(grads);
  const names = paramSlots(dimensions).map((s) => s.name);
  expect(params.length).toBe(names.length);
  let checked = 0;
  for (let t = 0; t < params.length; t++) {
    const p = params[t]!;
    for (const idx of [0, Math.floor(p.length / 2), p.length - 1]) {
      const orig = p[idx]!;
      const eps = 1e-2;
      p[idx] = orig + eps;
      const up = objective();
      p[idx] = orig - eps;
      const down = objective();
      p[idx] = orig;
      const fd = (up - down) / (2 * eps);
      const an = gl[t]![idx]!;
      expect(Math.abs(fd - an), `${names[t]}[${idx}]: fd ${fd} vs ${an}`).toBeLessThanOrEqual(
        2e-2 * Math.max(1, Math.abs(fd)),
      );
      checked++;
    }
  }
  return checked;
}

describe("the no-sae ablation and the pplug-style architecture", () => {
  const noSae: DepDims = { ...dims, architecture: "no-sae" };
  const pplug: DepDims = { ...dims, architecture: "pplug" };
  const query = (() => {
    const r = new Rng(9);
    return Float32Array.from({ length: 2 * dims.d }, () => r.float() * 2 - 1);
  })();

  it("no-sae: projectors read X directly ([H, d] first layers, no SAE tensors) and backprop exactly", () => {
    const t = toTorchTensors(initParams(noSae, uniform(1)), noSae);
    expect(Object.keys(t)).toEqual(PARAM_SLOTS.map((s) => s.name).filter((n) => !n.startsWith("sae.")));
    expect(t["align_mlp_his.0.weight"]!.shape).toEqual([dims.H, dims.d]);
    const model = new DepModel(noSae, initParams(noSae, uniform(4)), { threads: 2, backend: "reference" });
    const { X, k } = batch([3, 1], 5);
    const f = model.forward(X, k);
    expect(f.soft.map((s) => s.length)).toEqual([6 * dims.H, 2 * dims.H]);
    expect(f.saeLoss).toBe(0);
    // changing an X row changes exactly the soft row it feeds
    const X2 = X.slice();
    X2[(16 + 8) * dims.d] = (X2[(16 + 8) * dims.d] ?? 0) + 1; // sample 1, diff row 0
    const g = model.forward(X2, k);
    expect(Array.from(g.soft[0]!)).toEqual(Array.from(f.soft[0]!));
    expect(Array.from(g.soft[1]!.subarray(0, dims.H))).toEqual(Array.from(f.soft[1]!.subarray(0, dims.H)));
    expect(Array.from(g.soft[1]!.subarray(dims.H))).not.toEqual(Array.from(f.soft[1]!.subarray(dims.H)));
    expect(checkGradients(noSae)).toBe(24);
  });

  it("pplug: one user token from the query-weighted mean of the his rows", () => {
    const { X, k } = batch([2, 3], 7);
    const { u, weights } = inputAwareMean(X, k, query, dims.d);
    expect(weights.length).toBe(5);
    expect(weights[0]! + weights[1]!).toBeCloseTo(1, 6);
    expect(weights[2]! + weights[3]! + weights[4]!).toBeCloseTo(1, 6);
    // a query equal to one history row puts the most weight on it
    const q = Float32Array.from({ length: 2 * dims.d }, (_, j) =>
      j < dims.d ? X[j + dims.d]! : X[(16 + 2) * dims.d + j - dims.d]!,
    );
    const w = inputAwareMean(X, k, q, dims.d).weights;
    expect(w[1]).toBeGreaterThan(w[0]!);
    expect(w[4]).toBeGreaterThan(Math.max(w[2]!, w[3]!));
    // u is the weighted sum of the rows
    for (const j of [0, 5, dims.d - 1])
      expect(u[j]!).toBeCloseTo(weights[0]! * X[j]! + weights[1]! * X[dims.d + j]!, 5);
    const t = toTorchTensors(initParams(pplug, uniform(1)), pplug);
    expect(Object.keys(t)).toEqual(
      PARAM_SLOTS.map((s) => s.name).filter((n) => n.startsWith("align_mlp_his.")),
    );
    const model = new DepModel(pplug, initParams(pplug, uniform(4)), { threads: 2, backend: "reference" });
    expect(model.forward(X, k, query).soft.map((s) => s.length)).toEqual([dims.H, dims.H]);
    expect(() => model.forward(X, k)).toThrow(/needs a query embedding/);
    expect(checkGradients(pplug, query)).toBe(12);
  });
});
