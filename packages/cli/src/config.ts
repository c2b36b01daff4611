// `--config FILE`: a JSON object whose keys mirror a command's options (camelCase, as in --print-config).
// It is validated against the command's schema; flags given on the command line override it.
import { readFileSync } from "node:fs";
import { DepError } from "@dep/native-cuda";
import type { Command } from "commander";
import type { z } from "zod";

export function applyConfigFile(cmd: Command, schema: z.ZodObject): void {
  const path = cmd.getOptionValue("config") as string | undefined;
  if (!path) return;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new DepError("DEP_USAGE", `--config ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = schema.strict().partial().safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new DepError("DEP_USAGE", `--config ${path}: ${issues}`);
  }
  for (const [key, value] of Object.entries(parsed.data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (cmd.getOptionValueSource(key) === "cli") continue; // flags win
    cmd.setOptionValueWithSource(key, value, "config");
  }
}

/** The merged options as JSON (for --print-config), without the config plumbing itself. */
export function printableConfig(opts: Record<string, unknown>): string {
  const { config: _c, printConfig: _p, json: _j, ...rest } = opts;
  return JSON.stringify(rest, null, 2);
}
