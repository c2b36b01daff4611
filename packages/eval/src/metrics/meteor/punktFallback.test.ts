import { afterEach, describe, expect, it, vi } from "vitest";
import { meteor, punktTokenizer } from "./meteor.js";
import { findPunktDir } from "./punkt.js";

describe("METEOR without Punkt parameters", () => {
  const saved = { NLTK_DATA: process.env.NLTK_DATA, HOME: process.env.HOME };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    vi.restoreAllMocks();
  });

  it.skipIf(findPunktDir(undefined, { HOME: "/nonexistent" }) !== null)(
    "warns once and treats each text as one sentence, saying punkt:no",
    () => {
      delete process.env.NLTK_DATA;
      process.env.HOME = "/nonexistent";
      const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
      expect(punktTokenizer()).toBeNull();
      const r = meteor(["The cat sat. It slept."], ["The cat sat. It slept."]);
      expect(r.signature).toContain("|punkt:no|");
      expect(warn).toHaveBeenCalledTimes(1);
    },
  );

  it("fails clearly when an explicit punktDir lacks the files", () => {
    expect(() => punktTokenizer("/nonexistent/punkt")).toThrow(/punkt_tab parameters not found/);
  });
});
