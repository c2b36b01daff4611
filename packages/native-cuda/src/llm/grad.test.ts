// Soft prompts and gradients on tiny random-weight GGUFs of both architectures: embedding rows vs tokens,
// the hand-built graph vs llama_decode, the loss vs cross-entropy of llama_decode's logits, gradients vs
// central finite differences, batched vs single generation, errors, event loop, memory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeNormal, type TinyArch, writeTinyModel } from "../gguf/index.js";
import { Llm } from "./Llm.js";
import type { GenerationResult, Segment } from "./types.js";

const dir = mkdtempSync(join(tmpdir(), "dep-grad-"));
const paths: Record<TinyArch, string> = {
  llama: join(dir, "tiny-llama.gguf"),
  qwen2: join(dir, "tiny-qwen2.gguf"),
};
writeTinyModel(paths.llama, { arch: "llama", seed: 21, randomNorms: true });
writeTinyModel(paths.qwen2, { arch: "qwen2", seed: 22, randomNorms: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomRows(n: number, nEmbd: number, seed: number, scale = 1): Float32Array {
  const normal = makeNormal(seed);
  return Float32Array.from({ length: n * nEmbd }, () => normal() * scale);
}

/** Mean CE of `labels` at rows `rows` of logits [nPos, nVocab], in float64. */
function crossEntropy(
  logits: Float32Array,
  nVocab: number,
  rows: number[],
  labels: ArrayLike<number>,
): number {
  let total = 0;
  rows.forEach((r, i) => {
    const row = logits.subarray(r * nVocab, (r + 1) * nVocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += -(row[labels[i] as number]! - max - Math.log(sum));
  });
  return total / rows.length;
}

describe.each(["llama", "qwen2"] as const)("tiny %s: soft prompts and gradients", (arch) => {
  let llm: Llm;
  let nEmbd: number;
  beforeAll(async () => {
    llm = await Llm.load(paths[arch], { threads: 2, contextSize: 256 });
    nEmbd = llm.info.nEmbd;
  });
  afterAll(async () => {
    await llm.dispose();
  });

  it("tokenEmbeddings rows fed as embeddings continue exactly like the tokens (greedy)", async () => {
    const tokens = llm.tokenize("Once upon a time, in a quiet village", { addSpecial: true });
    const rows = llm.tokenEmbeddings(tokens);
    expect(rows).toBeInstanceOf(Float32Array);
    expect(rows.length).toBe(tokens.length * nEmbd);
    expect(rows.some((v) => v !== 0)).toBe(true);
    const a = await llm.complete([{ tokens }], { maxTokens: 16 });
    const b = await llm.complete([{ embeddings: rows }], { maxTokens: 16 });
    const c = await llm.complete(
      [{ tokens: tokens.subarray(0, 3) }, { embeddings: rows.subarray(3 * nEmbd) }],
      { maxTokens: 16 },
    );
    expect(a.tokens.length).toBe(16);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    expect(Array.from(c.tokens)).toEqual(Array.from(a.tokens));
    // different rows give a different continuation (the test can fail)
    const d = await llm.complete([{ embeddings: randomRows(tokens.length, nEmbd, 3) }], { maxTokens: 16 });
    expect(Array.from(d.tokens)).not.toEqual(Array.from(a.tokens));
  });

  it("gradient-graph logits match llama_decode on a mixed sequence", async () => {
    // an F32 KV cache without flash attention: with llama.cpp's defaults (F16 K/V) the large logits of these
    // random models (std ~8) differ by ~2e-2 from the F32 graph
    const exact = await Llm.load(paths[arch], { threads: 2, contextSize: 256, kvCacheType: "f32" });
    const segments: Segment[] = [
      { tokens: llm.tokenize("The review says", { addSpecial: true }) },
      { embeddings: randomRows(3, nEmbd, 5) },
      { tokens: llm.tokenize(" that the product") },
    ];
    const g = await exact.debugLogits(segments, "graph");
    const d = await exact.debugLogits(segments, "decode");
    const d16 = await llm.debugLogits(segments, "decode");
    await exact.dispose();
    expect(g.length).toBe(d.length);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < g.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - d[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(d[i]!));
    }
    expect(maxAbs).toBeGreaterThan(0.5); // logits are not trivially small
    expect(maxDiff).toBeLessThanOrEqual(1e-2);
    // the default F16 cache stays close too
    let maxDiff16 = 0;
    for (let i = 0; i < g.length; i++) maxDiff16 = Math.max(maxDiff16, Math.abs(g[i]! - d16[i]!));
    expect(maxDiff16).toBeLessThanOrEqual(5e-2);
  });

  it("loss equals the cross-entropy of llama_decode's logits", async () => {
    const prompt: Segment[] = [
      { tokens: llm.tokenize("User:", { addSpecial: true }) },
      { embeddings: randomRows(4, nEmbd, 7) },
      { tokens: llm.tokenize(" Write a review.") },
    ];
    const targets = llm.tokenize(" Great phone, the battery lasts long");
    const res = await llm.lossAndGrad(prompt, targets);
    expect(res.nTokens).toBe(targets.length);
    expect(res.grads).toHaveLength(1);
    expect(res.grads[0]!.length).toBe(4 * nEmbd);
    const nPrompt =
      (prompt[0] as { tokens: Int32Array }).tokens.length +
      4 +
      (prompt[2] as { tokens: Int32Array }).tokens.length;
    expect(res.nPositions).toBe(nPrompt + targets.length - 1);
    const logits = await llm.debugLogits(
      [...prompt, { tokens: targets.subarray(0, targets.length - 1) }],
      "decode",
    );
    const rows = Array.from(targets, (_, i) => nPrompt - 1 + i);
    const ce = crossEntropy(logits, llm.info.nVocab, rows, targets);
    expect(Math.abs(res.loss - ce) / ce).toBeLessThanOrEqual(1e-3);
  });

  it("grads match central finite differences of the loss", async () => {
    const soft1 = randomRows(2, nEmbd, 11);
    const soft2 = randomRows(3, nEmbd, 12);
    const head = llm.tokenize("Profile:", { addSpecial: true });
    const mid = llm.tokenize(" and then");
    const targets = llm.tokenize(" it works well");
    const loss = async (a: Float32Array, b: Float32Array) =>
      (
        await llm.lossAndGrad(
          [{ tokens: head }, { embeddings: a }, { tokens: mid }, { embeddings: b }],
          targets,
        )
      ).loss;
    const base = await llm.lossAndGrad(
      [{ tokens: head }, { embeddings: soft1 }, { tokens: mid }, { embeddings: soft2 }],
      targets,
    );
    expect(base.grads).toHaveLength(2);
    const [g1, g2] = base.grads as [Float32Array, Float32Array];
    expect(g1.some((v) => v !== 0) && g2.some((v) => v !== 0)).toBe(true);
    // directional derivatives: along the gradient itself, then along random unit directions
    const eps = 1e-2;
    let gNorm = 0;
    for (const v of g1) gNorm += v * v;
    for (const v of g2) gNorm += v * v;
    gNorm = Math.sqrt(gNorm);
    expect(gNorm).toBeGreaterThan(1e-3);
    const directions: Array<[Float32Array, Float32Array]> = [[g1, g2]];
    for (const seed of [31, 32])
      directions.push([randomRows(2, nEmbd, seed), randomRows(3, nEmbd, seed + 100)]);
    for (const [k, [d1, d2]] of directions.entries()) {
      let norm = 0;
      for (const v of d1) norm += v * v;
      for (const v of d2) norm += v * v;
      norm = Math.sqrt(norm);
      const step = (x: Float32Array, d: Float32Array, s: number) =>
        x.map((v, i) => v + (s * eps * d[i]!) / norm);
      const up = await loss(step(soft1, d1, 1), step(soft2, d2, 1));
      const down = await loss(step(soft1, d1, -1), step(soft2, d2, -1));
      const fd = (up - down) / (2 * eps);
      let an = 0;
      d1.forEach((v, i) => {
        an += (g1[i]! * v) / norm;
      });
      d2.forEach((v, i) => {
        an += (g2[i]! * v) / norm;
      });
      // along the gradient: relative to the derivative; random directions: relative to |grad|
      const scale = k === 0 ? Math.abs(an) : gNorm;
      expect(Math.abs(fd - an) / scale).toBeLessThanOrEqual(2e-2);
    }
    // the largest single coordinates of each segment
    for (const [which, g] of [
      [0, g1],
      [1, g2],
    ] as const) {
      let best = 0;
      g.forEach((v, i) => {
        if (Math.abs(v) > Math.abs(g[best]!)) best = i;
      });
      const bump = (s: number) => {
        const a = soft1.slice();
        const b = soft2.slice();
        (which === 0 ? a : b)[best]! += s * 2 * eps;
        return loss(a, b);
      };
      const fd = ((await bump(1)) - (await bump(-1))) / (4 * eps);
      expect(Math.abs(fd - g[best]!) / Math.abs(g[best]!)).toBeLessThanOrEqual(2e-2);
    }
  });

  it("generateBatch gives each request the text it gets alone (greedy)", async () => {
    const requests: Segment[][] = [
      [{ text: "Once upon a time" }],
      [{ text: "The best pizza in town" }],
      [{ tokens: llm.tokenize("Reviews:", { addSpecial: true }) }, { embeddings: randomRows(2, nEmbd, 41) }],
      [{ text: "My phone" }],
    ];
    const alone: GenerationResult[] = [];
    for (const r of requests) alone.push(await llm.complete(r, { maxTokens: 12 }));
    const batch = await llm.generateBatch(requests, { maxTokens: 12, parallel: 3 });
    expect(batch).toHaveLength(requests.length);
    batch.forEach((b, i) => {
      expect(Array.from(b.tokens)).toEqual(Array.from(alone[i]!.tokens));
      expect(b.text).toBe(alone[i]!.text);
      expect(b.stopReason).toBe(alone[i]!.stopReason);
    });
    // a stop string ends only its own request, with the same cut as alone
    const text0 = alone[0]!.text;
    const stop = text0.slice(Math.floor(text0.length / 2), Math.floor(text0.length / 2) + 2);
    if (stop.trim().length > 0) {
      const cut = await llm.generateBatch(requests.slice(0, 2), { maxTokens: 12, stop: [stop] });
      expect(cut[0]!.stopReason).toBe("stop");
      expect(cut[0]!.text).toBe(text0.slice(0, text0.indexOf(stop)));
      if (!alone[1]!.text.includes(stop)) expect(cut[1]!.text).toBe(alone[1]!.text);
    }
    // seeded sampling: one sampler per request, so the same draws as alone
    const opts = { maxTokens: 10, temperature: 0.9, topP: 0.95, seed: 5 };
    const s0 = await llm.complete(requests[0]!, opts);
    const sb = await llm.generateBatch([requests[1]!, requests[0]!], { ...opts, parallel: 2 });
    expect(Array.from(sb[1]!.tokens)).toEqual(Array.from(s0.tokens));
  });

  it("generateBatch per request: streamed text, its own token cap, stop strings and cancellation", async () => {
    const requests: Segment[][] = [
      [{ text: "Once upon a time" }],
      [{ text: "The best pizza in town" }],
      [{ text: "My phone" }],
    ];
    const alone = [];
    for (const r of requests) alone.push(await llm.complete(r, { maxTokens: 12 }));
    const pieces: string[][] = requests.map(() => []);
    const cancel = new AbortController();
    cancel.abort();
    const stop = alone[2]!.text.slice(2, 4);
    const batch = await llm.generateBatch(requests, {
      maxTokens: 12,
      parallel: 2,
      perRequest: [
        { onText: (p) => pieces[0]!.push(p) },
        { maxTokens: 5, onText: (p) => pieces[1]!.push(p) },
        { signal: cancel.signal, stop: [stop], onText: (p) => pieces[2]!.push(p) },
      ],
    });
    expect(batch[0]!.text).toBe(alone[0]!.text);
    expect(pieces[0]!.join("")).toBe(alone[0]!.text);
    expect(Array.from(batch[1]!.tokens)).toEqual(Array.from(alone[1]!.tokens.subarray(0, 5)));
    expect(batch[1]!.stopReason).toBe(alone[1]!.tokens.length > 5 ? "maxTokens" : alone[1]!.stopReason);
    expect(pieces[1]!.join("")).toBe(batch[1]!.text);
    expect(batch[2]!.stopReason).toBe("aborted");
    expect(batch[2]!.tokens.length).toBe(0);
    // a request cancelled mid-way frees its sequence: the others still finish as alone
    const mid = new AbortController();
    const r = await llm.generateBatch(requests, {
      maxTokens: 12,
      parallel: 2,
      perRequest: [{ signal: mid.signal, onText: () => mid.abort() }],
    });
    expect(r[0]!.stopReason).toBe("aborted");
    expect(r[1]!.text).toBe(alone[1]!.text);
    expect(r[2]!.text).toBe(alone[2]!.text);
  });

  it("raises coded errors for bad inputs", async () => {
    const tokens = llm.tokenize("hello", { addSpecial: true });
    await expect(llm.lossAndGrad([{ tokens }], new Int32Array(0))).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
      message: /non-empty/,
    });
    await expect(
      llm.lossAndGrad([{ embeddings: new Float32Array(nEmbd + 1) }], tokens),
    ).rejects.toMatchObject({ code: "DEP_INVALID_ARGUMENT", message: /multiple of nEmbd/ });
    await expect(llm.complete([{ embeddings: new Float32Array(nEmbd - 1) }])).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
    });
    await expect(llm.lossAndGrad([{ tokens }], Int32Array.of(llm.info.nVocab + 3))).rejects.toMatchObject({
      code: "DEP_GRAD",
      message: /outside the vocabulary/,
    });
    await expect(llm.lossAndGrad([], tokens)).rejects.toMatchObject({ code: "DEP_GRAD", message: /empty/ });
    expect(() => llm.tokenEmbeddings(Int32Array.of(-1))).toThrow(/outside the vocabulary/);
    const nan = new Float32Array(nEmbd);
    nan[3] = Number.NaN;
    await expect(llm.lossAndGrad([{ embeddings: nan }], tokens)).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
      message: /non-finite/,
    });
  });
});

describe("tiny llama: runtime behaviour", () => {
  it("keeps the event loop free during generate and lossAndGrad", async () => {
    const path = join(dir, "wider.gguf");
    writeTinyModel(path, { arch: "llama", seed: 3, nEmbd: 256, nHead: 8, nHeadKv: 4, nLayer: 4, nFf: 512 });
    const llm = await Llm.load(path, { threads: 2, contextSize: 512 });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        const before = ticks;
        await llm.complete([{ text: "Once upon a time" }], { maxTokens: 64 });
        expect(ticks).toBeGreaterThan(before);
        const soft = randomRows(16, 256, 1);
        const targets = new Int32Array(200).map((_, i) => 100 + i);
        const mid = ticks;
        const res = await llm.lossAndGrad(
          [{ embeddings: soft }, { tokens: targets.subarray(0, 150) }],
          targets,
        );
        expect(Number.isFinite(res.loss)).toBe(true);
        expect(ticks).toBeGreaterThan(mid);
      } finally {
        clearInterval(timer);
      }
    } finally {
      await llm.dispose();
    }
  });

  it("greedy text past 512 cached positions is the same for any thread count and batch composition", async () => {
    // CPU flash attention split a lone sequence's decode over the threads from 512 cells on: with 2 threads
    // the text left the 1-thread one after ~250 tokens, so sharded or resumed runs on other node sizes differed
    const words = ["the", "book", "was", "great", "and", "long", "I", "read"];
    const text = Array.from({ length: 700 }, (_, i) => words[(i * 7 + (i >> 3)) % 8]).join(" ");
    const texts: Record<string, string> = {};
    for (const threads of [1, 3]) {
      const llm = await Llm.load(paths.llama, { threads, contextSize: 1100 });
      try {
        const prompt = (from: number) => [{ tokens: llm.tokenize(text.slice(from), { addSpecial: true }) }];
        expect(prompt(0)[0]!.tokens.length).toBeGreaterThan(600);
        const opts = { maxTokens: 320, temperature: 0 };
        texts[`${threads} alone`] = (await llm.complete(prompt(0), opts)).text;
        const batch = await llm.generateBatch([prompt(0), prompt(400), prompt(900)], {
          ...opts,
          parallel: 3,
        });
        texts[`${threads} in a batch`] = batch[0]!.text;
      } finally {
        await llm.dispose();
      }
    }
    expect(texts["1 alone"]!.length).toBeGreaterThan(1000);
    for (const [run, t] of Object.entries(texts)) expect(t, run).toBe(texts["1 alone"]);
  });

  it("an AbortSignal stops lossAndGrad", async () => {
    const llm = await Llm.load(paths.llama, { threads: 2, contextSize: 256 });
    try {
      const controller = new AbortController();
      controller.abort();
      await expect(
        llm.lossAndGrad([{ text: "hi" }], llm.tokenize(" there"), { signal: controller.signal }),
      ).rejects.toMatchObject({ code: "DEP_ABORTED" });
      // the handle still works afterwards
      const ok = await llm.lossAndGrad([{ text: "hi" }], llm.tokenize(" there"));
      expect(Number.isFinite(ok.loss)).toBe(true);
    } finally {
      await llm.dispose();
    }
  });

  it("50 load/dispose cycles (with gradients) do not grow resident memory", async () => {
    const cycle = async () => {
      const llm = await Llm.load(paths.qwen2, { threads: 2, contextSize: 128 });
      await llm.lossAndGrad([{ embeddings: randomRows(2, llm.info.nEmbd, 1) }], llm.tokenize(" ok then"));
      llm.tokenEmbeddings(Int32Array.of(1, 2, 3));
      await llm.dispose();
    };
    for (let i = 0; i < 5; i++) await cycle();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 50; i++) await cycle();
    const grown = process.memoryUsage().rss - before;
    // one tiny model with its F32 graph weights is ~20 MB: a leak per cycle would show as ~1 GB
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  }, 300_000);
});

async function weightBytesOf(gradWeights: "f32" | "f16"): Promise<number> {
  const llm = await Llm.load(paths.qwen2, { threads: 2, contextSize: 128, gradWeights });
  try {
    return (
      await llm.lossAndGrad(
        [{ text: "a" }, { embeddings: new Float32Array(llm.info.nEmbd) }],
        llm.tokenize(" b"),
      )
    ).memory.weightBytes;
  } finally {
    await llm.dispose();
  }
}

describe("gradBackward / gradWeights: weight storage of the gradient graph", () => {
  it("f32 copies give the exact gradients, f16/bf16 close ones", async () => {
    const grads: Record<string, Float32Array> = {};
    let loss0 = 0;
    for (const mode of ["none", "f32", "f16", "bf16"] as const) {
      const llm = await Llm.load(paths.qwen2, { threads: 2, contextSize: 128, gradBackward: mode });
      try {
        const soft = randomRows(3, llm.info.nEmbd, 9);
        const r = await llm.lossAndGrad(
          [{ text: "Item:" }, { embeddings: soft }, { text: " review" }],
          llm.tokenize(" solid and cheap"),
        );
        grads[mode] = r.grads[0]!;
        if (mode === "none") loss0 = r.loss;
        else expect(r.loss).toBe(loss0); // the forward pass is the same F32 graph
      } finally {
        await llm.dispose();
      }
    }
    const relDiff = (a: Float32Array, b: Float32Array) => {
      let num = 0;
      let den = 0;
      a.forEach((v, i) => {
        num += (v - b[i]!) ** 2;
        den += b[i]! ** 2;
      });
      return Math.sqrt(num / den);
    };
    expect(relDiff(grads.f32!, grads.none!)).toBeLessThan(1e-4);
    expect(relDiff(grads.f16!, grads.none!)).toBeLessThan(5e-3);
    expect(relDiff(grads.bf16!, grads.none!)).toBeLessThan(3e-2);
    // F16 matrices in the forward pass too: close to the F32 graph
    const llm = await Llm.load(paths.qwen2, {
      threads: 2,
      contextSize: 128,
      gradWeights: "f16",
      gradBackward: "f16",
    });
    try {
      const soft = randomRows(3, llm.info.nEmbd, 9);
      const r = await llm.lossAndGrad(
        [{ text: "Item:" }, { embeddings: soft }, { text: " review" }],
        llm.tokenize(" solid and cheap"),
      );
      expect(Math.abs(r.loss - loss0) / loss0).toBeLessThan(1e-2);
      expect(r.loss).not.toBe(loss0);
      expect(relDiff(r.grads[0]!, grads.none!)).toBeLessThan(3e-2);
      expect(await weightBytesOf("f16")).toBeLessThan(0.75 * (await weightBytesOf("f32")));
    } finally {
      await llm.dispose();
    }
  });
});

describe("embeddings through llama.cpp embedding contexts", () => {
  it("embedTokens gives causal per-token states; embed pools them (mean for a model without pooling)", async () => {
    const llm = await Llm.load(paths.llama, { threads: 2, contextSize: 128 });
    try {
      const full = await llm.embedTokens("The quick brown fox jumps");
      expect(full.width).toBe(llm.info.nEmbd);
      expect(full.embeddings.length).toBe(full.tokens.length * full.width);
      const prefix = await llm.embedTokens(full.tokens.subarray(0, 3));
      let maxDiff = 0;
      for (let i = 0; i < prefix.embeddings.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(prefix.embeddings[i]! - full.embeddings[i]!));
      }
      expect(maxDiff).toBeLessThan(1e-3);
      // different positions have different states
      const row = (k: number) => full.embeddings.subarray(k * full.width, (k + 1) * full.width);
      expect(Array.from(row(0))).not.toEqual(Array.from(row(1)));
      const [pooled, other] = await llm.embed(["The quick brown fox jumps", "Something else"]);
      expect(pooled!.length).toBe(full.width);
      expect(Array.from(other!)).not.toEqual(Array.from(pooled!));
      for (let j = 0; j < full.width; j++) {
        let mean = 0;
        for (let k = 0; k < full.tokens.length; k++) mean += row(k)[j]! / full.tokens.length;
        expect(Math.abs(pooled![j]! - mean)).toBeLessThan(1e-3);
      }
      await expect(llm.embedTokens(new Int32Array(0))).rejects.toMatchObject({ code: "DEP_EMBED" });
    } finally {
      await llm.dispose();
    }
  });
});

describe("a split GGUF (llama-gguf-split layout)", () => {
  it("generates and trains like the same model in one file; a later split is refused naming the merge tool", async () => {
    const split = writeTinyModel(join(dir, "tiny-split.gguf"), {
      arch: "llama",
      seed: 21,
      randomNorms: true,
      splits: 3,
    });
    expect(split.files.map((f) => f.slice(dir.length + 1))).toEqual([
      "tiny-split-00001-of-00003.gguf",
      "tiny-split-00002-of-00003.gguf",
      "tiny-split-00003-of-00003.gguf",
    ]);
    const one = await Llm.load(paths.llama, { threads: 2, contextSize: 256 });
    const parts = await Llm.load(split.files[0]!, { threads: 2, contextSize: 256 });
    try {
      const prompt: Segment[] = [{ text: "The review:" }];
      const targets = one.tokenize(" a fine book");
      const a = await one.lossAndGrad(prompt, targets);
      const b = await parts.lossAndGrad(prompt, targets);
      expect(b.loss).toBe(a.loss);
      const ga = await one.complete(prompt, { maxTokens: 6, temperature: 0 });
      const gb = await parts.complete(prompt, { maxTokens: 6, temperature: 0 });
      expect(gb.text).toBe(ga.text);
    } finally {
      await one.dispose();
      await parts.dispose();
    }
    const err = await Llm.load(split.files[1]!, { threads: 2 }).catch((e) => e);
    expect(err).toMatchObject({ code: "DEP_MODEL_LOAD" });
    expect(err.message).toMatch(
      /is split 2 of 3 of a split model: pass the first split .*llama-gguf-split --merge/,
    );
  });
});
