// The whole demo at its smallest size, as a user runs it (slow tier: DEP_SLOW_TESTS=1, TinyLlama cached);
// also the small learning check of SPEC §6: trained soft rows lower the held-out LM loss.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM, checkReportInBrowser, chromiumAvailable } from "@dep/eval/testing";
import { afterAll, describe, expect, it } from "vitest";
import { expectReportWorks } from "./testing/browserExpectations.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "dep-demo-"));
afterAll(() => {
  if (!process.env.DEP_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(process.env.DEP_SLOW_TESTS === "1")("dep demo --size small (slow)", () => {
  it("runs every stage, writes the report, and a rerun reuses the finished stages", async () => {
    const run = () =>
      spawnSync(
        process.execPath,
        [bin, "demo", "--size", "small", "--threads", "2", "--out", dir, "--json"],
        {
          encoding: "utf8",
          timeout: 1_500_000,
        },
      );
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    for (const f of [
      "table.md",
      "table.csv",
      "table.json",
      "methods.png",
      "methods.svg",
      "training.png",
      "config.json",
      "report.html",
      "methods.vl.json",
    ]) {
      expect(existsSync(join(summary.report, f)), f).toBe(true);
    }
    expect(summary.html).toBe(join(summary.report, "report.html"));
    expect(first.stdout).not.toContain("open "); // --json prints only the JSON
    for (const m of ["dep", "no-soft", "rag"]) {
      const lines = readFileSync(join(summary.report, "predictions", `${m}.jsonl`), "utf8")
        .trim()
        .split("\n");
      expect(lines).toHaveLength(4);
      expect(JSON.parse(lines[0]!).prediction.length).toBeGreaterThan(0);
    }
    // per-sample scores beside each run; the report in a real browser (when Chromium is installed)
    const perSample = ["dep", "no-soft", "rag"].map((m) =>
      JSON.parse(readFileSync(join(dir, "runs", m, "per-sample.json"), "utf8")),
    );
    expect(Object.keys(perSample[0].samples)).toHaveLength(4);
    const explained = JSON.parse(readFileSync(summary.explain, "utf8"));
    expect(explained.users).toHaveLength(30);
    expect(explained.units[0].top.length).toBeGreaterThan(0);
    if (chromiumAvailable()) {
      const shot = join(dir, "demo-report.png");
      const seen = await checkReportInBrowser(summary.html, shot);
      expectReportWorks(seen, { methods: ["dep", "no-soft", "rag"], samples: 4, perSample });
      expect(seen.userPage.units).toBeGreaterThan(1); // the SAE's strongest units for that user
      console.log(`demo report: ${summary.html}, screenshots ${shot} (+ -top, -user)`);
    } else console.warn(`SKIPPED the demo report's browser check: no Chromium at ${CHROMIUM}`);
    for (const k of ["trained", "untrained", "no-soft"])
      expect(Number.isFinite(summary.heldOut[k])).toBe(true);
    // it learns: trained soft rows predict held-out users' reviews better than the initial ones or none
    expect(summary.heldOut.trained).toBeLessThan(summary.heldOut.untrained);
    expect(summary.heldOut.trained).toBeLessThan(summary.heldOut["no-soft"]);
    const again = run();
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).seconds).toBeLessThan(summary.seconds);
  }, 1_800_000);
});
