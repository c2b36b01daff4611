// Training as the reference (issue 14, rows 1-4): initialisation, clipping, decay groups, loss scaling.
// Expected values are computed by hand from the rules cited in the code, not read off our output.
import { describe, expect, it } from "vitest";
import { initParams, PARAM_SLOTS, paramList, zeroParams } from "../model/params.js";
import { Rng } from "../util/rng.js";
import { AdamW, clipGradNorm, REFERENCE_ADAMW } from "./optimizer.js";
import { lossWeights, runInitialParams } from "./trainer.js";

const dims = { d: 64, h: 32, H: 48 };

describe("the reference training recipe", () => {
  it("row 1: initialises weights N(0, 0.02) and biases 0 by default (torch's U(+-1/sqrt(fan_in)) on request)", () => {
    const p = runInitialParams(dims, 42);
    const named = PARAM_SLOTS.map((s) => ({ name: s.name, data: s.get(p) }));
    for (const { name, data } of named) {
      if (name.endsWith(".bias")) expect(data.every((x) => x === 0)).toBe(true);
      else {
        const mean = data.reduce((a, b) => a + b, 0) / data.length;
        const sd = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length);
        expect(Math.abs(mean)).toBeLessThan(0.002);
        expect(sd).toBeGreaterThan(0.018);
        expect(sd).toBeLessThan(0.022);
      }
    }
    const torch = runInitialParams(dims, 42, "torch");
    const rng = new Rng(42).fork("init");
    expect(paramList(torch)).toEqual(paramList(initParams(dims, () => rng.float())));
    expect(PARAM_SLOTS[1]!.get(torch).some((x) => x !== 0)).toBe(true); // torch draws biases too
  });

  it("row 2: clips the update's gradient to global norm 1.0 (DeepSpeed gradient_clipping)", () => {
    const g = zeroParams(dims);
    g.sae.W1[0] = 3;
    g.his.c2[5] = 4; // global norm 5, across tensors
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 12);
    expect(g.sae.W1[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(g.his.c2[5]).toBeCloseTo(4 / (5 + 1e-6), 6);
    const small = zeroParams(dims);
    small.sae.b1[0] = 0.5;
    clipGradNorm(small, 1);
    expect(small.sae.b1[0]).toBe(0.5); // below the limit: untouched
  });

  it("row 3: decays weights but not biases (HF Trainer's decay groups)", () => {
    const p = zeroParams(dims);
    for (const a of paramList(p)) a.fill(2);
    const opt = new AdamW(REFERENCE_ADAMW, dims, { backend: "reference", threads: 1 });
    const lr = 0.1;
    opt.update(p, zeroParams(dims), lr); // zero gradient: only the decoupled decay moves anything
    const decayed = 2 * (1 - lr * REFERENCE_ADAMW.weightDecay);
    for (const s of PARAM_SLOTS) {
      const want = s.name.endsWith(".bias") ? 2 : decayed;
      expect(Math.abs(s.get(p)[0]! - want), s.name).toBeLessThan(1e-6);
    }
  });

  it("row 4: reference scaling = token-weighted LM mean over the window + the sum of the SAE terms", () => {
    // window of 3 samples with 10, 30, 60 target tokens, accumulation 16
    const w = [10, 30, 60].map((n) => lossWeights("reference", n, 100, 16));
    // d/dtheta of sum_i sum_t CE_it / 100 + sum_i SAE_i, from per-sample means CE_i = sum_t CE_it / n_i
    expect(w.map((x) => x.lmWeight * x.gradScale)).toEqual([0.1, 0.3, 0.6]);
    expect(w.map((x) => x.gradScale)).toEqual([1, 1, 1]); // SAE terms count in full
    const mean = lossWeights("mean", 10, 100, 16);
    expect(mean.lmWeight * mean.gradScale).toBe(1 / 16);
    expect(mean.gradScale).toBe(1 / 16);
  });
});
