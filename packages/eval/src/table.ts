// Plain-text tables for human output of `dep eval`.
import type { EvalReport } from "./evaluate.js";

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : "-");

/** Renders rows of cells as an aligned table: first row is the header; numbers right-aligned. */
export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return "";
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  const isNumeric = (s: string): boolean => /^-?[\d.]+%?$/.test(s) || s === "-";
  const line = (row: string[]): string =>
    row
      .map((cell, i) => (i > 0 && isNumeric(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join("\n");
}

/** Metric columns of the paper's tables, R-L, R-Lsum (HF bootstrap), METEOR, BLEU, BERTScore F. */
export const REPORT_COLUMNS = ["n", "R-1", "R-2", "R-L", "R-Lsum", "METEOR", "BLEU", "BERTScore-F"];

function reportCells(r: EvalReport): string[] {
  return [
    String(r.n),
    fmt(r.rouge1.hf, 4),
    fmt(r.rouge2.hf, 4),
    fmt(r.rougeL.hf, 4),
    fmt(r.rougeLsum.hf, 4),
    fmt(r.meteor.score, 4),
    fmt(r.bleu.score, 2),
    r.bertscore ? fmt(r.bertscore.f, 4) : "-",
  ];
}

/** A one-run table plus the signatures, so numbers are never compared blind. */
export function formatReport(report: EvalReport): string {
  const table = formatTable([REPORT_COLUMNS, reportCells(report)]);
  const sigs = [
    `BLEU:    ${report.bleu.signature}`,
    `METEOR:  ${report.meteor.signature}`,
    "ROUGE:   rouge_score 0.1.2, HF evaluate bootstrap median (mean of per-pair F in --json)",
    ...(report.bertscore ? [`BERTScore: ${report.bertscore.signature}`] : []),
  ];
  return `${table}\n\n${sigs.join("\n")}`;
}

/** One row per group (e.g. per category), same columns as formatReport. */
export function formatGroupTable(
  field: string,
  groups: Array<{ group: string; report: EvalReport }>,
): string {
  return formatTable([[field, ...REPORT_COLUMNS], ...groups.map((g) => [g.group, ...reportCells(g.report)])]);
}
