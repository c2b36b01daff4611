// The real engine: a one-node Slurm cluster (tools/slurm-local.sh, started by .ci/run) runs `dep embed
// --shard auto` and `dep generate --shard auto` as a 2-task array job; `dep merge` gives exactly the unsharded
// outputs. A task preempted with SIGTERM (scancel --signal=TERM) keeps what it finished, and rerunning the
// array finishes it to the same result. Without `sbatch` (a laptop) the file says it skipped, on one line.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin } from "./testing/spawnDep.js";
import { ggufEmbedArgs, greedyGenerateArgs } from "./testing/tinyRuns.js";

/** Why the Slurm tests cannot run here, or null. In CI a missing cluster is a failure, not a skip. */
function slurmMissing(): string | null {
  if (spawnSync("sbatch", ["--version"]).error)
    return "sbatch is not installed (apt-get install slurm-wlm munge)";
  const info = spawnSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 20_000 });
  if (info.status !== 0 || !/idle|mixed|allocated/.test(info.stdout)) {
    const why = `no Slurm node takes jobs (sinfo: ${(info.stderr || info.stdout).trim() || info.status}); start one: eval "$(tools/slurm-local.sh start)"`;
    if (process.env.CI) throw new Error(why);
    return why;
  }
  return null;
}

const missing = slurmMissing();
if (missing) console.warn(`slurm.test.ts: skipped: ${missing}`);

let fx: TrainFixture;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: 300_000 });
}

function dep(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** `dep ARGS` as one shell command line. */
const shellLine = (args: string[]) =>
  [process.execPath, bin, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");

/** An array-job script running `dep` command lines, one after the other, in each task. */
function script(name: string, commands: string[][]): string {
  const path = join(fx.dir, `${name}.sbatch`);
  // one command: exec, so the task's signals reach dep itself
  const body =
    commands.length === 1
      ? `exec ${shellLine(commands[0]!)}`
      : `set -e\n${commands.map(shellLine).join("\n")}`;
  // threads from the allocation (SLURM_CPUS_PER_TASK=1), not from the caller's environment
  const env = "unset DEP_THREADS OMP_NUM_THREADS";
  writeFileSync(
    path,
    `#!/bin/bash\n#SBATCH --job-name=dep-${name}\n#SBATCH --cpus-per-task=1\n#SBATCH --output=${fx.dir}/${name}-%A_%a.out\n${env}\n${body}\n`,
  );
  return path;
}

const embedArgs = (out: string, shard?: string) => [
  ...ggufEmbedArgs(fx, out),
  "--flush-every",
  "8",
  ...(shard ? ["--shard", shard] : []),
];

const generateArgs = (out: string, maxTokens: number, shard?: string) => [
  ...greedyGenerateArgs(fx, out, { maxTokens, parallel: 1 }),
  ...(shard ? ["--shard", shard] : []),
];

/**
 * The unsharded reference runs with another thread count than the 1-CPU tasks: the outputs must not depend
 * on it (greedy text once did, past 512 cached positions: CPU flash attention split the decode over threads).
 */
const otherThreads = ["--threads", "2"];

/** Polls `done` every 100 ms for up to `ms` (default two minutes). */
async function until(done: () => boolean, ms = 120_000): Promise<void> {
  for (let i = 0; i < ms / 100 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!done()) throw new Error("timed out waiting for the Slurm job");
}

const lineCount = (f: string) =>
  existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean).length : 0;

describe.skipIf(missing !== null)("Slurm array jobs (a real one-node cluster)", () => {
  beforeAll(async () => {
    fx = await trainFixture(12, 3);
  }, 300_000);
  afterAll(() => fx?.cleanup());

  it("dep embed and dep generate --shard auto as a 2-task array; merged, they are the unsharded outputs", () => {
    const emb = join(fx.dir, "emb-sharded");
    const preds = join(fx.dir, "preds.jsonl");
    const both = script("both", [embedArgs(emb, "auto"), generateArgs(preds, 8, "auto")]);
    sh("sbatch", ["--array=0-1", "--wait", both]); // throws when a task fails
    dep(["merge", "--out", emb]);
    dep(["merge", "--out", preds]);
    const full = join(fx.dir, "emb-full");
    dep([...embedArgs(full), ...otherThreads]);
    for (const f of ["embeddings.safetensors", "keys.jsonl", "meta.json"])
      expect(readFileSync(join(emb, f)).equals(readFileSync(join(full, f))), f).toBe(true);
    const fullPreds = join(fx.dir, "full.jsonl");
    dep([...generateArgs(fullPreds, 8), ...otherThreads]);
    expect(readFileSync(preds, "utf8").split("\n")).toEqual(readFileSync(fullPreds, "utf8").split("\n"));
  }, 600_000);

  it("a task preempted with scancel --signal=TERM keeps its finished samples; rerunning the array finishes it to the same result", async () => {
    const maxTokens = 400; // long enough that the signal lands mid-run (~0.2-1 s per sample)
    const preds = join(fx.dir, "preempted.jsonl");
    const job = script("preempt", [generateArgs(preds, maxTokens, "auto")]);
    const id = sh("sbatch", ["--parsable", "--array=0-1", job]).trim().split(";")[0]!;
    const manifest = (i: number) => `${preds}.shard-${i}-of-2.shard.json`;
    await until(() => existsSync(manifest(0)) && existsSync(manifest(1)));
    // preempt the task with the larger share (at least 4 of the 8 samples), once its first sample is written
    const size = (i: number) => JSON.parse(readFileSync(manifest(i), "utf8")).ids.length as number;
    const task = size(1) >= size(0) ? 1 : 0;
    const shard = `${preds}.shard-${task}-of-2`;
    await until(() => lineCount(shard) > 0);
    sh("scancel", ["--signal=TERM", "--full", `${id}_${task}`]);
    await until(() => sh("squeue", ["-h", "-j", id]).trim() === "");
    const log = readFileSync(join(fx.dir, `preempt-${id}_${task}.out`), "utf8");
    expect(log).toMatch(/SIGTERM: stopping cleanly/);
    expect(sh("scontrol", ["show", "job", `${id}_${task}`])).toMatch(/ExitCode=143:0/); // 128 + SIGTERM
    const kept = lineCount(shard);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size(task)); // stopped early, not finished
    sh("sbatch", ["--array=0-1", "--wait", job]); // the rerun resumes both tasks
    dep(["merge", "--out", preds]);
    const full = join(fx.dir, "preempt-full.jsonl");
    dep([...generateArgs(full, maxTokens), ...otherThreads]);
    expect(readFileSync(preds, "utf8").split("\n")).toEqual(readFileSync(full, "utf8").split("\n"));
  }, 600_000);

  it("dep slurm: the generated pipeline runs through the cluster, stage after stage, to a report", async () => {
    const work = join(fx.dir, "pipeline");
    const scripts = join(fx.dir, "pipeline-scripts");
    const budget = ["--max-length", "1200"];
    dep([
      "slurm",
      "--data",
      fx.dataDir,
      "--work",
      work,
      "--out",
      scripts,
      "--shards",
      "2",
      "--embedder",
      `gguf:${fx.modelPath}`,
      "--model",
      fx.modelPath,
      "--select-samples",
      "2",
      "--gres",
      "none",
      "--cpus-per-task",
      "1",
      "--dep",
      `${process.execPath} ${bin}`,
      "--extra",
      `train=--epochs 1 --grad-accum 2 --max-samples 2 --sae-width 16 --kernel-backend cpu ${budget.join(" ")}`,
      `select=--max-tokens 4 --temperature 0 ${budget.join(" ")}`,
      `select-score=--max-tokens 4 --temperature 0 ${budget.join(" ")}`,
      `generate=--max-tokens 4 --max-samples 4 --temperature 0 ${budget.join(" ")}`,
    ]);
    const submitted = sh("bash", [join(scripts, "submit.sh")]);
    const ids = [...submitted.matchAll(/: job (\d+)/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(10);
    await until(() => sh("squeue", ["-h", "-j", ids.join(",")]).trim() === "", 5 * 60_000);
    for (const [i, id] of ids.entries()) {
      const show = sh("scontrol", ["show", "job", id]);
      expect(
        show.match(/JobState=(\w+)/g)?.every((s) => s === "JobState=COMPLETED"),
        `job ${i + 1}: ${show}`,
      ).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(work, "run", "selection.json"), "utf8")).best.epoch).toBe(1);
    expect(lineCount(join(work, "preds.jsonl"))).toBe(4);
    expect(JSON.parse(readFileSync(join(work, "run", "eval.json"), "utf8")).n).toBe(4);
    expect(existsSync(join(work, "report", "table.md"))).toBe(true);
  }, 600_000);
});
