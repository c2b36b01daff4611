// Reliability as a user meets it, with spawned `dep` processes on real files: an interrupted `dep embed`
// (SIGINT or SIGKILL) resumes to the very store an uninterrupted run writes; inputs that are missing, corrupt
// or do not fit together (embedding dims) exit with their class's code and one line naming the file and what
// to do, and leave no output behind.
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { embedDataset } from "@dep/core";
import { bagOfWordsEmbedder, type TrainFixture, trainFixture } from "@dep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, depRunner, expectOneLineError } from "./testing/spawnDep.js";

let fx: TrainFixture;
/** a run trained on the fixture's store (d = 32), with checkpoints/epoch-1 and a resumable state */
let run: string;
/** the fixture's data embedded at d = 16 */
let emb16: string;

const dep = depRunner(() => join(fx.dir, "home"));

beforeAll(async () => {
  fx = await trainFixture(20, 8);
  emb16 = join(fx.dir, "emb16");
  await embedDataset({ dataDir: fx.dataDir, embedder: bagOfWordsEmbedder(16), outDir: emb16 });
  run = join(fx.dir, "run");
  const r = dep([...trainArgs(fx.embDir, run), "--save-every", "1"]);
  expect(r.code, r.stderr).toBe(0);
}, 300_000);
afterAll(() => fx?.cleanup());

const trainArgs = (embDir: string, out: string) => [
  "train",
  "--data",
  fx.dataDir,
  "--embeddings",
  embDir,
  "--model",
  fx.modelPath,
  "--out",
  out,
  "--epochs",
  "1",
  "--grad-accum",
  "2",
  "--max-samples",
  "2",
  "--max-length",
  "1200",
  "--sae-width",
  "16",
  "--kernel-backend",
  "cpu",
  "--threads",
  "1",
  "--json",
];

describe("dep embed: an interrupted run resumes to the same store", () => {
  // the fixture's tiny GGUF as a llama.cpp embedder: the real resumable path, at a few seconds per run
  const embedArgs = (out: string) => [
    bin,
    "embed",
    "--data",
    fx.dataDir,
    "--embedder",
    `gguf:${fx.modelPath}`,
    "--out",
    out,
    "--batch-size",
    "8",
    "--flush-every",
    "16",
    "--threads",
    "1",
    "--json",
  ];
  const parts = (out: string) =>
    existsSync(join(out, "parts"))
      ? readdirSync(join(out, "parts")).filter((f) => /^part-\d{6}\.safetensors$/.test(f)).length
      : 0;
  const storeFiles = ["embeddings.safetensors", "keys.jsonl", "meta.json"];
  let full: string;

  beforeAll(() => {
    full = join(fx.dir, "emb-full");
    const r = dep(embedArgs(full).slice(1));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ reused: 0 });
  }, 300_000);

  /** Starts `dep embed`, sends `signal` once two part files exist; returns its exit code and stderr. */
  async function interrupt(out: string, signal: NodeJS.Signals) {
    const child: ChildProcess = spawn(process.execPath, embedArgs(out), {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (b) => {
      stderr += b;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    for (let i = 0; i < 3000 && child.exitCode === null; i++) {
      if (parts(out) >= 2) {
        child.kill(signal);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return { code: await exited, stderr };
  }

  /** Reruns into `out` and checks that it finished the interrupted work into the uninterrupted run's store. */
  function resumeAndCompare(out: string): void {
    const again = dep(embedArgs(out).slice(1));
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(r.reused).toBeGreaterThan(0);
    expect(r.embedded).toBeGreaterThan(0);
    expect(r.reused + r.embedded).toBe(r.texts);
    for (const f of storeFiles)
      expect(readFileSync(join(out, f)).equals(readFileSync(join(full, f))), f).toBe(true);
    expect(existsSync(join(out, "parts"))).toBe(false);
  }

  it("SIGINT: exits 130 with the rows done kept in part files, and a rerun completes the same store", async () => {
    const out = join(fx.dir, "emb-sigint");
    const r = await interrupt(out, "SIGINT");
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /\ndep: error: embedding interrupted: \d+ of \d+ texts are in \S+emb-sigint; rerun to continue \[DEP_ABORTED\]\n$/,
    );
    expect(parts(out)).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(out, "embeddings.safetensors"))).toBe(false);
    resumeAndCompare(out);
  }, 300_000);

  it("SIGKILL mid-run: the finished part files survive, and a rerun completes the same store", async () => {
    const out = join(fx.dir, "emb-sigkill");
    const r = await interrupt(out, "SIGKILL");
    expect(r.code).toBe(null);
    expect(parts(out)).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(out, "embeddings.safetensors"))).toBe(false);
    resumeAndCompare(out);
  }, 300_000);
});

describe("embedding stores that do not fit exit 3, naming the store, before writing anything", () => {
  const ckpt = () => join(run, "checkpoints", "epoch-1");
  // should a check regress, the commands still end soon
  const bounded = ["--max-samples", "1", "--max-length", "1200", "--threads", "1"];
  const sampled = [...bounded, "--max-tokens", "4"];
  const dimMismatch = /emb16\/meta\.json: the store holds dim 16 embeddings \(test-bag-of-words-16\) but /;

  it("dep generate --checkpoint trained on d=32 with a d=16 store", () => {
    const out = join(fx.dir, "gen16.jsonl");
    const r = dep([
      "generate",
      "--checkpoint",
      ckpt(),
      "--data",
      fx.dataDir,
      "--embeddings",
      emb16,
      "--model",
      fx.modelPath,
      "--out",
      out,
      ...sampled,
    ]);
    expectOneLineError(r, 3, dimMismatch);
    expect(r.stderr).toMatch(
      /epoch-1 was trained on dim 32 \(test-bag-of-words-32\); pass --embeddings the store it was trained with \[DEP_EMBEDDINGS\]/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("dep loss and dep select with a d=16 store", () => {
    const common = ["--data", fx.dataDir, "--embeddings", emb16, "--model", fx.modelPath, ...bounded];
    expectOneLineError(dep(["loss", "--checkpoint", ckpt(), ...common]), 3, dimMismatch);
    expectOneLineError(dep(["select", "--run", run, ...common, "--max-tokens", "4"]), 3, dimMismatch);
    expect(existsSync(join(run, "select"))).toBe(false);
  });

  it("dep train --resume of a d=32 run with a d=16 store leaves the run as it was", () => {
    const before = readFileSync(join(run, "state", "trainer_state.json"));
    const metrics = readFileSync(join(run, "metrics.jsonl"));
    const r = dep([...trainArgs(emb16, run), "--resume"]);
    expectOneLineError(
      r,
      3,
      /emb16\/meta\.json: the store holds dim 16 embeddings .* but the run in \S+run was trained on dim 32; pass --embeddings/,
    );
    expect(readFileSync(join(run, "state", "trainer_state.json")).equals(before)).toBe(true);
    expect(readFileSync(join(run, "metrics.jsonl")).equals(metrics)).toBe(true);
  });

  it("a store whose meta.json dim disagrees with its embeddings: dep diff, dep train, dep generate", () => {
    const bad = join(fx.dir, "emb-bad-meta");
    cpSync(fx.embDir, bad, { recursive: true });
    const meta = JSON.parse(readFileSync(join(bad, "meta.json"), "utf8"));
    writeFileSync(join(bad, "meta.json"), JSON.stringify({ ...meta, dim: 24 }));
    const message =
      /emb-bad-meta\/embeddings\.safetensors: tensor embeddings has shape \[\d+,32\], expected \[N, 24\] \(meta\.json dim\); fix meta\.json or re-embed \[DEP_INPUT\]/;
    const diffOut = join(fx.dir, "bad-meta.safetensors");
    expectOneLineError(
      dep(["diff", "--data", fx.dataDir, "--embeddings", bad, "--out", diffOut]),
      3,
      message,
    );
    expect(readdirSync(fx.dir).filter((f) => f.startsWith("bad-meta"))).toEqual([]);
    const trainOut = join(fx.dir, "run-bad-meta");
    expectOneLineError(dep(trainArgs(bad, trainOut)), 3, message);
    expect(existsSync(trainOut)).toBe(false);
    const genOut = join(fx.dir, "gen-bad-meta.jsonl");
    const g = dep([
      "generate",
      "--checkpoint",
      ckpt(),
      "--data",
      fx.dataDir,
      "--embeddings",
      bad,
      "--model",
      fx.modelPath,
      "--out",
      genOut,
      ...sampled,
    ]);
    expectOneLineError(g, 3, message);
    expect(existsSync(genOut)).toBe(false);
  });
});

describe("missing and corrupt files exit with their class's code and leave no output", () => {
  it("a --data folder that does not exist: exit 3 naming it (embed, diff, train, generate, loss)", () => {
    const data = join(fx.dir, "no-such-data");
    const message =
      /no-such-data: no such dataset folder; pass a folder written by dep data synth or dep data prepare/;
    const outs = {
      embed: join(fx.dir, "nd-emb"),
      diff: join(fx.dir, "nd.safetensors"),
      train: join(fx.dir, "nd-run"),
      generate: join(fx.dir, "nd.jsonl"),
    };
    const m = ["--model", fx.modelPath, "--threads", "1"];
    expectOneLineError(dep(["embed", "--data", data, "--out", outs.embed]), 3, message);
    expectOneLineError(
      dep(["diff", "--data", data, "--embeddings", fx.embDir, "--out", outs.diff]),
      3,
      message,
    );
    expectOneLineError(
      dep(["train", "--data", data, "--embeddings", fx.embDir, "--out", outs.train, ...m]),
      3,
      message,
    );
    expectOneLineError(
      dep(["generate", "--data", data, "--embeddings", fx.embDir, "--out", outs.generate, ...m]),
      3,
      message,
    );
    expectOneLineError(
      dep([
        "loss",
        "--checkpoint",
        join(run, "checkpoints", "epoch-1"),
        "--data",
        data,
        "--embeddings",
        fx.embDir,
        ...m,
      ]),
      3,
      message,
    );
    for (const out of Object.values(outs)) expect(existsSync(out), out).toBe(false);
  });

  it("--predictions or --embeddings that do not exist: exit 3 naming the path", () => {
    const preds = join(fx.dir, "no-such-preds.jsonl");
    expectOneLineError(
      dep(["eval", "--predictions", preds]),
      3,
      /no-such-preds\.jsonl: no such file; pass the JSONL that dep generate wrote/,
    );
    const out = join(fx.dir, "ne.safetensors");
    expectOneLineError(
      dep(["diff", "--data", fx.dataDir, "--embeddings", join(fx.dir, "no-such-emb"), "--out", out]),
      3,
      /no-such-emb\/meta\.json: missing\..*run `dep embed` to build the store/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("a corrupt GGUF: exit 4 naming it (generate, train, loss, select, embed gguf:)", () => {
    const bad = join(fx.dir, "corrupt.gguf");
    writeFileSync(bad, "GGUF but not really");
    const message = /corrupt\.gguf.*\[DEP_MODEL_LOAD\]/;
    const data = ["--data", fx.dataDir, "--embeddings", fx.embDir, "--model", bad, "--threads", "1"];
    const outs = {
      generate: join(fx.dir, "cg.jsonl"),
      train: join(fx.dir, "cg-run"),
      embed: join(fx.dir, "cg-emb"),
    };
    expectOneLineError(dep(["generate", ...data, "--out", outs.generate]), 4, message);
    expectOneLineError(dep(["train", ...data, "--out", outs.train]), 4, message);
    expectOneLineError(
      dep(["loss", "--checkpoint", join(run, "checkpoints", "epoch-1"), ...data]),
      4,
      message,
    );
    expectOneLineError(dep(["select", "--run", run, ...data]), 4, message);
    expectOneLineError(
      dep([
        "embed",
        "--data",
        fx.dataDir,
        "--embedder",
        `gguf:${bad}`,
        "--out",
        outs.embed,
        "--threads",
        "1",
      ]),
      4,
      message,
    );
    for (const out of Object.values(outs)) expect(existsSync(out), out).toBe(false);
    expect(existsSync(join(run, "select"))).toBe(false);
  });

  it("a store of another embedder as --out, an existing --out, a store that does not cover the data", () => {
    expectOneLineError(
      dep([
        "embed",
        "--data",
        fx.dataDir,
        "--embedder",
        `gguf:${fx.modelPath}`,
        "--out",
        emb16,
        "--threads",
        "1",
      ]),
      2,
      /emb16 holds embeddings from test-bag-of-words-16 \(dim 16\).*use another --out folder/,
    );
    expectOneLineError(
      dep(["data", "synth", "--users", "10", "--out", fx.dataDir]),
      2,
      /already exists; choose another --out or pass --force/,
    );
    const other = join(fx.dir, "other-data");
    expect(dep(["data", "synth", "--users", "10", "--seed", "99", "--out", other, "--json"]).code).toBe(0);
    const out = join(fx.dir, "uncovered.safetensors");
    expectOneLineError(
      dep(["diff", "--data", other, "--embeddings", fx.embDir, "--out", out]),
      3,
      /emb: no embedding for the review of .*run `dep embed` on this dataset into the store \[DEP_EMBED_MISSING\]/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
