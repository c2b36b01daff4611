import { join } from "node:path";
import type { Llm } from "@dep/native-cuda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors, toFloat32 } from "../io/safetensors.js";
import { DepModel } from "../model/DepModel.js";
import { initParams, PARAM_SLOTS, paramList } from "../model/params.js";
import { type TrainFixture, trainFixture } from "../testing/fixtures.js";
import { Rng } from "../util/rng.js";
import { dumpGrads } from "./dumpGrads.js";
import { runSample } from "./step.js";
import { loadTrainingSamples } from "./trainer.js";

let fx: TrainFixture;
let llm: Llm;
beforeAll(async () => {
  fx = await trainFixture(20, 6);
  llm = await fx.loadLlm();
}, 300_000);
afterAll(async () => {
  await llm?.dispose();
  fx?.cleanup();
});

describe("--dump-grads", () => {
  it("writes params, grads and inputs whose gradients match central finite differences of the loss", async () => {
    const { data } = await loadTrainingSamples(fx.dataDir, fx.embDir, "train", {
      weighting: "reference",
      prompt: "aligned",
      seed: 42,
      maxSamples: 3,
    });
    const sample = data.find((s) => s.k >= 2) ?? data[0]!;
    const dims = { d: 32, h: 8, H: llm.info.nEmbd };
    const rng = new Rng(1);
    const model = new DepModel(
      dims,
      initParams(dims, () => rng.float()),
      { threads: 2, backend: "reference" },
    );
    const file = join(fx.dir, "grads.safetensors");
    const maxLength = 1500;
    const r = await dumpGrads(llm, model, sample, file, maxLength);
    const dump = await readSafetensors(file);
    const t = (name: string) => dump.tensors.get(name)!;

    // inputs
    const k = r.saePairs; // the SAE sees every qualifying pair (the reference), the prompt shows r.k of them
    expect(k).toBe(sample.k);
    expect(t("x").shape).toEqual([2 * k, dims.d]);
    const ids = new Int32Array(t("input_ids").bytes.buffer);
    const slots = new Int32Array(t("slot_index").bytes.buffer);
    expect(ids.length).toBe(r.prompt.nPositions);
    expect(
      Array.from(slots)
        .filter((s) => s >= 0)
        .sort((a, b) => a - b),
    ).toEqual([...Array.from({ length: r.k }, (_, i) => i), ...Array.from({ length: r.k }, (_, i) => k + i)]);
    for (let i = 0; i < ids.length; i++) expect(ids[i] === -1).toBe(slots[i]! >= 0);
    const target = new Int32Array(t("target_ids").bytes.buffer);
    expect(target[target.length - 1]).toBe(llm.info.eos);
    const scalar = (name: string) => toFloat32(t(name))[0]!;
    expect(scalar("loss")).toBeCloseTo(
      scalar("loss_lm") + 100 * (scalar("loss_recon") + 1e-3 * scalar("loss_kl")),
      4,
    );
    for (const slot of PARAM_SLOTS) {
      expect(t(slot.name).shape).toEqual(t(`grad.${slot.name}`).shape);
    }

    // gradients vs central differences of the total loss, on a few entries of every tensor
    const lossAt = async () => {
      const s = await runSample(llm, model, sample, { maxLength });
      return s.lossLm + s.saeLoss;
    };
    const params = paramList(model.params);
    let checked = 0;
    for (const [ti, slot] of PARAM_SLOTS.entries()) {
      const grad = toFloat32(t(`grad.${slot.name}`));
      const p = params[ti]!;
      // pick the entries with the largest gradient (the torch layout index maps to ours through the transpose)
      const torchIndex = Array.from(grad.keys()).sort((a, b) => Math.abs(grad[b]!) - Math.abs(grad[a]!))[0]!;
      const shape = t(slot.name).shape;
      const ours =
        shape.length === 2
          ? (torchIndex % shape[1]!) * shape[0]! + Math.floor(torchIndex / shape[1]!)
          : torchIndex;
      const orig = p[ours]!;
      const eps = 5e-3; // large enough for F32 loss noise, small enough for the GELU/KL curvature
      p[ours] = orig + eps;
      const up = await lossAt();
      p[ours] = orig - eps;
      const down = await lossAt();
      p[ours] = orig;
      const fd = (up - down) / (2 * eps);
      const an = grad[torchIndex]!;
      expect(Math.abs(fd - an), `${slot.name}: fd ${fd} vs dumped ${an}`).toBeLessThanOrEqual(
        5e-2 * Math.max(Math.abs(an), 1e-2),
      );
      checked++;
    }
    expect(checked).toBe(12);
  }, 600_000);
});
