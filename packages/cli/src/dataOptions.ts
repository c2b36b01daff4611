// `--data DIR`, or `--main PATH... --meta PATH...`: where every command that reads a dataset finds it.
import type { DataSource } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { Option } from "commander";

export interface DataFlags {
  data?: string;
  main?: string[];
  meta?: string[];
}

/** `--data DIR`; add `mainOption()` and `metaOption()` next to it (one of: --data, or --main with --meta). */
export function dataOption(description = "dataset folder (dep data synth | prepare)"): Option {
  return new Option("--data <dir>", description);
}

export function mainOption(): Option {
  return new Option(
    "--main <paths...>",
    "instead of --data: DPL-main files or folders (e.g. a Hugging Face snapshot)",
  );
}

export function metaOption(): Option {
  return new Option("--meta <paths...>", "with --main: DPL-meta files or folders");
}

/** The data source the flags name; a usage error when they name none or both. */
export function dataSource(o: DataFlags): DataSource {
  if (o.data !== undefined && (o.main || o.meta))
    throw new DepError("DEP_USAGE", "give --data DIR, or --main and --meta, not both");
  if (o.data !== undefined) return o.data;
  if (o.main && o.meta) return { main: o.main, meta: o.meta };
  throw new DepError(
    "DEP_USAGE",
    o.main || o.meta
      ? `--${o.main ? "main" : "meta"} needs --${o.main ? "meta" : "main"} too (DPL-main and DPL-meta files or folders)`
      : "required option '--data <dir>' not specified (or give DPL-main and DPL-meta as --main PATH --meta PATH)",
  );
}
