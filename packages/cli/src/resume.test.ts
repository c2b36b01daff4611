// Interrupting `dep train` and `dep generate` as a user would (SIGKILL at any moment, SIGINT), then rerunning:
// the result must equal an uninterrupted run.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureInputs } from "./testing/spawnDep.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
let fx: TrainFixture;
beforeAll(async () => {
  fx = await trainFixture(20, 8);
}, 300_000);
afterAll(() => fx?.cleanup());

const trainArgs = (out: string) => [
  bin,
  "train",
  ...fixtureInputs(fx),
  "--out",
  out,
  "--epochs",
  "2",
  "--grad-accum",
  "2",
  "--max-samples",
  "6",
  "--max-length",
  "1200",
  "--sae-width",
  "16",
  "--lr",
  "1e-3",
  "--save-every",
  "1",
  "--kernel-backend",
  "cpu",
  "--threads",
  "2",
  "--json",
];

function run(args: string[]) {
  return spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000 });
}

/** Starts a child and kills it with `signal` once `ready()` holds (polled), returning its exit status. */
async function killWhen(
  args: string[],
  ready: () => boolean,
  signal: NodeJS.Signals,
): Promise<number | null> {
  const child: ChildProcess = spawn(process.execPath, args, { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (let i = 0; i < 3000 && child.exitCode === null; i++) {
    if (ready()) {
      child.kill(signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return exited;
}

describe("interrupted runs resume to the same result", () => {
  it("dep train: SIGKILL mid-run, then --resume, ends bit-identical to an uninterrupted run", async () => {
    const full = join(fx.dir, "full");
    expect(run(trainArgs(full)).status).toBe(0);
    const killed = join(fx.dir, "killed");
    // kill as soon as the first resumable state exists (mid-epoch, while later steps are running)
    await killWhen(
      trainArgs(killed),
      () => existsSync(join(killed, "state", "trainer_state.json")),
      "SIGKILL",
    );
    expect(existsSync(join(killed, "checkpoints", "epoch-2"))).toBe(false);
    const resumed = run([...trainArgs(killed), "--resume"]);
    expect(resumed.status, resumed.stderr).toBe(0);
    for (const f of ["model.safetensors"]) {
      const a = readFileSync(join(full, "checkpoints", "epoch-2", f));
      const b = readFileSync(join(killed, "checkpoints", "epoch-2", f));
      expect(b.equals(a)).toBe(true);
    }
  }, 600_000);

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)(
    "dep train: %s stops cleanly with exit %i, and --resume completes",
    async (signal, exitCode) => {
      const out = join(fx.dir, signal.toLowerCase());
      const code = await killWhen(
        trainArgs(out),
        () =>
          existsSync(join(out, "metrics.jsonl")) &&
          readFileSync(join(out, "metrics.jsonl"), "utf8").split("\n").length > 2,
        signal,
      );
      expect(code).toBe(exitCode);
      expect(existsSync(join(out, "state", "trainer_state.json"))).toBe(true);
      expect(run([...trainArgs(out), "--resume"]).status).toBe(0);
      const a = readFileSync(join(fx.dir, "full", "checkpoints", "epoch-2", "model.safetensors"));
      expect(readFileSync(join(out, "checkpoints", "epoch-2", "model.safetensors")).equals(a)).toBe(true);
    },
    600_000,
  );

  it("dep generate: a killed run resumes and skips finished samples", async () => {
    const ckpt = join(fx.dir, "full", "checkpoints", "epoch-2");
    const args = (out: string) => [
      bin,
      "generate",
      "--checkpoint",
      ckpt,
      "--data",
      fx.dataDir,
      "--embeddings",
      fx.embDir,
      "--model",
      fx.modelPath,
      "--out",
      out,
      "--max-samples",
      "6",
      "--max-tokens",
      "8",
      "--parallel",
      "2",
      "--temperature",
      "0",
      "--max-length",
      "1200",
      "--threads",
      "2",
      "--json",
    ];
    const full = join(fx.dir, "full.jsonl");
    expect(run(args(full)).status).toBe(0);
    const part = join(fx.dir, "part.jsonl");
    await killWhen(args(part), () => existsSync(part) && readFileSync(part, "utf8").length > 0, "SIGKILL");
    const again = run(args(part));
    expect(again.status, again.stderr).toBe(0);
    const lines = (f: string) =>
      readFileSync(f, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .sort((x, y) => x.sample_id.localeCompare(y.sample_id));
    expect(lines(part)).toEqual(lines(full));
  }, 600_000);
});
