// `explain` on the synthetic data, whose planted traits are known: single SAE units recover the users'
// writing style well above chance (held-out, cross-validated AUC), and shuffling which user has which
// traits destroys it. Slow tier (DEP_SLOW_TESTS=1): USE-lite embeds the ~1,900 review texts of 80 users.
// The SAE is the trainer's initialisation (seed 42), so the figures are exactly reproducible; the demo test
// runs explain on a trained checkpoint.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEmbedder,
  embedDataset,
  Rng,
  runInitialParams,
  saveModelCheckpoint,
  synthesize,
} from "@dep/core";
import { afterAll, describe, expect, it } from "vitest";
import { explain } from "./explain.js";

const dir = mkdtempSync(join(tmpdir(), "dep-explain-"));
afterAll(() => {
  if (!process.env.DEP_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

/** Style traits: the register (4 classes) and a habit of exclamation marks. */
const isStyle = (trait: string) => trait.startsWith("register=") || trait.startsWith("exclamation");
describe.runIf(process.env.DEP_SLOW_TESTS === "1")("explain on synthetic users (slow)", () => {
  it("recovers the planted style traits with single units, and not when traits are shuffled", async () => {
    const dataDir = join(dir, "data");
    const embDir = join(dir, "emb");
    await synthesize({ users: 80, seed: 42, outDir: dataDir, categories: ["Books"] });
    const embedder = await createEmbedder("use-lite");
    await embedDataset({ dataDir, embedder, outDir: embDir });
    await embedder.dispose?.();
    const dims = { d: 512, h: 512, H: 16, architecture: "dep" as const };
    const checkpoint = join(dir, "ckpt");
    await saveModelCheckpoint(checkpoint, runInitialParams(dims, 42), {
      format: "dep-checkpoint/1",
      ...dims,
      linearOutput: false,
      llm: { file: "(none: explain reads only the SAE)", sha256: null, nEmbd: 16 },
      embedder: "use-lite",
      hyperparameters: {},
      epoch: null,
      optimizerStep: 0,
    });
    const kernel = { threads: Number(process.env.DEP_THREADS ?? 1) };
    const r = await explain({ checkpoint, dataDir, embDir, seed: 42, kernel });
    expect(r.users).toHaveLength(80);
    expect(r.units).toHaveLength(512);
    const style = r.traits!.entries.filter((e) => isStyle(e.trait) && e.rows === "his");
    expect(style.map((e) => e.trait)).toEqual([
      "register=academic",
      "register=casual",
      "register=enthusiastic",
      "register=plain",
      "exclamation_rate>median",
    ]);
    const styleMean = style.reduce((a, e) => a + e.heldOutAuc, 0) / style.length;
    console.log(
      `trait recovery (80 users, seed 42): style traits ${styleMean.toFixed(3)} (${style.map((e) => `${e.trait} ${e.heldOutAuc.toFixed(3)}`).join(", ")}), all ${r.traits!.meanHeldOutAuc.toFixed(3)} (chance 0.5)`,
    );
    // the margin this test states: style traits on average at least 0.2 above chance (0.750 measured at seed
    // 42 with the reference initialisation N(0, 0.02), 0.84 with PyTorch's default; the weakest, casual
    // register, 0.583), every one of them above chance by 0.05, and all traits together above 0.6
    expect(styleMean).toBeGreaterThan(0.7);
    for (const e of style) expect(e.heldOutAuc, e.trait).toBeGreaterThan(0.55);
    expect(r.traits!.meanHeldOutAuc).toBeGreaterThan(0.6);

    // control: the same users with each other's traits
    const lines = readFileSync(join(dataDir, "traits.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const ids = new Rng(7).shuffle(lines.map((t) => t.user_id));
    const shuffled = join(dir, "traits-shuffled.jsonl");
    writeFileSync(shuffled, `${lines.map((t, i) => JSON.stringify({ ...t, user_id: ids[i] })).join("\n")}\n`);
    const control = await explain({ checkpoint, dataDir, embDir, seed: 42, kernel, traitsFile: shuffled });
    expect(Math.abs(control.traits!.meanHeldOutAuc - 0.5)).toBeLessThan(0.08);
  }, 900_000);
});
