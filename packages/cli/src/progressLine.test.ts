import { describe, expect, it } from "vitest";
import { BatchProgressLine, formatProgressLine } from "./progressLine.js";

describe("batch progress lines", () => {
  it("one line per interval with count, rate and ETA, and a last one at the end", () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const p = new BatchProgressLine("embed", "texts", 30, (l) => lines.push(l), t0);
    p.update(10, 100, "", t0 + 1_000);
    p.update(20, 100, "", t0 + 29_000);
    expect(lines).toEqual([]);
    p.update(30, 100, "", t0 + 30_000); // 1 text/s: 70 left
    p.update(31, 100, "", t0 + 31_000);
    p.update(60, 100, "", t0 + 60_500);
    p.done(t0 + 100_000);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] embed 30\/100 texts \| 1\.00\/s \| ETA 1m10s$/,
    );
    expect(lines[1]).toMatch(/embed 60\/100 texts \| 0\.99\/s \| ETA 40s$/);
    expect(lines[2]).toMatch(/embed 60\/100 texts \| 0\.60\/s/);
  });

  it("a job shorter than the interval prints nothing", () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const p = new BatchProgressLine("generate", "samples", 30, (l) => lines.push(l), t0);
    p.update(5, 5, "", t0 + 2_000);
    p.done(t0 + 2_500);
    expect(lines).toEqual([]);
  });

  it("formats unknown totals without an ETA", () => {
    expect(formatProgressLine("loss", "samples", 7, 0, 2, "x")).toBe("loss 7 samples | 3.50/s | ETA ? | x");
  });
});
