// Outputs never land on inputs: an --out that is, lies inside, or contains a file or folder the command reads
// is refused before anything is written, and an existing output that cannot be resumed needs --force.
import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { DataSource } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { type Command, Option } from "commander";

/** The path with every existing ancestor's symbolic links resolved (the path itself need not exist). */
function canonical(path: string): string {
  const abs = resolve(path);
  if (existsSync(abs)) return realpathSync(abs);
  const parent = dirname(abs);
  return parent === abs ? abs : join(canonical(parent), basename(abs));
}

const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer + sep);

/** The paths a data source reads (a dataset folder: its main/, meta/ and dataset.json). */
export function dataInputs(source: DataSource): string[] {
  if (typeof source === "string") return ["main", "meta", "dataset.json"].map((n) => join(source, n));
  return [source.main, source.meta].flat();
}

/**
 * Refuses `out` when it is an input, lies inside an input folder, or holds an input (replacing it would delete
 * the input). `inputs` may hold undefined for options not given.
 */
export function assertNotOnInputs(
  out: string,
  inputs: ReadonlyArray<string | undefined>,
  flag = "--out",
): void {
  const o = canonical(out);
  for (const input of inputs) {
    if (input === undefined) continue;
    const i = canonical(input);
    if (within(o, i) || within(i, o)) {
      throw new DepError(
        "DEP_OUTPUT_ON_INPUT",
        `${flag} ${out} ${o === i ? "is" : within(o, i) ? "lies inside" : "holds"} the input ${input}; ` +
          `writing there would destroy it: choose another ${flag}`,
      );
    }
  }
}

/** An existing output (a file, or a folder that is not empty) is replaced only with --force. */
export function assertFreshOutput(
  out: string,
  force: boolean,
  kind: "file" | "folder",
  flag = "--out",
): void {
  const st = statSync(out, { throwIfNoEntry: false });
  if (!st) return;
  if (kind === "file" && st.isDirectory())
    throw new DepError("DEP_OUTPUT_EXISTS", `${flag} ${out} is a folder; ${flag} must name a file`);
  if (kind === "folder" && !st.isDirectory())
    throw new DepError("DEP_OUTPUT_EXISTS", `${flag} ${out} is a file; ${flag} must name a folder`);
  if (force) return;
  throw new DepError(
    "DEP_OUTPUT_EXISTS",
    `${flag} ${out} already exists; pass --force to replace it, or choose another ${flag}`,
  );
}

/** A folder output that resumes (a run, a store) must be a folder when it exists. */
export function assertFolderOutput(out: string, flag = "--out"): void {
  const st = statSync(out, { throwIfNoEntry: false });
  if (st && !st.isDirectory())
    throw new DepError("DEP_OUTPUT_EXISTS", `${flag} ${out} is a file; ${flag} must name a folder`);
}

/**
 * `--force` (replace an existing output folder) on a command that used to call it `--overwrite`: the old name
 * still works, hidden from the help, with a notice naming the new one.
 */
export function addForceWithOldOverwrite(cmd: Command): Command {
  return cmd
    .option("--force", "replace an existing output folder", false)
    .addOption(new Option("--overwrite", "deprecated name of --force").hideHelp())
    .hook("preAction", (_, action) => {
      const o = action.opts();
      if (!o.overwrite) return;
      console.error("dep: warning: --overwrite is deprecated; use --force (the same meaning)");
      action.setOptionValue("force", true);
    });
}
