import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensorsHeader } from "../io/safetensors.js";
import { initParams, paramList, zeroParams } from "../model/params.js";
import { Rng } from "../util/rng.js";
import { loadModelCheckpoint, type ModelCheckpointConfig, saveModelCheckpoint } from "./checkpoint.js";
import { linearWarmupDecay } from "./schedule.js";
import { loadTrainerState, saveTrainerState } from "./state.js";

const dir = mkdtempSync(join(tmpdir(), "dep-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dims = { d: 6, h: 4, H: 5 };
const rand = (seed: number) => {
  const r = new Rng(seed);
  return () => r.float();
};
const config: ModelCheckpointConfig = {
  format: "dep-checkpoint/1",
  ...dims,
  linearOutput: false,
  llm: { file: "tiny.gguf", sha256: null, nEmbd: dims.H },
  embedder: "use-lite",
  hyperparameters: { lr: 1e-5 },
  epoch: 1,
  optimizerStep: 3,
};

describe("checkpoints", () => {
  it("round-trip under the reference names and layouts, replacing an older one atomically", async () => {
    const p = initParams(dims, rand(1));
    const ckpt = join(dir, "epoch-1");
    await saveModelCheckpoint(ckpt, initParams(dims, rand(9)), config);
    await saveModelCheckpoint(ckpt, p, config);
    const header = await readSafetensorsHeader(join(ckpt, "model.safetensors"));
    expect(header.tensors.get("sae.encoder.0.weight")?.shape).toEqual([dims.h, dims.d]);
    expect(header.tensors.get("align_mlp_diff.2.weight")?.shape).toEqual([dims.H, dims.H]);
    expect(header.tensors.size).toBe(12);
    const back = await loadModelCheckpoint(ckpt);
    expect(back.config.optimizerStep).toBe(3);
    expect(paramList(back.params).map((a) => Array.from(a))).toEqual(paramList(p).map((a) => Array.from(a)));
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]); // no temp folders left
  });

  it("names a missing or corrupt checkpoint", async () => {
    await expect(loadModelCheckpoint(join(dir, "nope"))).rejects.toMatchObject({ code: "DEP_CHECKPOINT" });
    const ckpt = join(dir, "corrupt");
    await saveModelCheckpoint(ckpt, initParams(dims, rand(2)), config);
    truncateSync(join(ckpt, "model.safetensors"), 200);
    await expect(loadModelCheckpoint(ckpt)).rejects.toMatchObject({ code: "DEP_CHECKPOINT" });
    writeFileSync(join(ckpt, "config.json"), "{");
    await expect(loadModelCheckpoint(ckpt)).rejects.toThrow(/config.json: not valid JSON/);
  });

  it("saves and restores the whole trainer state", async () => {
    const run = join(dir, "run");
    const s = {
      position: {
        epoch: 1,
        position: 7,
        microStep: 23,
        optimizerStep: 2,
        accumulated: 7,
        metricsLines: 23,
        configHash: "abc",
      },
      params: initParams(dims, rand(3)),
      m: initParams(dims, rand(4)),
      // second moments are never negative (a loaded state with v < 0 is refused)
      v: initParams(dims, rand(5)),
      grads: initParams(dims, rand(6)),
    };
    for (const a of paramList(s.v)) a.set(a.map(Math.abs));
    await saveTrainerState(run, s, dims);
    const into = {
      position: { ...s.position, epoch: 0 },
      params: zeroParams(dims),
      m: zeroParams(dims),
      v: zeroParams(dims),
      grads: zeroParams(dims),
    };
    const pos = await loadTrainerState(run, into, dims);
    expect(pos).toEqual(s.position);
    for (const key of ["params", "m", "v", "grads"] as const) {
      expect(paramList(into[key]).map((a) => Array.from(a))).toEqual(
        paramList(s[key]).map((a) => Array.from(a)),
      );
    }
    expect(existsSync(join(run, "state", "trainer_state.json"))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, "state", "trainer_state.json"), "utf8")).position).toBe(7);
  });
});

describe("learning-rate schedule", () => {
  it("warms up linearly over ceil(1%) of the updates, then decays linearly to 0 (HF semantics)", () => {
    const s = linearWarmupDecay(1e-5, 250, 0.01);
    expect(s.warmupSteps).toBe(3);
    expect(s.lr(0)).toBe(0);
    expect(s.lr(1)).toBeCloseTo(1e-5 / 3, 15);
    expect(s.lr(3)).toBeCloseTo(1e-5, 15);
    expect(s.lr(126.5)).toBeCloseTo(0.5e-5, 15);
    expect(s.lr(250)).toBe(0);
    expect(linearWarmupDecay(1e-3, 10, 0).lr(0)).toBe(1e-3);
  });
});
