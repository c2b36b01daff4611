// Opens a report.html in headless Chromium (Debian's package, driven by playwright-core: no browser
// download) and checks what a reader does: the page loads with no console errors and no network requests,
// the results table shows every method, sorting and filtering change the rows, and a user page opens.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

export const CHROMIUM = process.env.DEP_CHROMIUM ?? "/usr/bin/chromium";

/** Flags for a closed network: nothing phones home, no sandbox (CI runs as root). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

export interface BrowserReport {
  consoleErrors: string[];
  /** every request other than the report file itself */
  requests: string[];
  /** the results table's method column */
  methods: string[];
  /** milliseconds from navigation to the browser script's ready mark */
  loadMs: number;
  totalSamples: number;
  /** sample ids of the first page: as loaded, sorted by the first method's score descending and ascending */
  firstPage: string[];
  sortedDesc: string[];
  sortedAsc: string[];
  /** the first method's score of each row on the sorted pages (selected metric) */
  sortedDescScores: number[];
  /** rows after filtering by a category (and that category), and with base "better than" another by 0 */
  category: string;
  /** every category the filter offers */
  categories: string[];
  categoryRowsShown: number;
  categoryCounts: { shown: number; total: number };
  categoryCells: string[];
  betterCount: number;
  worseCount: number;
  /** the user page: its title, and whether it became visible */
  userPage: { user: string; title: string; visible: boolean; samples: number; units: number };
}

const pageCount = (text: string) => {
  const m = /^(\d+) of (\d+) samples/.exec(text);
  return m ? { shown: Number(m[1]), total: Number(m[2]) } : { shown: -1, total: -1 };
};

/**
 * Drives the page; the test decides what to expect. Screenshots: `screenshot` (the predictions browser),
 * `*-top.png` (results and charts) and `*-user.png` (a user page).
 */
export async function checkReportInBrowser(htmlPath: string, screenshot: string): Promise<BrowserReport> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(htmlPath).href;
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("request", (r) => {
      if (r.url() !== url && !r.url().startsWith(`${url}#`)) requests.push(r.url());
    });
    const t0 = performance.now();
    await page.goto(url, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 });
    const loadMs = performance.now() - t0;
    const methods = await page.$$eval("table.results tbody th.method", (ths) =>
      ths.map((t) => t.textContent ?? ""),
    );
    const ids = () => page.$$eval("#rows tr", (trs) => trs.map((t) => t.getAttribute("data-id") ?? ""));
    const info = async () => pageCount((await page.textContent("#page-info")) ?? "");
    const firstPage = await ids();
    const { total: totalSamples } = await info();

    const firstMethod = methods[0] ?? "";
    await page.selectOption("#sort-key", `score:${firstMethod}`);
    await page.selectOption("#sort-dir", "desc");
    const sortedDesc = await ids();
    const sortedDescScores = await page.$$eval("#rows tr", (trs) =>
      trs.map((t) => {
        const chip = t.querySelectorAll("td")[2]?.querySelector(".chip.on")?.textContent ?? "";
        return Number.parseFloat(chip.replace(/^\S+\s/, ""));
      }),
    );
    await page.selectOption("#sort-dir", "asc");
    const sortedAsc = await ids();
    await page.selectOption("#sort-key", "id");

    const categories = await page.$$eval("#filter-category option", (os) =>
      os.map((o) => (o as HTMLOptionElement).value).filter((v) => v),
    );
    const category = categories[categories.length - 1] ?? "";
    await page.selectOption("#filter-category", category);
    const categoryCounts = await info();
    const categoryCells = await page.$$eval("#rows tr td.who .muted", (ds) =>
      ds.map((d) => d.textContent ?? ""),
    );
    const categoryRowsShown = categoryCells.length;
    await page.selectOption("#filter-category", "");

    const others = await page.$$eval("#compare-method option", (os) =>
      os.map((o) => (o as HTMLOptionElement).value).filter((v) => v),
    );
    await page.selectOption("#compare-method", others[0] ?? "");
    await page.selectOption("#compare-dir", "better");
    const betterCount = (await info()).shown;
    await page.selectOption("#compare-dir", "worse");
    const worseCount = (await info()).shown;
    await page.selectOption("#compare-method", "");
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-top.png"), fullPage: false });
    await page.locator("#browser").scrollIntoViewIfNeeded();
    await page.evaluate(() => document.getElementById("browser")?.scrollIntoView());
    await page.screenshot({ path: screenshot, fullPage: false });

    const link = page.locator("#rows a.user-link").first();
    const user = (await link.textContent()) ?? "";
    await link.click();
    await page.waitForSelector("#user-page:not([hidden])", { timeout: 10_000 });
    const userPage = {
      user,
      title: (await page.textContent("#user-title")) ?? "",
      visible: await page.isVisible("#user-page"),
      samples: await page.locator("#user-body .sample").count(),
      units: await page.locator("#user-body table.units tr").count(),
    };
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-user.png"), fullPage: false });
    return {
      consoleErrors,
      requests,
      methods,
      loadMs,
      totalSamples,
      firstPage,
      sortedDesc,
      sortedAsc,
      sortedDescScores,
      category,
      categories,
      categoryRowsShown,
      categoryCounts,
      categoryCells,
      betterCount,
      worseCount,
      userPage,
    };
  } finally {
    await browser.close();
  }
}
