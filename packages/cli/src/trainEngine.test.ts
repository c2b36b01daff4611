// `dep train --engine native`: the native engine in F32 gives the run the ggml graph gives (both exact),
// so its losses match to float rounding; bf16 stays close; a bad choice is refused with the usage exit code;
// without --engine, the native engine runs (bf16 where the CPU has bf16 units; the ggml graph in a build without
// oneDNN) and run.json says which.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { gradEngineBuild } from "@dep/native-cuda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureInputs } from "./testing/spawnDep.js";

const bin = join(import.meta.dirname, "..", "dist", "bin.js");
let fx: TrainFixture;
beforeAll(async () => {
  fx = await trainFixture(12, 4);
}, 300_000);
afterAll(() => fx?.cleanup());

function train(out: string, ...extra: string[]) {
  const args = [
    bin,
    "train",
    ...fixtureInputs(fx),
    "--out",
    join(fx.dir, out),
    "--epochs",
    "1",
    "--grad-accum",
    "2",
    "--max-samples",
    "4",
    "--max-length",
    "1200",
    "--sae-width",
    "16",
    "--lr",
    "1e-3",
    "--kernel-backend",
    "cpu",
    "--threads",
    "2",
    "--json",
    ...extra,
  ];
  return spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000 });
}

/** The result object `dep train --json` prints last. */
function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
}

describe("dep train --engine", () => {
  it("native f32 trains like the ggml graph; bf16 close to it", () => {
    const ggml = train("ggml", "--engine", "ggml", "--grad-backward", "f32");
    expect(ggml.status, ggml.stderr).toBe(0);
    const native = train("native", "--engine", "native", "--engine-dtype", "f32");
    expect(native.status, native.stderr).toBe(0);
    const a = lastJson(ggml.stdout);
    const b = lastJson(native.stdout);
    expect(typeof a.finalLoss).toBe("number");
    expect(Math.abs((b.finalLoss as number) - (a.finalLoss as number))).toBeLessThan(
      1e-4 * Math.abs(a.finalLoss as number),
    );
    if (gradEngineBuild().dtypes.includes("bf16")) {
      const bf = train("bf16", "--engine", "native", "--engine-dtype", "bf16");
      expect(bf.status, bf.stderr).toBe(0);
      const c = lastJson(bf.stdout);
      expect(c.finalLoss).not.toBe(a.finalLoss); // bf16 rounding shows: the native engine ran
      expect(Math.abs((c.finalLoss as number) - (a.finalLoss as number))).toBeLessThan(
        2e-2 * Math.abs(a.finalLoss as number),
      );
    }
  }, 600_000);

  it("refuses an unknown engine", () => {
    const r = train("bad", "--engine", "torch");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--engine <e>.*torch.*auto, native, ggml/s);
  });

  it("--engine-memory: a size, or exit 2 naming the option; 0 recomputes every layer and trains the same", () => {
    const bad = train("bad-memory", "--engine-memory", "lots");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /'--engine-memory <size>' argument 'lots' is invalid\. size "lots": use a size like 2GB/,
    );
    const native = train("kept", "--engine", "native", "--engine-dtype", "f32", "--engine-memory", "4GB");
    const recomputed = train(
      "recomputed",
      "--engine",
      "native",
      "--engine-dtype",
      "f32",
      "--engine-memory",
      "0",
    );
    expect(native.status, native.stderr).toBe(0);
    expect(recomputed.status, recomputed.stderr).toBe(0);
    expect(lastJson(recomputed.stdout).finalLoss).toBe(lastJson(native.stdout).finalLoss);
    const ggml = train("ggml-memory", "--engine", "ggml", "--engine-memory", "2GB");
    expect(ggml.status, ggml.stderr).toBe(0);
    expect(ggml.stderr).toMatch(/warning: --engine-memory applies to the native engine/);
  }, 600_000);

  it("defaults to the native engine in this CPU's dtype (ggml without oneDNN), and records it in run.json", () => {
    const r = train("default");
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(fx.dir, "default", "run.json"), "utf8"));
    const build = gradEngineBuild();
    expect(run.gradSource).toBe(build.onednn ? `native ${build.defaultDtype}, ${build.matmul}` : "ggml");
    const ggml = JSON.parse(readFileSync(join(fx.dir, "ggml", "run.json"), "utf8"));
    expect(ggml.gradSource).toBe("ggml");
  }, 300_000);
});
