import { copyFileSync, statSync, truncateSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DepError } from "../errors.js";
import { writeTinyModel } from "../gguf/tinyModel.js";
import { native } from "../native.js";
import { Llm } from "./Llm.js";
import { tinyModels } from "./testModels.js";

const models = tinyModels();
afterAll(() => models.cleanup());

describe.each(["llama", "qwen2"] as const)("tiny %s model", (arch) => {
  let llm: Llm;
  beforeAll(async () => {
    llm = await Llm.load(models.paths[arch], { threads: 2, contextSize: 256 });
  });
  afterAll(async () => {
    await llm.dispose();
  });

  it("reports its shape", () => {
    expect(llm.info.arch).toBe(arch);
    expect(llm.info.nEmbd).toBe(64);
    expect(llm.info.nLayer).toBe(2);
    expect(llm.info.nHeadKv).toBe(2);
    expect(llm.info.nCtx).toBe(256);
    expect(llm.info.nVocab).toBeGreaterThan(30000);
  });

  it("tokenizes and detokenizes", () => {
    const tokens = llm.tokenize("The quick brown fox");
    expect(tokens.length).toBeGreaterThan(2);
    expect(llm.detokenize(tokens).trim()).toBe("The quick brown fox");
  });

  it("generates deterministic greedy text", async () => {
    const a = await llm.complete([{ text: "Once upon a time" }], { maxTokens: 16 });
    const b = await llm.complete([{ text: "Once upon a time" }], { maxTokens: 16 });
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    expect(b.text).toBe(a.text);
    expect(a.text).toBe(llm.detokenize(a.tokens, { removeSpecial: true }));
    // a fresh load of the same file continues identically
    const again = await Llm.load(models.paths[arch], { threads: 2, contextSize: 256 });
    const c = await again.complete([{ text: "Once upon a time" }], { maxTokens: 16 });
    await again.dispose();
    expect(Array.from(c.tokens)).toEqual(Array.from(a.tokens));
    // another prompt gives another continuation
    const d = await llm.complete([{ text: "Completely different words here" }], { maxTokens: 16 });
    expect(Array.from(d.tokens)).not.toEqual(Array.from(a.tokens));
  });

  it("streams the same text it returns", async () => {
    const gen = llm.generate([{ text: "Hello there" }], { maxTokens: 12 });
    let streamed = "";
    for await (const piece of gen) streamed += piece;
    const result = await gen.result;
    expect(streamed).toBe(result.text);
  });

  it("seeded sampling is reproducible", async () => {
    const opts = { maxTokens: 12, temperature: 0.8, topP: 0.95, seed: 7 };
    const a = await llm.complete([{ text: "Reviews say" }], opts);
    const b = await llm.complete([{ text: "Reviews say" }], opts);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
  });

  it("stops at a stop string and when aborted", async () => {
    const full = await llm.complete([{ text: "Once upon a time" }], { maxTokens: 16 });
    const stop = full.text.slice(Math.floor(full.text.length / 2), Math.floor(full.text.length / 2) + 2);
    if (stop.trim().length > 0) {
      const cut = await llm.complete([{ text: "Once upon a time" }], { maxTokens: 16, stop: [stop] });
      expect(cut.stopReason).toBe("stop");
      expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    }
    const controller = new AbortController();
    const gen = llm.generate([{ text: "Once upon a time" }], { maxTokens: 200, signal: controller.signal });
    let pieces = 0;
    for await (const _ of gen) {
      pieces++;
      if (pieces === 2) controller.abort();
    }
    const res = await gen.result;
    expect(res.stopReason).toBe("aborted");
    // the tokens decoded between abort() and the native loop's next check depend on how busy the event loop
    // is (other test files run beside this one); what must hold is that it stopped far short of maxTokens
    expect(res.tokens.length).toBeLessThan(100);
  });

  it("refuses a prompt longer than the context before decoding", async () => {
    const tokens = new Int32Array(400).fill(llm.tokenize("a")[0]!);
    await expect(llm.complete([{ tokens }])).rejects.toMatchObject({
      code: "DEP_GENERATE",
      message: /context holds 256/,
    });
  });
});

describe("loading errors", () => {
  it("names a missing file", async () => {
    const err = await Llm.load("/nonexistent/dir/model.gguf", { threads: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(DepError);
    expect(err.code).toBe("DEP_MODEL_LOAD");
    expect(err.message).toMatch(/not found: \/nonexistent\/dir\/model\.gguf/);
  });

  it("names a truncated file, and the process survives", async () => {
    const bad = join(dirname(models.paths.llama), "truncated.gguf");
    copyFileSync(models.paths.llama, bad);
    truncateSync(bad, Math.floor(statSync(bad).size / 2));
    const err = await Llm.load(bad, { threads: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(DepError);
    expect(err.code).toBe("DEP_MODEL_LOAD");
    expect(err.message).toMatch(/truncated/);
  });

  it("names a file that is not a GGUF", async () => {
    const err = await Llm.load(fileURLToPath(import.meta.url), { threads: 2 }).catch((e) => e);
    expect(err.code).toBe("DEP_MODEL_LOAD");
    expect(err.message).toMatch(/not a GGUF/);
  });

  it("requires an explicit thread count", async () => {
    // @ts-expect-error threads is required
    await expect(Llm.load(models.paths.llama, {})).rejects.toMatchObject({ code: "DEP_INVALID_ARGUMENT" });
  });

  it("refuses hyperparameters ggml would abort on (block_count = 0) and thread counts it cannot run", async () => {
    const noLayers = join(dirname(models.paths.llama), "no-layers.gguf");
    writeTinyModel(noLayers, { arch: "llama", seed: 1, nLayer: 0 });
    const err = await Llm.load(noLayers, { threads: 2 }).catch((e) => e);
    expect(err).toMatchObject({ code: "DEP_MODEL_LOAD" });
    expect(err.message).toMatch(/no-layers\.gguf: llama\.block_count = 0; a model needs a positive value/);
    // the native load path checks too (for callers of the addon that skip Llm.load)
    const nativeErr = await native()
      .loadModel(noLayers, { threads: 2 })
      .catch((e: unknown) => e);
    expect(String((nativeErr as Error).message)).toMatch(
      /llama\.block_count = 0; a model needs a positive value/,
    );
    const nativeThreads = await native()
      .loadModel(models.paths.llama, { threads: 100_000 })
      .catch((e: unknown) => e);
    expect(String((nativeThreads as Error).message)).toMatch(/threads must be an integer from 1 to 1024/);
    for (const threads of [100_000, 0, 1.5]) {
      const e = await Llm.load(models.paths.llama, { threads }).catch((x) => x);
      expect(e).toMatchObject({ code: "DEP_INVALID_ARGUMENT" });
      expect(e.message).toMatch(/`threads` must be an integer from 1 to 1024/);
    }
  });

  it("refuses use after dispose", async () => {
    const llm = await Llm.load(models.paths.llama, { threads: 2, contextSize: 128 });
    await llm.dispose();
    expect(() => llm.tokenize("x")).toThrow(/disposed/);
    await llm.dispose();
  });
});
