// Size and load time of report.html for N samples x 3 methods (default 10,000): made-up runs with real
// per-sample scores (see src/testing/reportFixture.ts), `writeReport --html`, then headless Chromium opens the
// page and times load -> browser ready, a sort and a filter. Figures are printed, never asserted.
//   pnpm --filter @dep/eval bench:report [N]     (builds, then runs; Chromium at /usr/bin/chromium)
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeReport } from "../dist/index.js";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumAvailable,
  sharedPunktDir,
  writeFixtureRuns,
} from "../dist/testing/index.js";

const n = Number(process.argv[2] ?? 10_000);
const punktDir = sharedPunktDir();
const dir = mkdtempSync(join(tmpdir(), "dep-report-bench-"));
const secs = (t) => ((performance.now() - t) / 1000).toFixed(1);

let t = performance.now();
const runs = await writeFixtureRuns(join(dir, "runs"), { samples: n, punktDir });
console.log(`${n} samples x 3 methods: predictions + dep eval --per-sample in ${secs(t)} s`);
t = performance.now();
await writeReport(runs, join(dir, "report"), { html: true });
const html = join(dir, "report", "report.html");
console.log(
  `writeReport --html: ${secs(t)} s; report.html ${(statSync(html).size / 1e6).toFixed(1)} MB (${html})`,
);

if (!chromiumAvailable()) {
  console.log(`no Chromium at ${CHROMIUM}: load time not measured`);
  process.exit(0);
}
const { chromium } = await import("playwright-core");
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const loads = [];
for (let i = 0; i < 3; i++) {
  t = performance.now();
  await page.goto(pathToFileURL(html).href, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready='1']");
  loads.push(performance.now() - t);
}
const timed = async (what, act) => {
  const t0 = performance.now();
  await act();
  console.log(`  ${what}: ${(performance.now() - t0).toFixed(0)} ms`);
};
console.log(`page load to ready (3 loads): ${loads.map((x) => x.toFixed(0)).join(", ")} ms`);
await timed("sort all rows by dep's score", () => page.selectOption("#sort-key", "score:dep"));
await timed("filter dep better than rag by 0.1", async () => {
  await page.fill("#compare-d", "0.1");
  await page.selectOption("#compare-method", "rag");
});
await timed("next page", () => page.click("#next-page"));
console.log(`  ${await page.textContent("#page-info")}`);
await browser.close();
