// The native training engine against the ggml gradient graph (the oracle, itself checked against PyTorch
// autograd and finite differences in grad.test.ts) on tiny random-weight GGUFs: llama (separate output head)
// and qwen2 (q/k/v biases, tied output), both with grouped-query attention and random norms; F32 and bf16;
// soft rows at the start, in the middle and at the end, several ranges, a shared prefix; errors; lifetime.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeNormal, type TinyArch, writeTinyModel } from "../gguf/index.js";
import { defaultGradEngineDtype, GradEngine, type GradEngineDtype, gradEngineBuild } from "./GradEngine.js";
import { Llm } from "./Llm.js";
import type { Segment } from "./types.js";

const dir = mkdtempSync(join(tmpdir(), "dep-engine-"));
const paths: Record<TinyArch, string> = {
  llama: join(dir, "tiny-llama.gguf"),
  qwen2: join(dir, "tiny-qwen2.gguf"),
};
writeTinyModel(paths.llama, { arch: "llama", seed: 41, randomNorms: true, nHead: 8, nHeadKv: 2 });
writeTinyModel(paths.qwen2, { arch: "qwen2", seed: 42, randomNorms: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = gradEngineBuild();
const dtypes: GradEngineDtype[] = build.dtypes;

function randomRows(n: number, nEmbd: number, seed: number, scale = 1): Float32Array {
  const normal = makeNormal(seed);
  return Float32Array.from({ length: n * nEmbd }, () => normal() * scale);
}

function compare(a: Float32Array[], ref: Float32Array[]): { relL2: number; cosine: number } {
  let d = 0;
  let n = 0;
  let ab = 0;
  let aa = 0;
  a.forEach((g, k) => {
    const r = ref[k]!;
    g.forEach((v, i) => {
      d += (v - r[i]!) ** 2;
      n += r[i]! ** 2;
      ab += v * r[i]!;
      aa += v * v;
    });
  });
  return { relL2: Math.sqrt(d / n), cosine: ab / Math.sqrt(aa * n) };
}

const tolerance = {
  f32: { loss: 1e-5, relL2: 1e-4, cosine: 0.99999 },
  bf16: { loss: 1e-2, relL2: 3e-2, cosine: 0.995 },
};

describe.each(["llama", "qwen2"] as const)("tiny %s: native engine vs the ggml graph", (arch) => {
  let llm: Llm;
  let nEmbd: number;
  beforeAll(async () => {
    llm = await Llm.load(paths[arch], { threads: 2, contextSize: 256 });
    nEmbd = llm.info.nEmbd;
  });
  afterAll(async () => {
    await llm.dispose();
  });

  const prompts = (): Array<[string, Segment[]]> => {
    const head = llm.tokenize("System: you review products.", { addSpecial: true });
    const mid = llm.tokenize(" The user wrote:");
    return [
      ["soft rows first", [{ embeddings: randomRows(3, nEmbd, 1) }, { tokens: mid }]],
      [
        "soft rows after a shared prefix",
        [{ tokens: head }, { embeddings: randomRows(4, nEmbd, 2) }, { tokens: mid }],
      ],
      [
        "two soft ranges",
        [
          { tokens: head },
          { embeddings: randomRows(2, nEmbd, 3) },
          { tokens: mid },
          { embeddings: randomRows(5, nEmbd, 4) },
        ],
      ],
      [
        "soft rows last, right before the targets",
        [{ tokens: head }, { embeddings: randomRows(2, nEmbd, 5) }],
      ],
      ["text segments, no soft rows", [{ text: "Review:" }, { text: " a kettle" }]],
    ];
  };

  it.each(dtypes)("%s: loss and grads match the oracle on every layout", async (dtype) => {
    const targets = llm.tokenize(" Great kettle, boils fast and looks nice");
    await using engine = await llm.createGradEngine({ threads: 2, dtype });
    expect(engine.info.dtype).toBe(dtype);
    expect(engine.info.nEmbd).toBe(nEmbd);
    expect(engine.info.weightBytes).toBeGreaterThan(0);
    const tol = tolerance[dtype];
    for (const [name, segments] of prompts()) {
      const ref = await llm.lossAndGrad(segments, targets);
      const got = await engine.lossAndGrad(segments, targets);
      expect(got.nPositions, name).toBe(ref.nPositions);
      expect(got.nTokens, name).toBe(ref.nTokens);
      expect(got.grads.length, name).toBe(ref.grads.length);
      expect(Math.abs(got.loss - ref.loss) / ref.loss, name).toBeLessThanOrEqual(tol.loss);
      if (ref.grads.length > 0) {
        const c = compare(got.grads, ref.grads);
        expect(c.relL2, name).toBeLessThanOrEqual(tol.relL2);
        expect(c.cosine, name).toBeGreaterThanOrEqual(tol.cosine);
      }
    }
  });

  it("recomputing layers in the backward gives the same numbers", async () => {
    const [, segments] = prompts()[2]!;
    const targets = llm.tokenize(" fine");
    await using keep = await llm.createGradEngine({ threads: 2, checkpoint: "never" });
    await using again = await llm.createGradEngine({ threads: 2, checkpoint: "always" });
    const a = await keep.lossAndGrad(segments, targets);
    const b = await again.lossAndGrad(segments, targets);
    expect([a.recomputed, a.recomputedLayers]).toEqual([false, 0]);
    expect([b.recomputed, b.recomputedLayers]).toEqual([true, keep.info.nLayer]);
    expect(b.loss).toBe(a.loss);
    expect(compare(b.grads, a.grads).relL2).toBe(0);
    // no backward before the first soft row
    expect(a.firstGradPosition).toBe(
      llm.tokenize("System: you review products.", { addSpecial: true }).length,
    );
  });
});

describe("GradEngine: options, errors, lifetime", () => {
  it("reports the matmul library and a default dtype this machine runs", () => {
    expect(build.matmul).toMatch(build.onednn ? /^onednn \d/ : /^portable/);
    expect(build.dtypes).toContain("f32");
    expect(build.dtypes).toContain(defaultGradEngineDtype());
    // bf16 by default only where the CPU computes it in hardware (the matmul name says which ISA oneDNN runs)
    const bf16Units = /\((avx512_core_bf16|avx512_core_amx[^)]*)\)/.test(build.matmul);
    expect(defaultGradEngineDtype()).toBe(bf16Units ? "bf16" : "f32");
  });

  it("rejects bad input with coded errors that name the problem", async () => {
    await expect(GradEngine.load(join(dir, "missing.gguf"), { threads: 1 })).rejects.toMatchObject({
      code: "DEP_GRAD_ENGINE",
      message: /missing\.gguf/,
    });
    await expect(GradEngine.load(paths.qwen2, { threads: 0 })).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
    });
    await expect(
      GradEngine.load(paths.qwen2, { threads: 1, dtype: "f16" as GradEngineDtype }),
    ).rejects.toMatchObject({ code: "DEP_INVALID_ARGUMENT", message: /dtype/ });
    await using engine = await GradEngine.load(paths.qwen2, { threads: 1 });
    const nEmbd = engine.info.nEmbd;
    const t = Int32Array.of(5, 6);
    await expect(engine.lossAndGrad([{ text: "hi" }], t)).rejects.toMatchObject({ message: /tokenizer/ });
    await expect(engine.lossAndGrad([{ tokens: Int32Array.of(1) }], new Int32Array(0))).rejects.toMatchObject(
      {
        code: "DEP_INVALID_ARGUMENT",
      },
    );
    await expect(
      engine.lossAndGrad([{ tokens: Int32Array.of(engine.info.nVocab) }], t),
    ).rejects.toMatchObject({
      code: "DEP_GRAD",
      message: /outside the vocabulary/,
    });
    await expect(engine.lossAndGrad([{ embeddings: new Float32Array(nEmbd + 1) }], t)).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
      message: /multiple/,
    });
    const nan = new Float32Array(nEmbd);
    nan[3] = Number.NaN;
    await expect(engine.lossAndGrad([{ embeddings: nan }], t)).rejects.toMatchObject({
      message: /non-finite/,
    });
    // still usable after errors
    const ok = await engine.lossAndGrad([{ embeddings: randomRows(1, nEmbd, 9) }], t);
    expect(Number.isFinite(ok.loss)).toBe(true);
    await engine.dispose();
    await expect(engine.lossAndGrad([{ tokens: t }], t)).rejects.toMatchObject({ code: "DEP_DISPOSED" });
  });

  it("50 create/dispose cycles do not grow resident memory", async () => {
    const cycle = async () => {
      const engine = await GradEngine.load(paths.qwen2, { threads: 2 });
      await engine.lossAndGrad([{ embeddings: randomRows(2, engine.info.nEmbd, 1) }], Int32Array.of(3, 4, 5));
      await engine.dispose();
    };
    for (let i = 0; i < 5; i++) await cycle();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 50; i++) await cycle();
    const grown = process.memoryUsage().rss - before;
    // one tiny model's engine holds ~2 MB of weights: a leak per cycle would show as ~100 MB
    expect(grown).toBeLessThan(48 * 1024 * 1024);
  }, 120_000);
});
