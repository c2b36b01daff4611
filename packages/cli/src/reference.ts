// The CLI reference in Markdown, generated from the parser itself (docs/CLI.md; a test keeps it in sync).
import type { Command } from "commander";
import { EXIT, EXIT_MEANINGS } from "./exitCodes.js";
import { buildProgram } from "./program.js";

function walk(cmd: Command, path: string[], out: string[]): void {
  const name = [...path, cmd.name()].join(" ");
  out.push(`## \`${name}\``, "", "```text", cmd.helpInformation({ error: false }).trimEnd(), "```", "");
  for (const sub of cmd.commands) if (sub.name() !== "help") walk(sub, [...path, cmd.name()], out);
}

export function cliReference(): string {
  const program = buildProgram();
  // help text must not depend on this machine
  for (const cmd of [program, ...program.commands]) {
    for (const c of [cmd, ...cmd.commands]) {
      for (const opt of c.options) {
        if (opt.long === "--threads" && opt.defaultValue !== undefined)
          opt.default(undefined, "as dep info prints it");
      }
    }
  }
  const out = [
    "# dep CLI reference",
    "",
    "Generated from the parser by `pnpm --filter @dep/cli docs` — do not edit by hand.",
    "",
    "## Exit codes",
    "",
    ...Object.entries(EXIT).map(([k, v]) => `- **${v}** ${k}: ${EXIT_MEANINGS[k as keyof typeof EXIT]}`),
    "",
    "Errors print one line, `dep: error: <what, where, what to do> [DEP_CODE]`; warnings (e.g. `DEP_INVALID_UTF8`:",
    "lines that are not valid UTF-8, read with U+FFFD) go to stderr and do not change the exit code.",
    "",
    "Data (`--data DIR`, or `--main PATHS --meta PATHS`): JSONL (CRLF line ends are read as LF, a BOM is dropped),",
    "JSONL.gz and Parquet, in our layout, the Hugging Face hub layouts (`<Category>/<split>-00000-of-00001.parquet`,",
    "`data/<split>-00000-of-00001.parquet`, `<config>/<split>/0000.parquet`) and the Hugging Face cache (a",
    "`datasets--owner--name` folder or one of its snapshots; symbolic links are followed).",
    "",
    "Threads: `--threads` defaults to `$DEP_THREADS`, else `$OMP_NUM_THREADS`, `$SLURM_CPUS_PER_TASK`, the cgroup CPU",
    "quota or the affinity mask (the smaller), else the CPU count; `dep info` prints the choice and why.",
    "",
  ];
  walk(program, [], out);
  return `${out.join("\n").trimEnd()}\n`;
}
