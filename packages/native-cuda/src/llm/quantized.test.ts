// Quantized weights in the types ggml's CPU backend repacks at load (Q4_0 and Q4_K into CPU_REPACK on AVX2 /
// AVX-512; with DEP_GGML_AMX=ON also Q8_0 and IQ4_XS into AMX) — the path that crashed the demo on AMX
// Xeons. Every type: generation with and without soft rows, alone and batched, and lossAndGrad, with
// repacking on and off. A crash in a repacked kernel fails this file on whichever CPU runs it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendInfo } from "../backend.js";
import { writeTinyModel } from "../gguf/index.js";
import { Llm, quantizeModel } from "./Llm.js";
import type { Segment } from "./types.js";

const TYPES = ["Q4_0", "Q8_0", "Q4_K", "IQ4_XS"] as const;
// ggml-cpu's repack table on x86 (repack.cpp, ggml_repack_get_optimal_repack_type): these need AVX2
const X86_REPACKED = new Set<string>(["Q4_0", "Q4_K"]);

const dir = mkdtempSync(join(tmpdir(), "dep-quant-"));
const f32Path = join(dir, "tiny-f32.gguf");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  // K-quants and IQ4_XS work in blocks of 256: rows of 256 and 512
  writeTinyModel(f32Path, { arch: "llama", seed: 21, nEmbd: 256, nHead: 4, nHeadKv: 2, nLayer: 2, nFf: 512 });
});

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

describe.each(TYPES)("%s weights", (type) => {
  const path = join(dir, `tiny-${type}.gguf`);
  let repacked: Llm;
  let plain: Llm;
  let tokens: Int32Array;
  let softPrompt: Segment[];

  beforeAll(async () => {
    await quantizeModel(f32Path, path, type, { threads: 2, embeddingsF16: true });
    repacked = await Llm.load(path, { threads: 2, contextSize: 256, cpuRepack: true });
    plain = await Llm.load(path, { threads: 2, contextSize: 256, cpuRepack: false });
    tokens = repacked.tokenize("The quick brown fox jumps over the lazy dog and runs", { addSpecial: true });
    // soft rows that are the token rows of tokens 3..7: the prompt must continue exactly like the tokens
    softPrompt = [
      { tokens: tokens.subarray(0, 3) },
      { embeddings: repacked.tokenEmbeddings(tokens.subarray(3, 8)) },
      { tokens: tokens.subarray(8) },
    ];
  });
  afterAll(async () => {
    await repacked?.dispose();
    await plain?.dispose();
  });

  it("puts weights where this CPU and build say: repacked when on, the GGUF's layout when off", () => {
    const info = backendInfo();
    const buffers = repacked.info.weightBuffers;
    if (!info.cpu.amxCompiled) expect(buffers.AMX).toBeUndefined();
    const expectRepack =
      X86_REPACKED.has(type) &&
      info.cpu.repackTypes.includes("CPU_REPACK") &&
      info.cpuFeatures.includes("AVX2");
    if (expectRepack) expect(buffers.CPU_REPACK ?? 0).toBeGreaterThan(0);
    expect(Object.keys(plain.info.weightBuffers).filter((n) => n === "CPU_REPACK" || n === "AMX")).toEqual(
      [],
    );
  });

  it("gives the same logits and greedy text with repacking on and off", async () => {
    const segments = [{ tokens }];
    const on = await repacked.debugLogits(segments, "decode");
    const off = await plain.debugLogits(segments, "decode");
    expect(on.every(Number.isFinite)).toBe(true);
    // repacked kernels quantize activations in their own blocks: close, not bit-equal
    expect(maxAbsDiff(on, off)).toBeLessThan(0.05 * maxAbs(off));
    const a = await repacked.complete(segments, { maxTokens: 16 });
    const b = await plain.complete(segments, { maxTokens: 16 });
    expect(a.tokens.length).toBe(16);
    expect(a.text).toBe(b.text);
  });

  it("continues a soft-row prompt exactly like the same tokens, alone and batched", async () => {
    for (const llm of [repacked, plain]) {
      const fromTokens = await llm.complete([{ tokens }], { maxTokens: 16 });
      const fromSoft = await llm.complete(softPrompt, { maxTokens: 16 });
      expect(fromSoft.promptPositions).toBe(tokens.length);
      expect(fromSoft.text).toBe(fromTokens.text);
      const short = await llm.complete([{ tokens: tokens.subarray(0, 5) }], { maxTokens: 16 });
      const batch = await llm.generateBatch([[{ tokens }], softPrompt, [{ tokens: tokens.subarray(0, 5) }]], {
        maxTokens: 16,
        parallel: 3,
      });
      expect(batch.map((r) => r.text)).toEqual([fromTokens.text, fromTokens.text, short.text]);
    }
  });

  it("computes lossAndGrad over the dequantized weights, close to llama.cpp's own logits", async () => {
    const graph = await repacked.debugLogits(softPrompt, "graph");
    const decode = await plain.debugLogits(softPrompt, "decode");
    // the gradient graph runs F32 activations over dequantized weights; llama.cpp quantizes activations
    expect(maxAbsDiff(graph, decode)).toBeLessThan(0.05 * maxAbs(decode));
    const targets = tokens.subarray(1, 6);
    const r = await repacked.lossAndGrad(softPrompt, targets);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.grads).toHaveLength(1);
    expect(r.grads[0]?.length).toBe(5 * repacked.info.nEmbd);
    expect(r.grads[0]?.every(Number.isFinite)).toBe(true);
    expect(maxAbs(r.grads[0] ?? new Float32Array())).toBeGreaterThan(0);
    await repacked.releaseGradients();
  });
});
