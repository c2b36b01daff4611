// The paper's table layout: methods x categories x (R-1, R-L, METEOR, BLEU, BERTScore); per column the
// best value in bold and the second best underlined.
import { type RunRecord, TABLE_METRICS } from "./types.js";

export interface ReportTable {
  methods: string[];
  categories: string[];
  metrics: Array<{ key: string; label: string; digits: number }>;
  /** values[method][category][metricKey] (null when not measured) */
  values: Record<string, Record<string, Record<string, number | null>>>;
  /** rank[method][category][metricKey]: 1 = best, 2 = second, 0 = other/none */
  rank: Record<string, Record<string, Record<string, number>>>;
}

export function buildTable(runs: readonly RunRecord[]): ReportTable {
  const methods = [...new Set(runs.map((r) => r.method))];
  const categories = [...new Set(runs.map((r) => r.category))];
  const values: ReportTable["values"] = {};
  const rank: ReportTable["rank"] = {};
  for (const m of methods) {
    values[m] = {};
    rank[m] = {};
    for (const c of categories) {
      values[m][c] = {};
      rank[m][c] = {};
    }
  }
  for (const r of runs) {
    for (const metric of TABLE_METRICS) values[r.method]![r.category]![metric.key] = metric.pick(r.eval);
  }
  for (const c of categories) {
    for (const metric of TABLE_METRICS) {
      const column = methods
        .map((m) => ({ m, v: values[m]![c]![metric.key] }))
        .filter((x): x is { m: string; v: number } => typeof x.v === "number");
      const distinct = [...new Set(column.map((x) => x.v))].sort((a, b) => b - a);
      for (const m of methods) {
        const v = values[m]![c]![metric.key];
        rank[m]![c]![metric.key] =
          typeof v !== "number" ? 0 : v === distinct[0] ? 1 : v === distinct[1] ? 2 : 0;
      }
    }
  }
  return {
    methods,
    categories,
    metrics: TABLE_METRICS.map(({ key, label, digits }) => ({ key, label, digits })),
    values,
    rank,
  };
}

const fmt = (v: number | null | undefined, digits: number) =>
  typeof v === "number" ? v.toFixed(digits) : "–";

/** A Markdown table cell: `|` escaped and line breaks folded, so a method or category name cannot break the row. */
const mdCell = (s: string) =>
  s
    .replace(/\\/g, "\\\\")
    .replace(/\|/g, "\\|")
    .replace(/\s*[\r\n]+\s*/g, " ");

export function tableMarkdown(t: ReportTable): string {
  const head = ["Method", ...t.categories.flatMap((c) => t.metrics.map((m) => mdCell(`${c} ${m.label}`)))];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const m of t.methods) {
    const cells = [mdCell(m)];
    for (const c of t.categories) {
      for (const metric of t.metrics) {
        const s = fmt(t.values[m]![c]![metric.key], metric.digits);
        const r = t.rank[m]![c]![metric.key];
        cells.push(r === 1 ? `**${s}**` : r === 2 ? `<u>${s}</u>` : s);
      }
    }
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return `${lines.join("\n")}\n`;
}

const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function tableCsv(t: ReportTable): string {
  const rows = [["method", "category", ...t.metrics.map((m) => m.key)]];
  for (const m of t.methods) {
    for (const c of t.categories) {
      rows.push([m, c, ...t.metrics.map((metric) => String(t.values[m]![c]![metric.key] ?? ""))]);
    }
  }
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\n")}\n`;
}
