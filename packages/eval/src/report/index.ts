export { loadRun } from "./loadRuns.js";
export { methodComparisonSpec, renderChart, trainingCurvesSpec } from "./plots.js";
export { buildTable, type ReportTable, tableCsv, tableMarkdown } from "./table.js";
export { type EvalSummary, type RunRecord, TABLE_METRICS } from "./types.js";
export { type ReportResult, writeReport } from "./writeReport.js";
