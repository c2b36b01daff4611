// The real TinyLlama GGUF (slow tier: DEP_SLOW_TESTS=1; the model is taken from $DEP_HOME, see `pnpm assets`).
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeNormal } from "../gguf/index.js";
import { Llm } from "./Llm.js";

const slow = process.env.DEP_SLOW_TESTS === "1";
const modelPath = join(
  process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"),
  "models",
  "tinyllama-1.1b-chat-iq2_xxs.gguf",
);

describe.runIf(slow)("TinyLlama-1.1B-Chat (slow)", () => {
  let llm: Llm;
  beforeAll(async () => {
    expect(existsSync(modelPath), `${modelPath} missing: run \`pnpm assets\``).toBe(true);
    llm = await Llm.load(modelPath, { threads: 2, contextSize: 1024, gradBackward: "f16" });
  }, 300_000);
  afterAll(async () => {
    await llm?.dispose();
  });

  it("answers a chat-templated question", async () => {
    expect(llm.info.arch).toBe("llama");
    expect(llm.info.nEmbd).toBe(2048);
    expect(llm.info.nLayer).toBe(22);
    const prompt = llm.applyChatTemplate([{ role: "user", content: "What is the capital of France?" }]);
    expect(prompt).toContain("<|user|>");
    const res = await llm.complete([{ text: prompt }], { maxTokens: 24 });
    expect(res.text.trim().length).toBeGreaterThan(0);
    expect(res.tokens.length).toBeGreaterThan(0);
    console.log(
      `TinyLlama: ${JSON.stringify(res.text)} (${res.timings.generatedTokensPerSecond.toFixed(1)} tok/s)`,
    );
  }, 300_000);

  it("continues identically from token rows fed as embeddings", async () => {
    const prompt = llm.applyChatTemplate([{ role: "user", content: "Name a fruit." }]);
    const tokens = llm.tokenize(prompt, { addSpecial: true, parseSpecial: true });
    const a = await llm.complete([{ tokens }], { maxTokens: 12 });
    const b = await llm.complete([{ embeddings: llm.tokenEmbeddings(tokens) }], { maxTokens: 12 });
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
  }, 300_000);

  it("lossAndGrad: loss close to llama_decode's cross-entropy, grads match finite differences", async () => {
    const normal = makeNormal(5);
    const nEmbd = llm.info.nEmbd;
    // soft rows at the scale of real token rows
    const ref = llm.tokenEmbeddings(llm.tokenize(" the product works"));
    let rms = 0;
    for (const v of ref) rms += v * v;
    rms = Math.sqrt(rms / ref.length);
    const soft = Float32Array.from({ length: 4 * nEmbd }, () => normal() * rms);
    const head = llm.tokenize("<|user|>\nWrite a review.", { addSpecial: true, parseSpecial: true });
    const targets = llm.tokenize(" This phone is great and the battery lasts all day.");
    const res = await llm.lossAndGrad([{ tokens: head }, { embeddings: soft }], targets);
    expect(Number.isFinite(res.loss)).toBe(true);
    // llama.cpp runs the IQ2_XXS weights with 8-bit activations; the graph uses F32: close, not identical
    const logits = await llm.debugLogits(
      [{ tokens: head }, { embeddings: soft }, { tokens: targets.subarray(0, targets.length - 1) }],
      "decode",
    );
    const nVocab = llm.info.nVocab;
    const nPrompt = head.length + 4;
    let ce = 0;
    targets.forEach((t, i) => {
      const row = logits.subarray((nPrompt - 1 + i) * nVocab, (nPrompt + i) * nVocab);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      ce += -(row[t]! - max - Math.log(sum));
    });
    ce /= targets.length;
    console.log(`TinyLlama loss: graph ${res.loss.toFixed(4)} vs llama_decode ${ce.toFixed(4)}`);
    expect(Math.abs(res.loss - ce) / ce).toBeLessThan(5e-2);
    // directional derivative along the gradient
    const g = res.grads[0]!;
    let norm = 0;
    for (const v of g) norm += v * v;
    norm = Math.sqrt(norm);
    // a step that changes the loss by ~0.01 nats: small enough for the quadratic term, large against F32 noise
    const eps = 1e-2 / norm;
    const step = (s: number) => soft.map((v, i) => v + (s * eps * g[i]!) / norm);
    const up = (await llm.lossAndGrad([{ tokens: head }, { embeddings: step(1) }], targets)).loss;
    const down = (await llm.lossAndGrad([{ tokens: head }, { embeddings: step(-1) }], targets)).loss;
    const fd = (up - down) / (2 * eps);
    console.log(
      `TinyLlama directional derivative: graph ${norm.toExponential(4)} vs FD ${fd.toExponential(4)}`,
    );
    expect(Math.abs(fd - norm) / norm).toBeLessThan(2e-2);
  }, 600_000);
});
