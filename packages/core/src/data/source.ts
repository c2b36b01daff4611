// Where a dataset's rows come from: a dataset folder (`DIR/main`, `DIR/meta`, `DIR/dataset.json`), or DPL-main
// and DPL-meta given as separate roots (e.g. two Hugging Face snapshots). Commands pass one of these around.
import type { LoadDatasetOptions } from "./load.js";

export type DataSource = string | { main: string | readonly string[]; meta: string | readonly string[] };

/** The `loadDataset` options that read `source`. */
export function dataSourceOptions(source: DataSource): Pick<LoadDatasetOptions, "dir" | "main" | "meta"> {
  return typeof source === "string" ? { dir: source } : { main: source.main, meta: source.meta };
}

/** How messages name a source: the folder, or `--main A --meta B`. */
export function describeDataSource(source: DataSource): string {
  if (typeof source === "string") return source;
  const list = (p: string | readonly string[]) => (typeof p === "string" ? p : p.join(" "));
  return `--main ${list(source.main)} --meta ${list(source.meta)}`;
}
