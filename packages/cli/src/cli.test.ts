// Runs the built `dep` binary as a user would: spawned processes, real files.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "dep-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dep(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, DEP_HOME: join(dir, "home"), ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("dep CLI", () => {
  it("prints help with every command", () => {
    const r = dep(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of [
      "info",
      "data",
      "embed",
      "diff",
      "train",
      "select",
      "generate",
      "assets",
      "complete",
      "eval",
      "report",
      "demo",
      "loss",
      "bench",
    ])
      expect(r.stdout).toMatch(new RegExp(`\\n\\s+${cmd}\\b`));
  });

  it.each([
    "info",
    "data",
    "embed",
    "diff",
    "train",
    "select",
    "generate",
    "assets",
    "complete",
    "eval",
    "report",
    "demo",
    "loss",
    "bench",
  ])("has help for %s with an example", (cmd) => {
    const r = dep([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dep /);
    expect(r.stdout).toMatch(/Example:/);
  });

  it("dep bench: lists the benchmarks, refuses an unknown one, forwards options and the exit code", () => {
    const help = dep(["bench", "--help"]);
    expect(help.code).toBe(0);
    for (const name of ["kernels", "llm", "data"]) expect(help.stdout).toMatch(new RegExp(`\\n  ${name} `));
    for (const name of ["kernels", "llm", "data"]) {
      const r = dep(["bench", name, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: dep bench ${name} \\[options\\] \\[args\\.\\.\\.\\]`));
      expect(r.stdout).toMatch(/--threads <n> +CPU threads \(default: the benchmark's own, 2\)/);
      expect(r.stdout).toMatch(/takes, after --:\n {2}--/);
    }
    const unknown = dep(["bench", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'nope'/);
    // llm.mjs checks its model before loading anything: exit 2 and the path given after --
    const model = join(dir, "no-such-model.gguf");
    const llm = dep(["bench", "llm", "--threads", "1", "--", "--model", model]);
    expect(llm.code).toBe(2);
    expect(llm.stderr).toContain(`${model} is missing`);
  });

  it("reports the backend as JSON", () => {
    const r = dep(["info", "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.versions.llamaCpp).toBe("v0.4.0");
    expect(info.cache).toBe(join(dir, "home"));
    expect(info.assets["tinyllama-1.1b-chat"].present).toBe(false);
  });

  it("exits 2 on a usage error", () => {
    const r = dep(["complete"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option/);
    expect(dep(["no-such-command"]).code).toBe(2);
    expect(dep(["complete", "-p", "x", "--threads", "zero"]).code).toBe(2);
  });

  it("exits 4 with a one-line message on a corrupt model, without a stack trace", () => {
    const bad = join(dir, "corrupt.gguf");
    writeFileSync(bad, "GGUF but not really");
    const r = dep(["complete", "-p", "hi", "-m", bad, "-t", "2"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^dep: error: .*corrupt\.gguf.*\[DEP_MODEL_LOAD\]\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 3 on bad input data, naming the file and line, and leaves no partial output", () => {
    const preds = join(dir, "bad.jsonl");
    writeFileSync(preds, '{"prediction":"a","reference":"b"}\nnot json\n{"prediction":1,"reference":"c"}\n');
    const r = dep(["eval", "--predictions", preds]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad\.jsonl:2: not valid JSON/);
    expect(r.stderr).toMatch(/bad\.jsonl:3/);
    const data = join(dir, "nodata");
    const d = dep(["data", "inspect", data]);
    expect(d.code).toBe(3);
    const out = join(dir, "report-out");
    const rep = dep(["report", "--runs", join(dir, "no-such-run"), "--out", out]);
    expect(rep.code).toBe(3);
    expect(rep.stderr).toMatch(/no eval\.json/);
    expect(existsSync(join(out, "table.md"))).toBe(false);
  });

  it("exits 3 on a corrupt checkpoint", () => {
    const ckpt = join(dir, "ckpt");
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(join(ckpt, "config.json"), "{ not json");
    const r = dep([
      "generate",
      "--checkpoint",
      ckpt,
      "--data",
      dir,
      "--embeddings",
      dir,
      "--out",
      join(dir, "p.jsonl"),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/config\.json: not valid JSON.*\[DEP_CHECKPOINT\]/);
    expect(existsSync(join(dir, "p.jsonl"))).toBe(false);
  });
});
