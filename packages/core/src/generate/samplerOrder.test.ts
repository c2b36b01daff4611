// Sampling as the reference (issue 14, row 9): vLLM divides the logits by the temperature before top-p, so a
// high temperature widens the nucleus; llama.cpp's default chain cuts the nucleus from the unscaled
// distribution first. With T = 20 and top-p 0.3 the reference order must therefore draw from many more
// distinct first tokens over the same seeds.
import { describe, expect, it } from "vitest";
import { useTinyLlm } from "../testing/tinyLlm.js";

const tiny = useTinyLlm({ seed: 5 });

describe("sampler order", () => {
  it("reference: temperature before top-p (a wider nucleus); llama.cpp: top-p first", async () => {
    const distinct = async (samplerOrder: "reference" | "llama.cpp") => {
      const first = new Set<number>();
      for (let seed = 0; seed < 24; seed++) {
        const r = await tiny.llm.complete([{ text: "Once upon a time" }], {
          maxTokens: 1,
          temperature: 20,
          topP: 0.3,
          seed,
          samplerOrder,
        });
        first.add(r.tokens[0]!);
      }
      return first.size;
    };
    const reference = await distinct("reference");
    const llamaCpp = await distinct("llama.cpp");
    expect(reference).toBeGreaterThan(llamaCpp);
    expect(reference).toBeGreaterThan(12); // near-uniform over a large nucleus: mostly new tokens
  });
});
