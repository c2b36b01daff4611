// Test helpers: run the built `dep` binary as a user would (a spawned process, real files) and check the
// one-line error contract. Not part of the package build.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "bin.js");

export interface DepRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A `dep(args, env?)` that runs the CLI with DEP_HOME from `home()` (evaluated per call). */
export function depRunner(home: () => string): (args: string[], env?: Record<string, string>) => DepRun {
  return (args, env = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], {
      encoding: "utf8",
      env: { ...process.env, DEP_HOME: home(), ...env },
      timeout: 300_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

/** Exit `code`, stdout empty, and stderr exactly one `dep: error: ... [DEP_CODE]` line matching `message`. */
export function expectOneLineError(r: DepRun, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^dep: error: [^\n]+\[DEP_[A-Z_]+\]\n$/);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe("");
}

/** The flags naming a training fixture's data, store and tiny model (for train, generate, loss...). */
export function fixtureInputs(fx: { dataDir: string; embDir: string; modelPath: string }): string[] {
  return ["--data", fx.dataDir, "--embeddings", fx.embDir, "--model", fx.modelPath];
}
