// `--shard I/N` and `dep merge` as a user meets them, with spawned `dep` processes on the tiny fixture: the
// merged shards are exactly the unsharded output (store bytes, prediction lines in order), and the merge
// refuses a missing, duplicate, unfinished or mismatched shard with one line naming it.
import { copyFileSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readShardManifest } from "@dep/core";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseShard } from "./shardOption.js";
import { type DepRun, depRunner, expectOneLineError, fixtureInputs } from "./testing/spawnDep.js";
import { ggufEmbedArgs, greedyGenerateArgs, tinyTrainArgs } from "./testing/tinyRuns.js";

let fx: TrainFixture;
const dep = depRunner(() => join(fx.dir, "home"));

function ok(r: DepRun): DepRun {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** a run trained for one epoch on the fixture (checkpoints/epoch-1) */
let run: string;

beforeAll(async () => {
  fx = await trainFixture(12, 3);
  run = join(fx.dir, "run");
  ok(dep([...tinyTrainArgs(fx, run), "--threads", "1", "--json"]));
}, 300_000);
afterAll(() => fx?.cleanup());

const embedArgs = (out: string, extra: string[] = []) => [
  ...ggufEmbedArgs(fx, out),
  "--threads",
  "1",
  "--json",
  ...extra,
];

const generateArgs = (out: string, extra: string[] = []) => [
  ...greedyGenerateArgs(fx, out, { maxTokens: 6, parallel: 2 }),
  "--threads",
  "1",
  "--json",
  ...extra,
];

const storeFiles = ["embeddings.safetensors", "keys.jsonl", "meta.json"];

describe("--shard", () => {
  it("parses I/N, auto (Slurm array) and auto/N (Kubernetes), and refuses the rest", () => {
    expect(parseShard("1/3", {})).toEqual({ index: 1, count: 3 });
    const slurm = { SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_MIN: "4", SLURM_ARRAY_TASK_COUNT: "2" };
    expect(parseShard("auto", slurm)).toEqual({ index: 1, count: 2 });
    const stepped = {
      SLURM_ARRAY_TASK_ID: "4",
      SLURM_ARRAY_TASK_MIN: "0",
      SLURM_ARRAY_TASK_STEP: "2",
      SLURM_ARRAY_TASK_COUNT: "3",
    };
    expect(parseShard("auto", stepped)).toEqual({ index: 2, count: 3 });
    expect(parseShard("auto/4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 3, count: 4 });
    expect(() => parseShard("2/2", {})).toThrow(/shard index 2 is not below the shard count 2/);
    expect(() => parseShard("0/0", {})).toThrow(/shard count must be an integer from 1/);
    expect(() => parseShard("1-2", {})).toThrow(/expected I\/N/);
    expect(() => parseShard("auto", {})).toThrow(/SLURM_ARRAY_TASK_ID/);
    expect(() => parseShard("auto/2", { JOB_COMPLETION_INDEX: "x" })).toThrow(/JOB_COMPLETION_INDEX is "x"/);
  });

  it("a bad --shard is a usage error (exit 2) naming the flag", () => {
    const r = dep(embedArgs(join(fx.dir, "bad"), ["--shard", "3/2"]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shard.*shard index 3 is not below the shard count 2/);
  });

  it("dep embed: two shards merge into the unsharded store, byte for byte", () => {
    const full = join(fx.dir, "emb-full");
    const all = JSON.parse(ok(dep(embedArgs(full))).stdout);
    const out = join(fx.dir, "emb-sharded");
    const a = JSON.parse(ok(dep(embedArgs(out, ["--shard", "0/2"]))).stdout);
    // --shard auto from a Slurm array task's environment
    const b = JSON.parse(
      ok(dep(embedArgs(out, ["--shard", "auto"]), { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" }))
        .stdout,
    );
    expect(a.out).toBe(`${out}.shard-0-of-2`);
    expect(b.out).toBe(`${out}.shard-1-of-2`);
    expect(a.texts + b.texts).toBe(all.texts);
    expect(Math.min(a.texts, b.texts)).toBeGreaterThan(all.texts / 4); // balanced, not all in one
    // a rerun of a finished shard resumes: nothing new
    expect(JSON.parse(ok(dep(embedArgs(out, ["--shard", "0/2"]))).stdout)).toMatchObject({ embedded: 0 });
    const m = JSON.parse(ok(dep(["merge", "--out", out, "--json"])).stdout); // the shards beside --out
    expect(m).toMatchObject({ kind: "embeddings", shards: 2, items: all.texts });
    for (const f of storeFiles)
      expect(readFileSync(join(out, f)).equals(readFileSync(join(full, f))), f).toBe(true);
    // an existing output needs --force
    const again = dep(["merge", "--out", out, `${out}.shard-0-of-2`, `${out}.shard-1-of-2`]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists.*--force/);
  }, 300_000);

  it("a batch log (stderr not a terminal) gets one timestamped progress line per --progress-every", () => {
    const out = join(fx.dir, "emb-progress");
    const args = embedArgs(out, ["--batch-size", "2", "--progress-every", "0.05"]).filter(
      (a) => a !== "--json",
    );
    const r = ok(dep(args));
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines)
      expect(l).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] embed \d+\/\d+ texts \| [\d.]+\/s \| ETA \S+$/);
    expect(lines.at(-1)).toMatch(/embed (\d+)\/\1 texts/); // the last line: all done
    expect(ok(dep([...args, "--progress-every", "0"])).stderr).toBe(""); // 0: none (and nothing to do)
  }, 300_000);

  it("dep generate: two shards merge into the unsharded predictions, line for line in order", () => {
    const full = join(fx.dir, "full.jsonl");
    ok(dep(generateArgs(full)));
    const out = join(fx.dir, "preds.jsonl");
    const r0 = JSON.parse(ok(dep(generateArgs(out, ["--shard", "0/2"]))).stdout);
    const r1 = JSON.parse(ok(dep(generateArgs(out, ["--shard", "1/2"]))).stdout);
    expect(r0.total + r1.total).toBe(8);
    const m0 = readShardManifest(`${out}.shard-0-of-2.shard.json`)!;
    expect(m0).toMatchObject({ kind: "predictions", shard: 0, of: 2, total: 8 });
    ok(dep(["merge", "--out", out, `${out}.shard-1-of-2`, `${out}.shard-0-of-2`]));
    expect(readFileSync(out, "utf8")).toBe(readFileSync(full, "utf8"));
    // dep eval scores several files and globs as one corpus: the shards score as the merged file does
    const score = (...files: string[]) =>
      JSON.parse(ok(dep(["eval", "--predictions", ...files, "--json"])).stdout);
    const whole = score(full);
    const parts = score(`${out}.shard-*-of-2`);
    expect(parts.n).toBe(8);
    expect([parts.bleu, parts.meteor, parts.rouge1.mean]).toEqual([
      whole.bleu,
      whole.meteor,
      whole.rouge1.mean,
    ]);
    expectOneLineError(
      dep(["eval", "--predictions", full, `${out}.shard-0-of-2`]),
      3,
      /sample_id \S+ is in .*full\.jsonl record \d+ and .*shard-0-of-2 record \d+; give each sample once/,
    );
    expectOneLineError(dep(["eval", "--predictions", join(fx.dir, "nothing-*.jsonl")]), 3, /no file matches/);
  }, 300_000);

  it("dep merge refuses a missing, duplicate, unfinished or mismatched shard (exit 3, naming it)", () => {
    const out = join(fx.dir, "preds.jsonl");
    const s0 = `${out}.shard-0-of-2`;
    const s1 = `${out}.shard-1-of-2`;
    const target = join(fx.dir, "m.jsonl");
    expectOneLineError(dep(["merge", "--out", target, s0]), 3, /missing shard 1 of 2 \(have 0\)/);
    expectOneLineError(dep(["merge", "--out", target, s0, s0, s1]), 3, /are both shard 0 of 2/);
    // another setting (max tokens) is another job
    const other = join(fx.dir, "other.jsonl");
    ok(dep(generateArgs(other, ["--shard", "1/2", "--max-tokens", "5"])));
    const otherShard = `${other}.shard-1-of-2`;
    expectOneLineError(
      dep(["merge", "--out", target, s0, otherShard]),
      3,
      /other\.jsonl\.shard-1-of-2 was made with other settings/,
    );
    // ...which a rerun into the same shard output refuses too
    const rerun = dep(generateArgs(out, ["--shard", "1/2", "--max-tokens", "5"]));
    expectOneLineError(rerun, 2, /shard-1-of-2 was written with other settings/);
    // an unfinished shard (a line lost): merge says which and to rerun it
    const cut = join(fx.dir, "cut.jsonl");
    const cut1 = `${cut}.shard-1-of-2`;
    copyFileSync(s1, cut1);
    copyFileSync(`${s1}.shard.json`, `${cut1}.shard.json`);
    const lines = readFileSync(cut1, "utf8").trim().split("\n");
    writeFileSync(cut1, `${lines.slice(1).join("\n")}\n`);
    expectOneLineError(
      dep(["merge", "--out", target, s0, cut1]),
      3,
      new RegExp(
        `cut\\.jsonl\\.shard-1-of-2: shard 1 of 2 is unfinished \\(${lines.length - 1} of ${lines.length} samples\\); rerun it`,
      ),
    );
    // not a shard output at all
    expectOneLineError(dep(["merge", "--out", target, fx.dataDir]), 3, /no shard manifest/);
  }, 300_000);

  const lossArgs = (extra: string[]) => [
    "loss",
    "--checkpoint",
    join(run, "checkpoints", "epoch-1"),
    ...fixtureInputs(fx),
    "--max-samples",
    "5",
    "--max-length",
    "1200",
    "--threads",
    "1",
    "--json",
    ...extra,
  ];

  it("dep loss --out: per-sample lines; two shards merge into the unsharded file and its means", () => {
    const full = join(fx.dir, "loss.jsonl");
    const all = JSON.parse(ok(dep(lossArgs(["--out", full]))).stdout);
    expect(all).toMatchObject({ out: full, n: 5 });
    const out = join(fx.dir, "loss-sharded.jsonl");
    const a = JSON.parse(ok(dep(lossArgs(["--out", out, "--shard", "0/2"]))).stdout);
    const b = JSON.parse(ok(dep(lossArgs(["--out", out, "--shard", "1/2"]))).stdout);
    expect(a.n + b.n).toBe(5);
    expect(JSON.parse(ok(dep(["merge", "--out", out, "--json"])).stdout)).toMatchObject({
      kind: "losses",
      items: 5,
    });
    expect(readFileSync(out, "utf8")).toBe(readFileSync(full, "utf8"));
    // a rerun into the merged file computes nothing and reports the same means
    expect(JSON.parse(ok(dep(lossArgs(["--out", out]))).stdout)).toMatchObject({
      n: 5,
      tokenMean: all.tokenMean,
      sampleMean: all.sampleMean,
    });
    expectOneLineError(dep(lossArgs(["--shard", "0/2"])), 2, /--shard needs --out FILE/);
  }, 300_000);

  it("dep select --shard: each shard generates its share for every epoch; an unsharded select merges and scores the same", () => {
    const select = (dir: string, extra: string[] = []) =>
      dep([
        "select",
        "--run",
        dir,
        ...fixtureInputs(fx),
        "--max-samples",
        "4",
        "--max-tokens",
        "4",
        "--temperature",
        "0",
        "--max-length",
        "1200",
        "--threads",
        "1",
        "--json",
        ...extra,
      ]);
    const copy = join(fx.dir, "run-sharded");
    cpSync(join(run, "checkpoints"), join(copy, "checkpoints"), { recursive: true });
    const whole = JSON.parse(ok(select(run)).stdout);
    const s0 = JSON.parse(ok(select(copy, ["--shard", "0/2"])).stdout);
    const s1 = JSON.parse(ok(select(copy, ["--shard", "1/2"])).stdout);
    expect(s0.epochs[0].total + s1.epochs[0].total).toBe(4);
    const merged = JSON.parse(ok(select(copy)).stdout);
    expect(merged.epochs.map((e: { meteor: number; n: number }) => [e.meteor, e.n])).toEqual(
      whole.epochs.map((e: { meteor: number; n: number }) => [e.meteor, e.n]),
    );
    const preds = (dir: string) => readFileSync(join(dir, "select", "epoch-1.val.jsonl"), "utf8");
    expect(preds(copy)).toBe(preds(run));
  }, 300_000);
});
