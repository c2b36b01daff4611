import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "vega-lite";
import { afterAll, describe, expect, it } from "vitest";
import { writeFixtureRuns } from "../testing/reportFixture.js";
import { PUNKT_DIR } from "../testPaths.js";
import { buildTable, loadRun, tableMarkdown, writeReport } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "dep-report-"));
afterAll(() => {
  if (!process.env.DEP_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

function run(
  name: string,
  method: string,
  category: string,
  r1: number,
  bleu: number,
  bs: number | null,
  log = false,
) {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const e = {
    n: 10,
    bleu: { score: bleu, signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.x" },
    rouge1: { hf: r1, mean: r1 },
    rouge2: { hf: r1 / 3, mean: r1 / 3 },
    rougeL: { hf: r1 * 0.8, mean: r1 * 0.8 },
    rougeLsum: { hf: r1 * 0.8, mean: r1 * 0.8 },
    meteor: { score: r1 * 0.7, signature: "nltk-3.10" },
    bertscore: bs === null ? null : { p: bs, r: bs, f: bs, signature: "x" },
  };
  writeFileSync(join(d, "eval.json"), JSON.stringify(e));
  writeFileSync(join(d, "run.json"), JSON.stringify({ method, category }));
  if (log) {
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({
        step: i + 1,
        loss: 3 - i * 0.05,
        loss_lm: 2.5 - i * 0.04,
        loss_recon: 0.4 - i * 0.01,
        loss_kl: 0.1,
      }),
    );
    writeFileSync(join(d, "metrics.jsonl"), `${lines.join("\n")}\n`);
  }
  return d;
}

describe("reports", () => {
  const runs = [
    run("dep-books", "DEP", "Books", 0.3745, 13.53, 0.5557, true),
    run("rag-books", "RAG", "Books", 0.3149, 3.69, 0.5083),
    run("np-books", "Non-personalized", "Books", 0.2907, 1.98, null),
    run("dep-movies", "DEP", "Movies", 0.3092, 6.68, 0.5114, true),
    run("rag-movies", "RAG", "Movies", 0.3092, 1.3, 0.4787),
  ];

  it("marks the best in bold and the second underlined, per category and metric", () => {
    const t = buildTable(runs.map(loadRun));
    expect(t.methods).toEqual(["DEP", "RAG", "Non-personalized"]);
    expect(t.categories).toEqual(["Books", "Movies"]);
    expect(t.rank.DEP!.Books!.rouge1).toBe(1);
    expect(t.rank.RAG!.Books!.rouge1).toBe(2);
    expect(t.rank["Non-personalized"]!.Books!.rouge1).toBe(0);
    // a tie shares the best rank
    expect(t.rank.DEP!.Movies!.rouge1).toBe(1);
    expect(t.rank.RAG!.Movies!.rouge1).toBe(1);
    const md = tableMarkdown(t);
    expect(md).toContain("| DEP | **0.3745** |");
    expect(md).toContain("<u>0.3149</u>");
    expect(md).toContain("**13.53**");
    expect(md).toMatch(/Non-personalized \|.*–/); // no BERTScore measured
  });

  it("writes tables and plots, and names a run without eval.json", async () => {
    const out = join(dir, "report");
    const res = await writeReport(runs, out);
    for (const f of [
      "table.md",
      "table.csv",
      "table.json",
      "methods.svg",
      "methods.png",
      "training.svg",
      "training.png",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const png = readFileSync(join(out, "methods.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(join(out, "methods.svg"), "utf8")).toContain("Non-personalized");
    expect(readFileSync(join(out, "table.csv"), "utf8").split("\n")[1]).toBe(
      `DEP,Books,0.3745,${0.3745 * 0.8},${0.3745 * 0.7},13.53,0.5557`,
    );
    expect(res.files.length).toBe(7);
    const empty = join(dir, "empty-run");
    mkdirSync(empty);
    await expect(writeReport([empty], join(dir, "r2"))).rejects.toThrow(/no eval\.json/);
  });
});

describe("the HTML report", () => {
  it("writes one self-contained report.html with the specs beside it", async () => {
    const runs = await writeFixtureRuns(join(dir, "fixture"), { samples: 12, punktDir: PUNKT_DIR });
    const out = join(dir, "html");
    const res = await writeReport(runs, out, { html: true, title: "Fixture <report>" });
    for (const f of ["report.html", "methods.vl.json", "training.vl.json"])
      expect(res.files).toContain(join(out, f));
    const html = readFileSync(join(out, "report.html"), "utf8");
    // nothing to fetch: no external scripts, styles, images or links
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\(/);
    expect(html).toContain("<title>Fixture &lt;report&gt;</title>");
    expect(html).toContain("<svg");
    const data = JSON.parse(
      html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s)![1]!,
    );
    expect(data.methods).toEqual(["dep", "rag", "no-soft"]);
    expect(data.base).toBe("dep");
    expect(data.samples.id).toHaveLength(12);
    expect(data.metrics.map((m: { key: string }) => m.key)).toEqual(["rouge1", "rougeL", "meteor", "bleu"]);
    const per = JSON.parse(readFileSync(join(runs[1]!, "per-sample.json"), "utf8"));
    const id = data.samples.id[3];
    expect(data.scores.rag.meteor[3]).toBeCloseTo(per.samples[id].meteor, 5);
    // the bar chart's spec carries bootstrap intervals around the per-sample means, and compiles
    const spec = JSON.parse(readFileSync(join(out, "methods.vl.json"), "utf8"));
    const meteorDep = spec.data.values.find(
      (v: { method: string; metric: string }) => v.method === "dep" && v.metric === "METEOR",
    );
    expect(meteorDep.lo).toBeLessThan(meteorDep.value);
    expect(meteorDep.hi).toBeGreaterThan(meteorDep.value);
    expect(spec.data.values.find((v: { metric: string }) => v.metric === "BLEU").lo).toBeUndefined();
    expect(() => compile(spec)).not.toThrow();
  });

  it("names a broken per-sample file and writes nothing", async () => {
    const runs = await writeFixtureRuns(join(dir, "fixture-bad"), { samples: 4, punktDir: PUNKT_DIR });
    writeFileSync(join(runs[0]!, "per-sample.json"), '{"format": "something else"}');
    const out = join(dir, "html-bad");
    await expect(writeReport(runs, out, { html: true })).rejects.toThrow(
      /per-sample\.json: not a per-sample score file/,
    );
    expect(existsSync(join(out, "table.md"))).toBe(false);
  });
});
