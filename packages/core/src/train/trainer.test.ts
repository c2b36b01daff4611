import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Llm } from "@dep/native-cuda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256File } from "../assets.js";
import { embedDataset } from "../embed/embedDataset.js";
import { generatePredictions } from "../generate/generate.js";
import { DepModel } from "../model/DepModel.js";
import { bagOfWordsEmbedder, type TrainFixture, trainFixture } from "../testing/fixtures.js";
import { checkpointVariant, loadModelCheckpoint } from "./checkpoint.js";
import { epochOrder, initialMarkerRows, loadTrainingSamples, type TrainOptions, train } from "./trainer.js";

let fx: TrainFixture;
let llm: Llm;
beforeAll(async () => {
  fx = await trainFixture();
  llm = await fx.loadLlm();
}, 300_000);
afterAll(async () => {
  await llm?.dispose();
  fx?.cleanup();
});

const options = (outDir: string): TrainOptions => ({
  llm,
  dataDir: fx.dataDir,
  embDir: fx.embDir,
  outDir,
  threads: 2,
  epochs: 2,
  gradAccum: 2,
  maxSamples: 5,
  maxLength: 1200,
  h: 16,
  lr: 1e-3,
  kernelBackend: "cpu",
});

describe("trainer", () => {
  it("orders each epoch by a seeded permutation", () => {
    const a = epochOrder(10, 42, 0);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(epochOrder(10, 42, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(10, 42, 1))).not.toEqual(Array.from(a));
  });

  it("trains one model over every category: each user's longest train row; val a seeded sample of the union", async () => {
    const o = { weighting: "reference" as const, prompt: "reference" as const, seed: 42 };
    const t = await loadTrainingSamples(fx.dataDir, fx.embDir, "train", o);
    const cats = new Set(t.samples.samples.map((s) => s.category));
    expect(cats.size).toBeGreaterThan(1); // the synthetic fixture spreads users over the reference's categories
    expect(cats).toEqual(new Set(t.rows.map((r) => r.category)));
    const users = t.samples.samples.map((s) => `${s.category}/${s.userId}`);
    expect(new Set(users).size).toBe(users.length);
    for (const s of t.samples.samples) {
      const longest = Math.max(
        ...t.rows
          .filter((r) => r.userId === s.userId && r.category === s.category)
          .map((r) => r.profile.length),
      );
      expect(s.historyLength).toBe(longest);
    }
    const v = await loadTrainingSamples(fx.dataDir, fx.embDir, "val", o);
    expect(new Set(v.samples.samples.map((s) => s.category)).size).toBeGreaterThan(1);
    expect(v.samples.samples.length + v.samples.excluded.count).toBe(Math.min(512, v.rows.length));
  });

  it("trains, logs every step, writes epoch checkpoints, and a resumed run ends bit-identical", async () => {
    const full = await train(options(join(fx.dir, "full")));
    expect(full.epochCheckpoints).toHaveLength(2);
    expect(full.optimizerSteps).toBe(6); // ceil(5 / 2) updates per epoch
    const log = readFileSync(join(fx.dir, "full", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log).toHaveLength(10);
    expect(log[0].lr).toBe(0); // HF schedule: the first update runs at lr 0 while warming up
    // the reference recipe is the default (issue 14): recorded in the run and in every checkpoint
    const settings = JSON.parse(readFileSync(join(fx.dir, "full", "run.json"), "utf8")).settings;
    expect(settings).toMatchObject({
      init: "reference",
      maxGradNorm: 1,
      decayBiases: false,
      lossScaling: "reference",
      saeRows: "all",
      prompt: "reference",
      chatTemplate: "reference",
    });
    const ckpt = JSON.parse(readFileSync(join(full.epochCheckpoints[0]!, "config.json"), "utf8"));
    expect(ckpt.hyperparameters).toMatchObject({
      init: "reference",
      prompt: "reference",
      lossScaling: "reference",
    });
    // --markers rows (the default): 4 frozen N(0, 0.02) rows, saved with every checkpoint and never trained
    const [e1, e2] = await Promise.all(full.epochCheckpoints.map((c) => loadModelCheckpoint(c)));
    expect(e1!.markerRows).toEqual(initialMarkerRows(llm.info.nEmbd, 42));
    expect(e2!.markerRows).toEqual(e1!.markerRows);
    // every update logs its gradient norm before clipping
    expect(log.filter((l) => "grad_norm" in l && l.grad_norm !== null).length).toBe(full.optimizerSteps);

    // interrupt after 3 samples (mid-accumulation), then resume
    const controller = new AbortController();
    let seen = 0;
    const part = await train({
      ...options(join(fx.dir, "resumed")),
      signal: controller.signal,
      onProgress: () => {
        if (++seen === 3) controller.abort();
      },
    });
    expect(part.interrupted).toBe(true);
    await expect(train(options(join(fx.dir, "resumed")))).rejects.toMatchObject({ code: "DEP_USAGE" });
    const rest = await train({ ...options(join(fx.dir, "resumed")), resume: true });
    expect(rest.interrupted).toBe(false);
    expect(rest.optimizerSteps).toBe(6);
    const a = await loadModelCheckpoint(join(fx.dir, "full", "checkpoints", "epoch-2"));
    const b = await loadModelCheckpoint(join(fx.dir, "resumed", "checkpoints", "epoch-2"));
    expect(Buffer.from(b.params.his.A2.buffer).equals(Buffer.from(a.params.his.A2.buffer))).toBe(true);
    expect(Buffer.from(b.params.sae.W1.buffer).equals(Buffer.from(a.params.sae.W1.buffer))).toBe(true);
    const resumedLog = readFileSync(join(fx.dir, "resumed", "metrics.jsonl"), "utf8");
    // the resumed log holds the same steps with the same losses (only the timings differ)
    const strip = (text: string) =>
      text
        .trim()
        .split("\n")
        .map((l) =>
          Object.fromEntries(Object.entries(JSON.parse(l)).filter(([key]) => !key.startsWith("seconds"))),
        );
    expect(strip(resumedLog)).toEqual(strip(readFileSync(join(fx.dir, "full", "metrics.jsonl"), "utf8")));

    // the weights moved
    const init = await train({ ...options(join(fx.dir, "zero")), lr: 0, epochs: 1 });
    const z = await loadModelCheckpoint(init.epochCheckpoints[0]!);
    expect(Buffer.from(z.params.his.A2.buffer).equals(Buffer.from(a.params.his.A2.buffer))).toBe(false);
  }, 600_000);

  it("trains the no-sae ablation and the pplug-style baseline, each with only its own tensors", async () => {
    const noSae = await train({ ...options(join(fx.dir, "no-sae")), variant: "no-sae", epochs: 1 });
    const n = await loadModelCheckpoint(noSae.epochCheckpoints[0]!);
    expect(n.config.architecture).toBe("no-sae");
    expect(checkpointVariant(n.config)).toBe("no-sae");
    expect(n.config.llm).toEqual({
      file: "tiny.gguf",
      sha256: await sha256File(fx.modelPath),
      nEmbd: llm.info.nEmbd,
    });
    expect(n.params.sae.W1.length).toBe(0);
    expect(n.params.his.A1.length).toBe(n.config.d * n.config.H);
    const log = readFileSync(join(fx.dir, "no-sae", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(log.map((l) => JSON.parse(l).loss_sae)).toEqual(new Array(log.length).fill(0));

    // pplug-style embeds the target item: without `dep embed --items` it says so
    await expect(
      train({ ...options(join(fx.dir, "pplug-no-items")), variant: "pplug-style", epochs: 1 }),
    ).rejects.toMatchObject({ code: "DEP_EMBED_MISSING", message: expect.stringMatching(/--items/) });
    await embedDataset({
      dataDir: fx.dataDir,
      embedder: bagOfWordsEmbedder(),
      outDir: fx.embDir,
      items: true,
    });
    const pplug = await train({ ...options(join(fx.dir, "pplug")), variant: "pplug-style", epochs: 1 });
    const p = await loadModelCheckpoint(pplug.epochCheckpoints[0]!);
    expect(p.config.architecture).toBe("pplug");
    expect(p.params.diff.A1.length).toBe(0);
    const model = new DepModel(p.config, p.params, { threads: 2, backend: "cpu" });
    const outFile = join(fx.dir, "pplug", "preds.jsonl");
    const common = {
      llm,
      model,
      dataDir: fx.dataDir,
      embDir: fx.embDir,
      outFile,
      maxSamples: 2,
      maxTokens: 4,
      maxLength: 1200,
    };
    await expect(generatePredictions({ ...common, method: "dep" })).rejects.toMatchObject({
      code: "DEP_USAGE",
    });
    const g = await generatePredictions(common);
    expect(g.written).toBe(2);
    const lines = readFileSync(outFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.method)).toEqual(["pplug-style", "pplug-style"]);
  }, 600_000);

  it("refuses to resume with other settings", async () => {
    await expect(train({ ...options(join(fx.dir, "full")), resume: true, gradAccum: 3 })).rejects.toThrow(
      /other settings/,
    );
  });
});
