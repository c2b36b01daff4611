import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Llm } from "@dep/native-cuda";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bertScore } from "./bertscore.js";
import { llmTokenEncoder, loadGgufTokenEncoder } from "./ggufEncoder.js";

const dir = mkdtempSync(join(tmpdir(), "dep-bertscore-"));
const model = join(dir, "tiny.gguf");
let llm: Llm;

beforeAll(async () => {
  writeTinyModel(model, { arch: "llama", seed: 5, randomNorms: true });
  llm = await Llm.load(model, { threads: 2, contextSize: 64 });
});
afterAll(async () => {
  await llm.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("BERTScore through a GGUF model", () => {
  it("encodes each text as the model's per-token states, BOS masked", async () => {
    const enc = llmTokenEncoder(llm, "tiny");
    const [e] = await enc.encode(["a small cat sat"]);
    const direct = await llm.embedTokens("a small cat sat");
    expect(Array.from(e!.ids)).toEqual(Array.from(direct.tokens));
    expect(e!.dim).toBe(llm.info.nEmbd);
    expect(Array.from(e!.vectors)).toEqual(Array.from(direct.embeddings));
    expect(e!.specialMask[0]).toBe(llm.info.addBos ? 1 : 0);
    expect(Array.from(e!.specialMask.subarray(1))).toEqual(new Array(e!.ids.length - 1).fill(0));
  });

  it("scores identical texts 1 and different texts lower, cuts texts beyond the context", async () => {
    const enc = await loadGgufTokenEncoder(model, { threads: 2, contextSize: 16 });
    try {
      const same = await bertScore(["the cat sat on the mat"], ["the cat sat on the mat"], enc);
      expect(same.f).toBeCloseTo(1, 6);
      const diff = await bertScore(["the cat sat on the mat"], ["stocks fell sharply today"], enc);
      expect(diff.f).toBeLessThan(0.999);
      expect(diff.signature).toContain("encoder:gguf:tiny.gguf:last-layer");
      // the context is at least 256 positions (llama.cpp's minimum); a longer text is cut to it
      const long = "word ".repeat(300);
      const r = await bertScore([long], [long], enc);
      expect(r.f).toBeCloseTo(1, 6);
      expect(enc.truncated).toBe(2);
      const [e] = await enc.encode([long]);
      expect(e!.ids.length).toBeLessThan(300);
    } finally {
      await enc.dispose();
    }
  });
});
