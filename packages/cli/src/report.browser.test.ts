// The HTML report in a real browser: headless Debian Chromium driven by playwright-core opens the
// report.html that `dep report --html` wrote (runs made up with real per-sample scores; the slow demo test
// repeats the check on the demo's own report). Skipped, with a line saying so, when Chromium is absent.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CHROMIUM,
  checkReportInBrowser,
  chromiumAvailable,
  sharedPunktDir,
  writeFixtureRuns,
} from "@dep/eval/testing";
import { afterAll, describe, expect, it } from "vitest";
import { expectReportWorks } from "./testing/browserExpectations.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "dep-report-browser-"));
afterAll(() => {
  if (!process.env.DEP_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

const available = chromiumAvailable();
if (!available)
  console.warn(`SKIPPED: the browser test needs Chromium at ${CHROMIUM} (apt-get install chromium)`);

describe.runIf(available)("dep report --html in headless Chromium", () => {
  it("loads offline without errors, shows every method, sorts, filters and opens a user page", async () => {
    const runs = await writeFixtureRuns(join(dir, "runs"), { samples: 60, punktDir: sharedPunktDir() });
    const out = join(dir, "report");
    const r = spawnSync(process.execPath, [bin, "report", "--runs", ...runs, "--out", out, "--html"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const shot = join(dir, "report.png");
    const seen = await checkReportInBrowser(join(out, "report.html"), shot);
    const perSample = runs.map((run) => JSON.parse(readFileSync(join(run, "per-sample.json"), "utf8")));
    expectReportWorks(seen, { methods: ["dep", "rag", "no-soft"], samples: 60, perSample });
    expect(seen.userPage.samples).toBe(2); // fixture users have one sample per category
    expect(seen.categories).toEqual(["Books", "Movies_and_TV"]);
    expect(seen.sortedDesc).not.toEqual(seen.firstPage); // 25 of 60 rows: sorting by score reorders them
    expect(existsSync(shot)).toBe(true);
    console.log(
      `report screenshots: ${shot} (+ -top.png, -user.png); page ready in ${seen.loadMs.toFixed(0)} ms`,
    );
  }, 180_000);
});

if (!available)
  describe("dep report --html in headless Chromium", () => {
    it.skip(`skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`, () => {});
  });
