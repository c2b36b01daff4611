// Charts as Vega-Lite specs, rendered headless to SVG by Vega and to PNG by resvg (no browser).
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { Interval } from "./bootstrap.js";
import type { ReportTable } from "./table.js";
import type { RunRecord } from "./types.js";

type VlSpec = vl.TopLevelSpec;

export interface RenderedChart {
  svg: string;
  png: Buffer;
}

export async function renderChart(spec: VlSpec, scale = 2): Promise<RenderedChart> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  })
    .render()
    .asPng();
  return { svg, png: Buffer.from(png) };
}

/** intervals[method][category][metricKey]: a bootstrap interval to draw as an error bar */
export type ChartIntervals = Record<string, Record<string, Record<string, Interval>>>;

/**
 * Grouped bars: one panel per metric (own y scale), methods on x, categories as colours; error bars where
 * `intervals` has one.
 */
export function methodComparisonSpec(t: ReportTable, intervals: ChartIntervals = {}): VlSpec {
  const values = t.methods.flatMap((method) =>
    t.categories.flatMap((category) =>
      t.metrics
        .map((m) => {
          const ci = intervals[method]?.[category]?.[m.key];
          return {
            method,
            category,
            metric: m.label,
            value: t.values[method]![category]![m.key],
            ...(ci ? { lo: ci.lo, hi: ci.hi } : {}),
          };
        })
        .filter((row) => typeof row.value === "number"),
    ),
  );
  const x = { field: "method", type: "nominal", sort: t.methods, title: null, axis: { labelAngle: -40 } };
  const xOffset = { field: "category", type: "nominal" };
  const hasIntervals = values.some((v) => "lo" in v);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Methods compared, per metric",
    data: { values },
    facet: { column: { field: "metric", type: "nominal", sort: t.metrics.map((m) => m.label), title: null } },
    spec: {
      width: Math.max(120, 28 * t.methods.length * Math.max(1, t.categories.length)),
      height: 180,
      layer: [
        {
          mark: { type: "bar", tooltip: true },
          encoding: {
            x,
            xOffset,
            y: { field: "value", type: "quantitative", title: null },
            color: { field: "category", type: "nominal", title: "category" },
          },
        },
        ...(hasIntervals
          ? [
              {
                mark: { type: "rule", color: "#333", strokeWidth: 1.5 },
                encoding: { x, xOffset, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
              },
            ]
          : []),
      ],
    },
    resolve: { scale: { y: "independent" } },
    config: { font: "DejaVu Sans" },
  } as VlSpec;
}

const LOSS_FIELDS = ["loss", "loss_lm", "loss_recon", "loss_kl"] as const;

/** Training curves from metrics.jsonl: one panel per loss term, one line per run. */
export function trainingCurvesSpec(runs: readonly RunRecord[]): VlSpec | null {
  const values = runs.flatMap((r) =>
    r.trainingLog.flatMap((row, i) =>
      LOSS_FIELDS.filter((f) => typeof row[f] === "number").map((f) => ({
        run: `${r.method} / ${r.category}`,
        step: typeof row.step === "number" ? row.step : i + 1,
        series: f,
        value: row[f],
      })),
    ),
  );
  if (values.length === 0) return null;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Training curves",
    data: { values },
    facet: { column: { field: "series", type: "nominal", sort: [...LOSS_FIELDS], title: null } },
    spec: {
      width: 220,
      height: 160,
      mark: { type: "line", point: values.length < 200 },
      encoding: {
        x: { field: "step", type: "quantitative" },
        y: {
          field: "value",
          type: "quantitative",
          title: null,
          scale: { zero: false },
          axis: { format: ".3~g" },
        },
        color: { field: "run", type: "nominal" },
      },
    },
    resolve: { scale: { y: "independent" } },
    config: { font: "DejaVu Sans" },
  } as VlSpec;
}
