import { afterEach, describe, expect, it, vi } from "vitest";
import { meteor, punktTokenizer } from "./meteor.js";

describe("METEOR without Punkt parameters", () => {
  const saved = process.env.NLTK_DATA;
  afterEach(() => {
    if (saved === undefined) delete process.env.NLTK_DATA;
    else process.env.NLTK_DATA = saved;
    vi.restoreAllMocks();
  });

  it("warns once and treats each text as one sentence", () => {
    delete process.env.NLTK_DATA;
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    expect(punktTokenizer()).toBeNull();
    const r = meteor(["The cat sat. It slept."], ["The cat sat. It slept."]);
    expect(r.signature).toContain("no-punkt");
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("fails clearly when an explicit punktDir lacks the files", () => {
    expect(() => punktTokenizer("/nonexistent/punkt")).toThrow(/punkt_tab parameters not found/);
  });
});
