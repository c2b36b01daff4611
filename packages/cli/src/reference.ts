// The CLI reference in Markdown, generated from the parser itself (docs/CLI.md; a test keeps it in sync).
import type { Command } from "commander";
import { EXIT } from "./exitCodes.js";
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
    "Exit codes: " +
      Object.entries(EXIT)
        .map(([k, v]) => `${v} ${k}`)
        .join(", ") +
      ".",
    "",
  ];
  walk(program, [], out);
  return `${out.join("\n").trimEnd()}\n`;
}
