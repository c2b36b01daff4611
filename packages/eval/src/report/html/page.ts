// report.html: one self-contained page (styles, scripts, data and SVG charts inline; nothing is fetched).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ExplainResult } from "../../explain/types.js";
import type { ReportTable } from "../table.js";
import type { RunRecord } from "../types.js";
import { reportApp } from "./client.js";
import type { BrowserData } from "./reportData.js";
import { REPORT_CSS } from "./style.js";

export interface PageInput {
  title: string;
  table: ReportTable;
  runs: readonly RunRecord[];
  charts: { methods: string; training: string | null };
  browser: BrowserData | null;
  explain: ExplainResult | null;
  /** per-sample columns' signatures (from any run's per-sample.json) */
  sampleSignatures: Record<string, string | null> | null;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers). */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

let jsdiff: string | null = null;
/** jsdiff's browser build, from the installed package (inlined so the page needs no network). */
function jsdiffSource(): string {
  if (jsdiff === null) {
    const pkg = createRequire(import.meta.url).resolve("diff/package.json");
    jsdiff = readFileSync(join(dirname(pkg), "dist", "diff.min.js"), "utf8").replace(
      /<\/script/gi,
      "<\\/script",
    );
  }
  return jsdiff;
}

function resultsTable(t: ReportTable): string {
  const head1 = t.categories.map((c) => `<th colspan="${t.metrics.length}">${esc(c)}</th>`).join("");
  const head2 = t.categories.map(() => t.metrics.map((m) => `<th>${esc(m.label)}</th>`).join("")).join("");
  const rows = t.methods.map((method) => {
    const cells = t.categories.flatMap((c) =>
      t.metrics.map((m) => {
        const v = t.values[method]![c]![m.key];
        const s = typeof v === "number" ? v.toFixed(m.digits) : "–";
        const r = t.rank[method]![c]![m.key];
        return `<td class="num">${r === 1 ? `<b>${s}</b>` : r === 2 ? `<u>${s}</u>` : s}</td>`;
      }),
    );
    return `<tr><th class="method">${esc(method)}</th>${cells.join("")}</tr>`;
  });
  return `<table class="results"><thead><tr><th rowspan="2">Method</th>${head1}</tr><tr>${head2}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function signatures(runs: readonly RunRecord[], sample: PageInput["sampleSignatures"]): string {
  const seen = new Map<string, Set<string>>();
  const add = (metric: string, sig: string | null | undefined) => {
    if (!sig) return;
    let s = seen.get(metric);
    if (!s) {
      s = new Set();
      seen.set(metric, s);
    }
    s.add(sig);
  };
  for (const r of runs) {
    add("BLEU", r.eval.bleu.signature);
    add("METEOR", r.eval.meteor.signature);
    add("BERTScore", r.eval.bertscore?.signature);
  }
  add("ROUGE", "rouge_score 0.1.2, HF evaluate bootstrap median (n=1000, seed 42)");
  for (const [k, v] of Object.entries(sample ?? {})) add(`per-sample ${k}`, v);
  const items = [...seen].map(
    ([metric, sigs]) =>
      `<li><b>${esc(metric)}</b>: ${[...sigs].map((s) => `<code>${esc(s)}</code>`).join(" ")}</li>`,
  );
  return `<ul class="sigs">${items.join("")}</ul>`;
}

function browserSection(b: BrowserData): string {
  const methodHeads = b.methods
    .map((m) => `<th data-sort="score:${esc(m)}" title="sort by this method's score">${esc(m)}</th>`)
    .join("");
  return `<section id="browser"><h2>Predictions</h2>
<p class="muted">One row per sample: the reference and each method's prediction; words a prediction shares with the reference are <mark>highlighted</mark>. Scores are sentence-level (BLEU: sacreBLEU sentence_bleu; ROUGE F; METEOR; BERTScore F1). Click a user for their page.</p>
<div class="controls">
<label>Category <select id="filter-category"><option value="">all</option></select></label>
<label>Search <input id="filter-search" type="search" placeholder="user, item or sample id"></label>
<label>Metric <select id="compare-metric"></select></label>
<label><span id="compare-base"></span> is <select id="compare-dir"><option value="better">better</option><option value="worse">worse</option></select>
than <select id="compare-method"><option value="">(any method: no filter)</option></select>
by more than <input id="compare-d" type="number" step="0.01" min="0" value="0"></label>
<label>Sort <select id="sort-key"></select> <select id="sort-dir"><option value="asc">ascending</option><option value="desc">descending</option></select></label>
<label><input id="show-diff" type="checkbox" checked> diff highlight</label>
</div>
<div class="pager"><button id="prev-page" type="button">‹ previous</button> <span id="page-info"></span> <button id="next-page" type="button">next ›</button></div>
<table class="browser"><thead><tr><th data-sort="user" title="sort by user">sample</th><th>reference</th>${methodHeads}</tr></thead><tbody id="rows"></tbody></table>
</section>`;
}

function explainSection(x: ExplainResult): string {
  const traits = x.traits
    ? `<h3>Planted traits recovered by single units</h3>
<p class="muted">Synthetic data (${x.traits.users} users with known traits): per trait, the unit whose per-user mean activation (over the users' own review rows, or their difference rows) best separates the users who have it is chosen on 4/5 of the users and its value scored on the other fifth, for each of 5 folds; the AUC over all held-out values is shown (chance 0.5; aspects are compared within their category). The in-sample best AUC is optimistic by construction. Mean held-out AUC: <b>${x.traits.meanHeldOutAuc.toFixed(3)}</b>.</p>
<table class="traits"><tr><th>trait</th><th>rows</th><th>users with / without</th><th>units chosen</th><th>held-out AUC</th><th>in-sample best AUC</th></tr>${x.traits.entries
        .map(
          (t) =>
            `<tr><td>${esc(t.trait)}</td><td>${t.rows}</td><td class="num">${t.positives} / ${t.negatives}</td><td>${t.units.map((u) => `#${u}`).join(", ")}</td><td class="num">${t.heldOutAuc.toFixed(3)}</td><td class="num">${t.inSampleAuc.toFixed(3)}</td></tr>`,
        )
        .join("")}</table>`
    : "";
  const units = [...x.units]
    .filter((u) => u.top.length > 0)
    .sort((a, b) => (b.label[0]?.z ?? 0) - (a.label[0]?.z ?? 0))
    .slice(0, 40);
  const unitRows = units
    .map(
      (u) =>
        `<tr><td>#${u.unit}</td><td class="num">${(100 * u.activationRate).toFixed(1)}%</td><td>${esc(u.label.map((w) => w.word).join(", "))}</td><td><details><summary>${u.top.length} reviews</summary>${u.top
          .map(
            (r) =>
              `<div class="excerpt"><b>${esc(r.title)}</b> (${esc(r.user_id)}, ${r.activation.toFixed(3)}): ${esc(r.excerpt)}</div>`,
          )
          .join("")}</details></td></tr>`,
    )
    .join("");
  const LINKS = 300;
  const users =
    x.users
      .slice(0, LINKS)
      .map((u) => `<a class="user-link" href="#user/${encodeURIComponent(u.user_id)}">${esc(u.user_id)}</a>`)
      .join(" ") +
    (x.users.length > LINKS
      ? ` <span class="muted">… and ${x.users.length - LINKS} more: search the predictions by user and follow the link.</span>`
      : "");
  return `<section id="explain"><h2>What the SAE learned</h2>
<p class="muted">Checkpoint <code>${esc(x.checkpoint)}</code>, ${x.samples} ${esc(x.split)} samples, ${x.reviewRows} review rows, ${x.h} units. A unit's label is the words that most distinguish the reviews activating it most from all reviews (weighted log-odds, informative Dirichlet prior).</p>
${traits}
<h3>Units with the most distinctive top reviews</h3>
<table class="units"><tr><th>unit</th><th>active on</th><th>label</th><th>top-activating reviews</th></tr>${unitRows}</table>
<h3>User pages</h3><p class="users">${users}</p>
</section>`;
}

export function renderPage(p: PageInput): string {
  const b = p.browser;
  const nav = [
    ["results", "Results"],
    ["charts", "Charts"],
    ...(b ? [["browser", "Predictions"]] : []),
    ...(p.explain ? [["explain", "What the SAE learned"]] : []),
  ]
    .map(([id, label]) => `<a href="#${id}">${label}</a>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(p.title)}</title><style>${REPORT_CSS}</style></head>
<body><header><h1>${esc(p.title)}</h1><nav>${nav}</nav></header><main>
<section id="results"><h2>Results</h2>
<p class="muted">Best per column in bold, second underlined. ${p.runs.length} runs.</p>
${resultsTable(p.table)}
<h3>Signatures</h3>${signatures(p.runs, p.sampleSignatures)}
</section>
<section id="charts"><h2>Charts</h2>
<p class="muted">Bars: the table's values; error bars: 95% bootstrap intervals of the per-sample mean (1000 resamples) where per-sample scores exist. Vega-Lite specs: <code>methods.vl.json</code>, <code>training.vl.json</code> beside this file.</p>
<figure class="chart">${p.charts.methods}</figure>
${p.charts.training ? `<figure class="chart">${p.charts.training}</figure>` : '<p class="muted">No training log (metrics.jsonl) in the runs.</p>'}
</section>
${b ? browserSection(b) : '<section id="browser"><h2>Predictions</h2><p class="muted">No run folder has preds.jsonl.</p></section>'}
${p.explain ? explainSection(p.explain) : ""}
<section id="user-page" hidden><p><a href="#browser">‹ back to the predictions</a></p><h2 id="user-title"></h2><div id="user-body"></div></section>
</main>
<script type="application/json" id="report-data">${scriptJson(b)}</script>
<script>${jsdiffSource()}</script>
<script>(${reportApp.toString()})();</script>
</body></html>
`;
}
