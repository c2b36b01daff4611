import { describe, expect, it } from "vitest";
import { Rng } from "../util/rng.js";
import { DepModel } from "./DepModel.js";
import { fromTorchTensors, initParams, PARAM_SLOTS, paramList, toTorchTensors } from "./params.js";

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
    const model = new DepModel(dims, initParams(dims, uniform(6)), { threads: 2, backend: "reference" });
    const { X, k } = batch([2, 3], 7);
    const r = new Rng(8);
    const R = [2, 3].map((kb) => Float32Array.from({ length: 2 * kb * dims.H }, () => r.float() * 2 - 1));
    const objective = () => {
      const f = model.forward(X, k);
      let j = f.saeLoss;
      f.soft.forEach((s, b) => {
        for (let i = 0; i < s.length; i++) j += s[i]! * R[b]![i]!;
      });
      return j;
    };
    const grads = model.zeroGrads();
    model.backward(model.forward(X, k), R, grads);
    const params = paramList(model.params);
    const gl = paramList(grads);
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
        expect(Math.abs(fd - an), `${PARAM_SLOTS[t]!.name}[${idx}]: fd ${fd} vs ${an}`).toBeLessThanOrEqual(
          2e-2 * Math.max(1, Math.abs(fd)),
        );
        checked++;
      }
    }
    expect(checked).toBe(36);
  });
});
