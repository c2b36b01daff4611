import { describe, expect, it } from "vitest";
import { namedParamList, zeroParams } from "../model/params.js";
import { divergedError, firstNonFinite } from "./divergence.js";

describe("divergence checks", () => {
  const dims = { d: 8, h: 4, H: 16, architecture: "dep" } as const;

  it("finds the first NaN or infinite weight, by parameter name and index", () => {
    const p = zeroParams(dims);
    expect(firstNonFinite(p)).toBeNull();
    const [, second] = namedParamList(p);
    second!.data[3] = Number.POSITIVE_INFINITY;
    expect(firstNonFinite(p)).toEqual({ name: second!.name, index: 3, value: Number.POSITIVE_INFINITY });
    namedParamList(p)[0]!.data[1] = Number.NaN;
    expect(firstNonFinite(p)).toMatchObject({ name: namedParamList(p)[0]!.name, index: 1 });
  });

  it("says where it stopped and what the run folder still holds", () => {
    const at = { runDir: "r", epoch: 2, microStep: 9, update: 5 };
    expect(
      divergedError("the loss is NaN", { ...at, checkpoint: "r/checkpoints/epoch-1", savedUpdate: 4 })
        .message,
    ).toBe(
      "training diverged at micro step 9 (epoch 2, update 5): the loss is NaN; nothing of it was saved " +
        "(r keeps checkpoint r/checkpoints/epoch-1 and the resumable state after update 4); " +
        "lower --lr or --max-grad-norm, or check the data and embeddings",
    );
    expect(divergedError("x", { ...at, checkpoint: null, savedUpdate: null }).message).toMatch(
      /\(r keeps no checkpoint yet\)/,
    );
  });
});
