// openGradSource: the engine the choice names, its dtype, and its activation budget (which decides whether
// the backward recomputes layers, never what it computes).
import { gradEngineBuild } from "@dep/native-cuda";
import { describe, expect, it } from "vitest";
import { useTinyLlm } from "../testing/tinyLlm.js";
import { openGradSource } from "./gradSource.js";

const tiny = useTinyLlm({ seed: 5 });

describe("openGradSource", () => {
  const step = async (choice: Parameters<typeof openGradSource>[1]) => {
    await using source = await openGradSource(tiny.llm, choice, { threads: 2 });
    const soft = Float32Array.from({ length: 2 * tiny.llm.info.nEmbd }, (_, i) => Math.sin(i) * 0.1);
    const segments = [{ tokens: tiny.llm.tokenize("A review:", { addSpecial: true }) }, { embeddings: soft }];
    const r = await source.model.lossAndGrad(segments, tiny.llm.tokenize(" good value"));
    return { gradSource: source.model.gradSource, r: r as typeof r & { recomputed?: boolean } };
  };

  it("names the engine it opened; ggml has no budget to honour", async () => {
    const g = await step({ engine: "ggml", dtype: "auto", activationBudgetBytes: 0 });
    expect(g.gradSource).toBe("ggml");
    expect(g.r.recomputed).toBeUndefined();
  });

  it.runIf(gradEngineBuild().onednn)(
    "the native engine recomputes past its budget, with the same result",
    async () => {
      const kept = await step({ engine: "native", dtype: "f32" });
      const recomputed = await step({ engine: "native", dtype: "f32", activationBudgetBytes: 0 });
      expect(kept.gradSource).toMatch(/^native f32, onednn/);
      expect(kept.r.recomputed).toBe(false);
      expect(recomputed.r.recomputed).toBe(true);
      expect(recomputed.r.loss).toBe(kept.r.loss);
      expect(recomputed.r.grads).toEqual(kept.r.grads);
    },
  );
});
