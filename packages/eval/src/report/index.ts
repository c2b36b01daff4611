export { bootstrapMeanInterval, type Interval } from "./bootstrap.js";
export { type BrowserData, buildBrowserData, SAMPLE_METRICS } from "./html/reportData.js";
export { loadRun } from "./loadRuns.js";
export { type ChartIntervals, methodComparisonSpec, renderChart, trainingCurvesSpec } from "./plots.js";
export { loadRunSamples, PER_SAMPLE_FILE, PREDICTION_FILES, type RunSamples } from "./runSamples.js";
export { buildTable, type ReportTable, tableCsv, tableMarkdown } from "./table.js";
export { type EvalSummary, type RunRecord, TABLE_METRICS } from "./types.js";
export { type ReportOptions, type ReportResult, readExplain, writeReport } from "./writeReport.js";
