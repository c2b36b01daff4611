// What a working report.html shows in the browser, given the runs it was built from (shared by the report
// browser test and the demo test).
import type { BrowserReport } from "@dep/eval/testing";
import { expect } from "vitest";

interface PerSampleFile {
  samples: Record<string, { rouge1: number }>;
}

/** `perSample` in the order of `methods`; the first method is the base the comparison filter uses. */
export function expectReportWorks(
  seen: BrowserReport,
  want: { methods: string[]; samples: number; perSample: PerSampleFile[] },
): void {
  expect(seen.consoleErrors).toEqual([]);
  expect(seen.requests).toEqual([]);
  expect(seen.methods).toEqual(want.methods);
  expect(seen.totalSamples).toBe(want.samples);
  // sorting by the first method's score (R-1, the default metric) puts the rows in that order
  const s = seen.sortedDescScores;
  expect(s.length).toBeGreaterThan(1);
  for (let i = 1; i < s.length; i++) expect(s[i]!).toBeLessThanOrEqual(s[i - 1]!);
  if (new Set(s).size > 1) expect(seen.sortedAsc[0]).not.toBe(seen.sortedDesc[0]);
  // filtering by category keeps exactly that category's rows
  if (seen.categories.length > 1) expect(seen.categoryCounts.shown).toBeLessThan(seen.totalSamples);
  else expect(seen.categoryCounts.shown).toBe(seen.totalSamples);
  expect(seen.categoryCells.length).toBe(Math.min(seen.categoryCounts.shown, 25));
  for (const c of seen.categoryCells) expect(c).toBe(seen.category);
  // "base better / worse than the second method by more than 0" counts match the per-sample files
  const round = (x: number) => Math.round(x * 1e5) / 1e5;
  const [base, other] = want.perSample;
  let better = 0;
  let worse = 0;
  for (const [id, v] of Object.entries(base!.samples)) {
    const o = other!.samples[id];
    if (!o) continue;
    const d = round(v.rouge1) - round(o.rouge1);
    if (d > 0) better++;
    if (d < 0) worse++;
  }
  expect(seen.betterCount).toBe(better);
  expect(seen.worseCount).toBe(worse);
  expect(seen.userPage.visible).toBe(true);
  expect(seen.userPage.title).toContain(seen.userPage.user);
  expect(seen.userPage.samples).toBeGreaterThan(0);
}
