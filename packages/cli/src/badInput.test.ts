// Bad input as a careless or hostile user gives it, with spawned `dep` processes on real files: data kept where
// users keep it (the Hugging Face cache, symlinked folders), outputs aimed at inputs, entries that are not
// regular files, numbers that do not parse, and runs with nothing to resume. Each case exits with its class's
// code, one line naming the path or flag, and leaves the inputs as they were.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { readGguf, writeTinyModel } from "@dep/native-cuda/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, depRunner, expectOneLineError, fixtureInputs } from "./testing/spawnDep.js";

let fx: TrainFixture;

const dep = depRunner(() => join(fx.dir, "home"));
/** `dep train` on the fixture's data, store and tiny model; the caller adds --out and the rest. */
const trainOnFixture = () => ["train", ...fixtureInputs(fx)];

/** A digest of every file below `path` (or of the file), to show an input was left as it was. */
function digest(path: string): string {
  const h = createHash("sha256");
  const add = (p: string) => {
    if (
      readdirSync(dirname(p), { withFileTypes: true })
        .find((e) => e.name === p.split("/").pop())
        ?.isDirectory()
    ) {
      for (const n of readdirSync(p).sort()) add(join(p, n));
    } else h.update(p).update(readFileSync(p));
  };
  add(path);
  return h.digest("hex");
}

/** Moves the files below `src` into `repo/blobs/` and links them from `repo/snapshots/<rev>/`, as the HF cache does. */
function toHubCache(src: string, repo: string, revision: string): string {
  const snapshot = join(repo, "snapshots", revision);
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  writeFileSync(join(repo, "refs", "main"), revision);
  let n = 0;
  const move = (from: string, to: string) => {
    for (const e of readdirSync(from, { withFileTypes: true })) {
      if (e.isDirectory()) move(join(from, e.name), join(to, e.name));
      else {
        const blob = join(repo, "blobs", `${n++}`.padStart(40, "0"));
        renameSync(join(from, e.name), blob);
        mkdirSync(to, { recursive: true });
        symlinkSync(relative(to, blob), join(to, e.name));
      }
    }
  };
  move(src, snapshot);
  return snapshot;
}

beforeAll(async () => {
  fx = await trainFixture(20, 8);
}, 300_000);
afterAll(() => fx?.cleanup());

describe("data where users keep it", () => {
  it("DPL-main and DPL-meta as two Hugging Face cache folders (--main/--meta): inspect and diff read every row", () => {
    const hub = join(fx.dir, "hf");
    cpSync(join(fx.dataDir, "main"), join(hub, "main-src"), { recursive: true });
    cpSync(join(fx.dataDir, "meta"), join(hub, "meta-src"), { recursive: true });
    const mainRepo = join(hub, "datasets--someone--DPL-main");
    toHubCache(join(hub, "main-src"), mainRepo, "a1b2c3");
    const metaSnapshot = toHubCache(
      join(hub, "meta-src"),
      join(hub, "datasets--someone--DPL-meta"),
      "d4e5f6",
    );
    const ours = dep(["data", "inspect", fx.dataDir, "--json"]);
    const theirs = dep(["data", "inspect", "--main", mainRepo, "--meta", metaSnapshot, "--json"]);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(JSON.parse(theirs.stdout).rows).toEqual(JSON.parse(ours.stdout).rows);

    const a = dep([
      "diff",
      "--data",
      fx.dataDir,
      "--embeddings",
      fx.embDir,
      "--out",
      join(fx.dir, "a.safetensors"),
      "--json",
    ]);
    const b = dep([
      "diff",
      ...["--main", mainRepo, "--meta", metaSnapshot],
      ...["--embeddings", fx.embDir, "--out", join(fx.dir, "b.safetensors"), "--json"],
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).samples).toBe(JSON.parse(a.stdout).samples);
    expect(readFileSync(join(fx.dir, "b.safetensors"))).toEqual(readFileSync(join(fx.dir, "a.safetensors")));
  });

  it("a folder of another layout as --data, or --main without --meta: the message says what to pass", () => {
    const other = join(fx.dir, "hub-like");
    cpSync(join(fx.dataDir, "main"), join(other, "DPL-main"), { recursive: true });
    expectOneLineError(
      dep(["data", "inspect", other]),
      3,
      /hub-like: not a dataset folder: it has no main\/ and meta\/ folder \(saw DPL-main\).*--main DIR --meta DIR/,
    );
    expectOneLineError(
      dep(["diff", "--main", other, "--embeddings", fx.embDir, "--out", join(fx.dir, "x.safetensors")]),
      2,
      /--main needs --meta too/,
    );
  });
});

describe("entries that are not regular files", () => {
  it("a symlinked category folder is read; a missing one is an error naming dataset.json (inspect, train)", () => {
    const s = join(fx.dir, "linked");
    cpSync(fx.dataDir, s, { recursive: true });
    rmSync(join(s, "main", "Books"), { recursive: true });
    symlinkSync(join(fx.dataDir, "main", "Books"), join(s, "main", "Books"));
    const r = dep(["data", "inspect", s, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout).rows)).toContain("Books");

    rmSync(join(s, "main", "Books"));
    const message = /dataset\.json lists \d+ Books\/train rows but .*main holds 0/;
    expectOneLineError(dep(["data", "inspect", s]), 3, message);
    const out = join(fx.dir, "linked-run");
    const t = dep([
      "train",
      "--data",
      s,
      "--embeddings",
      fx.embDir,
      "--model",
      fx.modelPath,
      "--out",
      out,
      "--threads",
      "1",
    ]);
    expectOneLineError(t, 3, /dataset\.json lists \d+ Books\/train rows/);
    expect(existsSync(out)).toBe(false);
  });

  it("a dangling link, a FIFO or an empty file in place of a split: exit 3 naming it", () => {
    const s = join(fx.dir, "odd");
    cpSync(fx.dataDir, s, { recursive: true });
    const split = join(s, "main", "Books", "val.jsonl");
    rmSync(split);
    symlinkSync(join(fx.dir, "gone.jsonl"), split);
    expectOneLineError(
      dep(["data", "inspect", s]),
      3,
      /val\.jsonl: a symbolic link to .*gone\.jsonl, which does not exist/,
    );
    rmSync(split);
    spawnSync("mkfifo", [split]);
    expectOneLineError(dep(["data", "inspect", s]), 3, /val\.jsonl: not a regular file/);
    rmSync(split);
    writeFileSync(split, "");
    expectOneLineError(dep(["data", "inspect", s]), 3, /val\.jsonl: empty file/);
  });
});

describe("outputs never overwrite inputs; an existing output needs --force", () => {
  it("dep diff --out onto the store or a split file: exit 2, inputs untouched", () => {
    const before = [digest(fx.embDir), digest(fx.dataDir)];
    const args = ["diff", "--data", fx.dataDir, "--embeddings", fx.embDir, "--out"];
    expectOneLineError(
      dep([...args, join(fx.embDir, "embeddings.safetensors")]),
      2,
      /--out .*embeddings\.safetensors lies inside the input .*emb; writing there would destroy it/,
    );
    expectOneLineError(
      dep([...args, join(fx.dataDir, "main", "Books", "test.jsonl")]),
      2,
      /lies inside the input .*main/,
    );
    expect([digest(fx.embDir), digest(fx.dataDir)]).toEqual(before);
  });

  it("dep diff onto an existing file needs --force", () => {
    const out = join(fx.dir, "exists.safetensors");
    writeFileSync(out, "keep me");
    const args = ["diff", "--data", fx.dataDir, "--embeddings", fx.embDir, "--out", out, "--json"];
    expectOneLineError(dep(args), 2, /exists\.safetensors already exists; pass --force/);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    expect(dep([...args, "--force"]).code).toBe(0);
    expect(readFileSync(out, "utf8")).not.toBe("keep me");
  });

  it("dep report --out onto a run or an existing folder: exit 2, nothing written", () => {
    const runDir = join(fx.dir, "some-run");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "eval.json"), "{}");
    const out = join(fx.dir, "old-report");
    mkdirSync(out);
    writeFileSync(join(out, "table.md"), "old");
    expectOneLineError(
      dep(["report", "--runs", runDir, "--out", runDir]),
      2,
      /--out .*some-run is the input/,
    );
    expectOneLineError(
      dep(["report", "--runs", runDir, "--out", out]),
      2,
      /old-report already exists; pass --force/,
    );
    expect(readFileSync(join(out, "table.md"), "utf8")).toBe("old");
    expect(readdirSync(fx.dir).filter((n) => n.includes(".tmp"))).toEqual([]);
  });

  it("dep data prepare --out <its input folder> --force: exit 2, inputs kept", () => {
    const d = join(fx.dir, "raw-src");
    expect(dep(["data", "synth", "--users", "10", "--raw", "--out", d, "--json"]).code).toBe(0);
    const raw = join(d, "raw", "Books");
    const before = digest(raw);
    const r = dep([
      "data",
      "prepare",
      ...["--reviews", join(raw, "reviews.jsonl"), "--meta", join(raw, "meta.jsonl")],
      ...["--category", "Books", "--out", d, "--force", "--threads", "1"],
    ]);
    expectOneLineError(r, 2, /--out .*raw-src holds the input .*reviews\.jsonl/);
    expect(digest(raw)).toBe(before);
  });

  it("dep data synth and prepare replace an existing folder with --force; the old --overwrite still works, with a notice", () => {
    const d = join(fx.dir, "synth-again");
    const synth = (...more: string[]) =>
      dep(["data", "synth", "--users", "10", "--raw", "--out", d, "--json", ...more]);
    expect(synth().code).toBe(0);
    expectOneLineError(
      synth("--seed", "7"),
      2,
      /synth-again already exists; choose another --out or pass --force/,
    );
    const forced = synth("--seed", "7", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toBe("");
    const old = synth("--seed", "8", "--overwrite");
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr.trim()).toBe("dep: warning: --overwrite is deprecated; use --force (the same meaning)");
    expect(JSON.parse(readFileSync(join(d, "dataset.json"), "utf8")).synthetic.seed).toBe(8);
    const raw = join(d, "raw", "Books");
    const out = join(fx.dir, "prepared-again");
    const prepare = (...more: string[]) =>
      dep([
        "data",
        "prepare",
        ...["--reviews", join(raw, "reviews.jsonl"), "--meta", join(raw, "meta.jsonl")],
        ...["--category", "Books", "--out", out, "--threads", "1", "--json", ...more],
      ]);
    expect(prepare().code).toBe(0);
    expectOneLineError(prepare(), 2, /prepared-again already exists; choose another --out or pass --force/);
    expect(prepare("--force").code).toBe(0);
    const p = prepare("--overwrite");
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/--overwrite is deprecated; use --force/);
  });

  it("dep train: --out that is a file, and --resume with nothing to resume, exit 2", () => {
    const file = join(fx.dir, "a-file");
    writeFileSync(file, "x");
    const args = [...trainOnFixture(), "--threads", "1"];
    expectOneLineError(
      dep([...args, "--out", file]),
      2,
      /--out .*a-file is a file; --out must name a folder/,
    );
    const typo = join(fx.dir, "runz");
    expectOneLineError(dep([...args, "--out", typo, "--resume"]), 2, /--resume: nothing to resume in .*runz/);
    expect(existsSync(typo)).toBe(false);
  });
});

describe("numbers are parsed strictly, with the range in the message", () => {
  const train = () => [...trainOnFixture(), "--out", join(fx.dir, "n-run")];
  const cases: Array<[string[], RegExp]> = [
    [["--seed", "abc"], /'--seed <n>' argument 'abc' is invalid\. expected an integer from 0 to 4294967295/],
    [["--seed", "1e30"], /expected an integer from 0 to 4294967295, got "1e30"/],
    [["--seed", "0x10"], /got "0x10"/],
    [["--save-every", "-1"], /'--save-every <n>'.*expected an integer from 0 to/],
    [["--lr", "0"], /'--lr <x>'.*expected a number greater than 0 and at most 1, got "0"/],
    [["--warmup-ratio", "2"], /expected a number from 0 to 1, got "2"/],
    [["--sae-width", "1e9"], /expected an integer from 1 to 65536, got "1e9"/],
    [["--max-length", "1e12"], /expected an integer from 1 to 1048576/],
    [["--threads", "100000"], /'-t, --threads <n>'.*expected an integer from 1 to 1024/],
  ];
  it("dep train refuses each bad value with exit 2 before doing anything", () => {
    for (const [flag, message] of cases) {
      const r = dep([...train(), ...flag]);
      expect(r.code, `${flag.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, flag.join(" ")).toMatch(message);
    }
    expect(existsSync(join(fx.dir, "n-run"))).toBe(false);
  });

  it("dep eval --seed NaN and --config values go through the same parsers", () => {
    const preds = join(fx.dir, "p.jsonl");
    writeFileSync(preds, `${JSON.stringify({ prediction: "a b", reference: "a c" })}\n`);
    const r = dep(["eval", "--predictions", preds, "--seed", "NaN"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected an integer from 0 to 4294967295, got "NaN"/);
    const cfg = join(fx.dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({ seed: 0.5 }));
    const c = dep(["eval", "--predictions", preds, "--config", cfg]);
    expectOneLineError(
      c,
      2,
      /--config .*cfg\.json: seed: expected an integer from 0 to 4294967295, got "0\.5"/,
    );
  });
});

describe("native arguments and model hyperparameters are checked before ggml sees them", () => {
  it("a GGUF with block_count = 0: exit 4 naming the key (train, embed gguf:, eval --bertscore-model), no abort", () => {
    const bad = join(fx.dir, "no-layers.gguf");
    writeTinyModel(bad, { arch: "llama", seed: 3, nLayer: 0 });
    const message = /no-layers\.gguf: llama\.block_count = 0; a model needs a positive value/;
    const common = ["--data", fx.dataDir, "--embeddings", fx.embDir, "--threads", "1"];
    expectOneLineError(
      dep(["train", ...common, "--model", bad, "--out", join(fx.dir, "bl-run")]),
      4,
      message,
    );
    expectOneLineError(
      dep([
        "embed",
        "--data",
        fx.dataDir,
        "--embedder",
        `gguf:${bad}`,
        "--out",
        join(fx.dir, "bl-emb"),
        "--threads",
        "1",
      ]),
      4,
      message,
    );
    const preds = join(fx.dir, "bl.jsonl");
    writeFileSync(preds, `${JSON.stringify({ prediction: "a b", reference: "a c" })}\n`);
    expectOneLineError(
      dep(["eval", "--predictions", preds, "--bertscore-model", bad, "--threads", "1"]),
      4,
      message,
    );
    expect(existsSync(join(fx.dir, "bl-run"))).toBe(false);
    expect(existsSync(join(fx.dir, "bl-emb"))).toBe(false);
  });
});

describe("dep info: the default thread count and why", () => {
  it("names the setting it came from, and any it had to ignore", () => {
    const r = dep(["info", "--json"], { DEP_THREADS: "", OMP_NUM_THREADS: "x", SLURM_CPUS_PER_TASK: "3" });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).threads).toEqual({
      threads: 3,
      reason: "SLURM_CPUS_PER_TASK=3",
      ignored: ["OMP_NUM_THREADS=x ignored (not a positive integer)"],
    });
    const text = dep(["info"], { DEP_THREADS: "2" });
    expect(text.stdout).toMatch(/^threads {4}2 \(from DEP_THREADS=2\)$/m);
  });
});

/** A tiny run: one update on 4 samples, with its resumable state saved. */
const trainArgs = (out: string) => [
  ...trainOnFixture(),
  ...["--out", out, "--epochs", "2", "--grad-accum", "2", "--max-samples", "4", "--max-length", "1200"],
  ...["--sae-width", "16", "--save-every", "1", "--max-steps", "1", "--kernel-backend", "cpu"],
  ...["--threads", "1", "--json"],
];

/** A run stopped after one update, with its resumable state (made once, copied per case). */
let stopped: string | undefined;
function stoppedRun(name: string): string {
  if (!stopped) {
    stopped = join(fx.dir, "stopped");
    const r = dep(trainArgs(stopped));
    expect(r.code, r.stderr).toBe(0);
  }
  const copy = join(fx.dir, name);
  cpSync(stopped, copy, { recursive: true });
  return copy;
}

/** Overwrites the first float of safetensors tensor `name` in `file` with `value`. */
function poke(file: string, name: string, value: number): void {
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8"));
  buf.writeFloatLE(value, 8 + headerLen + header[name].data_offsets[0]);
  writeFileSync(file, buf);
}

describe("corrupt resume state is refused (exit 3), never trained on", () => {
  it("NaN in the optimizer moments, a negative optimizerStep, a torn metrics.jsonl line", () => {
    const nan = stoppedRun("nan-state");
    const opt = join(nan, "state", "optimizer.safetensors");
    const header = JSON.parse(
      readFileSync(opt)
        .subarray(8, 8 + Number(readFileSync(opt).readBigUInt64LE(0)))
        .toString(),
    );
    const m = Object.keys(header).find((k) => k.startsWith("m."))!;
    poke(opt, m, Number.NaN);
    expectOneLineError(
      dep([...trainArgs(nan), "--resume"]),
      3,
      new RegExp(
        `optimizer\\.safetensors: tensor ${m.replace(/\./g, "\\.")} holds NaN at index 0; the file is corrupt`,
      ),
    );
    expect(existsSync(join(nan, "checkpoints", "epoch-1"))).toBe(false);

    const neg = stoppedRun("neg-state");
    const statePath = join(neg, "state", "trainer_state.json");
    writeFileSync(
      statePath,
      JSON.stringify({ ...JSON.parse(readFileSync(statePath, "utf8")), optimizerStep: -3 }),
    );
    expectOneLineError(
      dep([...trainArgs(neg), "--resume"]),
      3,
      /trainer_state\.json: field optimizerStep is -3, expected a non-negative integer/,
    );

    const torn = stoppedRun("torn-log");
    const log = join(torn, "metrics.jsonl");
    const text = readFileSync(log, "utf8");
    writeFileSync(log, text.slice(0, text.length - 10));
    const before = readFileSync(log, "utf8");
    expectOneLineError(
      dep([...trainArgs(torn), "--resume"]),
      3,
      /metrics\.jsonl:\d+ is torn \(not valid JSON\)/,
    );
    expect(readFileSync(log, "utf8")).toBe(before);
  });
});

describe("a run whose loss or weights turn non-finite stops (exit 5), keeping the last good checkpoint", () => {
  it("names the micro step, saves nothing of it, and leaves the epoch checkpoint and state as they were", () => {
    const run = join(fx.dir, "diverging");
    const upTo = (steps: string) =>
      trainArgs(run).map((a, i, all) => (all[i - 1] === "--max-steps" ? steps : a));
    const first = dep(upTo("2")); // epoch 1 (2 updates of 2 samples): checkpoints/epoch-1 and its state
    expect(first.code, first.stderr).toBe(0);
    // an SAE decoder bias at the edge of float32: finite (the resume checks pass), but the reconstruction
    // error of the next sample overflows
    poke(join(run, "state", "model.safetensors"), "sae.decoder.0.bias", 3e38);
    const kept = [digest(join(run, "checkpoints")), digest(join(run, "state"))];
    const log = readFileSync(join(run, "metrics.jsonl"), "utf8");
    expectOneLineError(
      dep([...upTo("4"), "--resume"]),
      5,
      /training diverged at micro step 5 \(epoch 2, update 3\): the loss is Infinity \(LM [\d.]+, SAE Infinity\); nothing of it was saved \(.*diverging keeps checkpoint .*checkpoints\/epoch-1 and the resumable state after update 2\); lower --lr/,
    );
    expect([digest(join(run, "checkpoints")), digest(join(run, "state"))]).toEqual(kept);
    expect(readdirSync(join(run, "checkpoints")).sort()).toEqual(["epoch-1", "last"]); // no epoch-2
    expect(readFileSync(join(run, "metrics.jsonl"), "utf8")).toBe(log);
  });
});

describe("a checkpoint's config.json is schema-checked (exit 3 naming the field)", () => {
  const loss = (ckpt: string, extra: string[] = []) =>
    dep([
      "loss",
      ...["--checkpoint", ckpt, "--data", fx.dataDir, "--embeddings", fx.embDir, "--model", fx.modelPath],
      ...["--max-samples", "1", "--threads", "1", "--json", ...extra],
    ]);
  function edited(name: string, edit: (c: Record<string, unknown>) => void): string {
    const run = stoppedRun(name);
    const file = join(run, "checkpoints", "last", "config.json");
    const config = JSON.parse(readFileSync(file, "utf8"));
    edit(config);
    writeFileSync(file, JSON.stringify(config));
    return join(run, "checkpoints", "last");
  }

  it("an unknown architecture or format, no hyperparameters, a variant of another architecture", () => {
    const cases: Array<[string, (c: Record<string, unknown>) => void, RegExp]> = [
      [
        "arch",
        (c) => {
          c.architecture = "mystery";
        },
        /config\.json: field architecture: /,
      ],
      [
        "format",
        (c) => {
          c.format = "dep-checkpoint/9";
        },
        /field format: expected "dep-checkpoint\/1"/,
      ],
      [
        "hyper",
        (c) => {
          delete c.hyperparameters;
        },
        /field hyperparameters: /,
      ],
      [
        "variant",
        (c) => {
          (c.hyperparameters as Record<string, unknown>).variant = "no-sae";
        },
        /hyperparameters\.variant no-sae does not use architecture dep/,
      ],
    ];
    for (const [name, edit, message] of cases)
      expectOneLineError(loss(edited(`cfg-${name}`, edit)), 3, message);
  });

  it("NaN checkpoint weights: exit 3 naming the tensor (was exit 5)", () => {
    const ckpt = join(stoppedRun("nan-ckpt"), "checkpoints", "last");
    const file = join(ckpt, "model.safetensors");
    const header = JSON.parse(
      readFileSync(file)
        .subarray(8, 8 + Number(readFileSync(file).readBigUInt64LE(0)))
        .toString(),
    );
    const name = Object.keys(header).find((k) => k !== "__metadata__")!;
    poke(file, name, Number.NaN);
    expectOneLineError(loss(ckpt), 3, /model\.safetensors: tensor \S+ holds NaN at index 0/);
  });

  it("overlapping tensors in model.safetensors", () => {
    const ckpt = join(stoppedRun("overlap"), "checkpoints", "last");
    const file = join(ckpt, "model.safetensors");
    const buf = readFileSync(file);
    const len = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + len).toString());
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    const [a, b] = [header[names[0]!], header[names[1]!]];
    // b keeps its size but starts inside a (same header length, padded)
    const size = b.data_offsets[1] - b.data_offsets[0];
    b.data_offsets = [a.data_offsets[0], a.data_offsets[0] + size];
    const text = JSON.stringify(header).padEnd(len, " ");
    expect(text.length).toBe(len);
    writeFileSync(file, Buffer.concat([buf.subarray(0, 8), Buffer.from(text), buf.subarray(8 + len)]));
    expectOneLineError(loss(ckpt), 3, /model\.safetensors: tensors .* overlap; the file is corrupt/);
  });

  it("another frozen LLM than the one trained with: refused, or a warning with --accept-other-llm", () => {
    const other = join(fx.dir, "other-llm.gguf");
    writeTinyModel(other, { arch: "llama", seed: 77, contextLength: 2048 });
    const run = stoppedRun("other-llm");
    const ckpt = join(run, "checkpoints", "last");
    // dep select runs every epoch checkpoint of the run: two here, one warning for both
    for (const epoch of [1, 2]) cpSync(ckpt, join(run, "checkpoints", `epoch-${epoch}`), { recursive: true });
    const inputs = ["--data", fx.dataDir, "--embeddings", fx.embDir, "--model", other];
    const common = ["--max-samples", "1", "--threads", "1", "--json"];
    const select = [
      "select",
      "--run",
      run,
      ...inputs,
      ...common,
      "--max-tokens",
      "2",
      "--max-length",
      "1200",
    ];
    for (const args of [["loss", "--checkpoint", ckpt, ...inputs, ...common], select]) {
      expectOneLineError(dep(args), 3, /was trained with the frozen LLM .*--accept-other-llm/);
      const r = dep([...args, "--accept-other-llm"]);
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.stderr.match(/dep: warning: .*other-llm\.gguf has sha256 .*using it anyway/g);
      expect(warnings, `${args[0]}: ${r.stderr}`).toHaveLength(1);
    }
    expect(existsSync(join(run, "selection.json"))).toBe(true);
  });
});

describe("non-finite or empty results are errors, never exit 0", () => {
  it("dep diff on a store of huge values: exit 3, no output", () => {
    const emb = join(fx.dir, "huge-emb");
    cpSync(fx.embDir, emb, { recursive: true });
    const file = join(emb, "embeddings.safetensors");
    const buf = readFileSync(file);
    const len = Number(buf.readBigUInt64LE(0));
    const [begin, end] = JSON.parse(buf.subarray(8, 8 + len).toString()).embeddings.data_offsets;
    for (let o = 8 + len + begin; o < 8 + len + end; o += 4) buf.writeFloatLE(buf.readFloatLE(o) * 1e30, o);
    writeFileSync(file, buf);
    const out = join(fx.dir, "huge.safetensors");
    expectOneLineError(
      dep(["diff", "--data", fx.dataDir, "--embeddings", emb, "--out", out]),
      3,
      /difference embeddings of sample .* are not finite .*re-embed the data/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("dep eval --bertscore-model with NaN weights: exit 4, not f = 0", () => {
    const model = join(fx.dir, "nan-weights.gguf");
    writeTinyModel(model, { arch: "llama", seed: 5, contextLength: 512 });
    const g = readGguf(model);
    const t = g.tensors.find((x) => x.name === "output_norm.weight")!;
    const buf = readFileSync(model);
    for (let i = 0; i < 8; i++) buf.writeFloatLE(Number.NaN, g.dataOffset + Number(t.offset) + 4 * i);
    writeFileSync(model, buf);
    const preds = join(fx.dir, "nan-preds.jsonl");
    writeFileSync(preds, `${JSON.stringify({ prediction: "good book", reference: "a good book" })}\n`);
    const r = dep(["eval", "--predictions", preds, "--bertscore-model", model, "--threads", "1"], {
      NLTK_DATA: join(fx.dir, "no-nltk"),
    });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(
      /dep: error: gguf:nan-weights\.gguf:last-layer: the model's token states are not finite/,
    );
    expect(r.stdout).toBe("");
  });

  it("dep train where no sample fits --max-length: exit 2, no run folder", () => {
    const out = join(fx.dir, "tiny-budget");
    const args = trainArgs(out).map((a, i, all) => (all[i - 1] === "--max-length" ? "1" : a));
    expectOneLineError(dep(args), 2, /all \d+ training samples run so far were skipped .*raise --max-length/);
    expect(existsSync(out)).toBe(false);
  });

  it("dep data prepare with the meta of another category: exit 3 saying which stage emptied it", () => {
    const books = join(fx.dir, "raw-books");
    expect(
      dep(["data", "synth", "--users", "30", "--raw", "--categories", "Books", "--out", books]).code,
    ).toBe(0);
    // the items of another category: other asins
    const other = join(fx.dir, "other-meta.jsonl");
    const lines = readFileSync(join(books, "raw", "Books", "meta.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean);
    writeFileSync(
      other,
      lines
        .map((l) => JSON.stringify({ ...JSON.parse(l), parent_asin: `M${JSON.parse(l).parent_asin}` }))
        .join("\n"),
    );
    const out = join(fx.dir, "prepared-empty");
    const r = dep([
      "data",
      "prepare",
      ...["--reviews", join(books, "raw", "Books", "reviews.jsonl"), "--meta", other],
      ...["--category", "Books", "--out", out, "--threads", "1"],
    ]);
    expectOneLineError(
      r,
      3,
      /no user survived the DPL filters .*is --meta the metadata of the same category as --reviews\?/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe("exit classes and messages a user can act on", () => {
  it("dep loss --max-length below every prompt: the samples are kept whole and counted, with a warning", () => {
    const ckpt = join(stoppedRun("short-loss"), "checkpoints", "last");
    const r = dep([
      "loss",
      ...["--checkpoint", ckpt, ...fixtureInputs(fx), "--max-length", "50", "--max-samples", "1"],
      ...["--threads", "1", "--json"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ n: 1, overBudget: 1 });
    expect(r.stderr).toMatch(/warning: 1 of 1 prompts are longer than --max-length 50/);
  });

  it("dep loss / dep diff --split val on data without val rows: exit 3 naming the split", () => {
    const d = join(fx.dir, "no-val");
    cpSync(fx.dataDir, d, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(d, "dataset.json"), "utf8"));
    for (const c of manifest.categories) {
      rmSync(join(d, "main", c, "val.jsonl"));
      delete manifest.counts[c].val;
    }
    writeFileSync(join(d, "dataset.json"), JSON.stringify(manifest));
    const message = /no-val: no val rows \(loaded: val 0, test \d+\); choose another --split/;
    expectOneLineError(
      dep([
        "diff",
        "--data",
        d,
        "--embeddings",
        fx.embDir,
        "--split",
        "val",
        "--out",
        join(fx.dir, "nv.safetensors"),
      ]),
      3,
      message,
    );
    const ckpt = join(stoppedRun("no-val-run"), "checkpoints", "last");
    const r = dep([
      "loss",
      ...["--checkpoint", ckpt, "--data", d, "--embeddings", fx.embDir, "--split", "val"],
      ...["--model", fx.modelPath, "--threads", "1"],
    ]);
    expectOneLineError(r, 3, message);
  });
});

describe("UTF-8 and line ends: CRLF read as LF, invalid UTF-8 read as U+FFFD and reported", () => {
  it("dataset JSONL with CRLF line ends reads the same; a line with invalid UTF-8 is named in a warning", () => {
    const d = join(fx.dir, "crlf");
    cpSync(fx.dataDir, d, { recursive: true });
    const split = join(d, "main", "Books", "test.jsonl");
    const lines = readFileSync(split, "utf8").split("\n").filter(Boolean);
    writeFileSync(split, `\uFEFF${lines.join("\r\n")}\r\n`);
    const ours = dep(["data", "inspect", fx.dataDir, "--json"]);
    const crlf = dep(["data", "inspect", d, "--json"]);
    expect(crlf.code, crlf.stderr).toBe(0);
    expect(crlf.stderr).toBe("");
    expect(JSON.parse(crlf.stdout)).toEqual(JSON.parse(ours.stdout));

    // an invalid two-byte sequence (0xC3 0x28) at the start of the first row's target text
    const first = Buffer.from(lines[0]!);
    const at = first.indexOf('"text":"') + 8;
    const invalid = Buffer.concat([first.subarray(0, at), Buffer.from([0xc3, 0x28]), first.subarray(at)]);
    writeFileSync(split, Buffer.concat([invalid, Buffer.from(`\n${lines.slice(1).join("\n")}\n`)]));
    const r = dep(["data", "inspect", d, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /\[DEP_INVALID_UTF8\] Warning: .*test\.jsonl: 1 line\(s\) are not valid UTF-8 \(line 1\); .*U\+FFFD/,
    );
  });

  it("dep eval: CRLF and invalid UTF-8 predictions score with a warning; a FIFO is refused at once", () => {
    const preds = join(fx.dir, "crlf-preds.jsonl");
    const line = (p: string) => JSON.stringify({ prediction: p, reference: "a good book about the sea" });
    writeFileSync(
      preds,
      Buffer.concat([
        Buffer.from(`${line("a good book")}\r\n`),
        Buffer.from('{"prediction":"bad \xff byte","reference":"x"}\r\n', "latin1"),
      ]),
    );
    const r = dep(["eval", "--predictions", preds, "--json"], { NLTK_DATA: join(fx.dir, "no-nltk") });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).n).toBe(2);
    expect(r.stderr).toMatch(/crlf-preds\.jsonl: 1 line\(s\) are not valid UTF-8 \(line 2\)/);

    const fifo = join(fx.dir, "preds.fifo");
    spawnSync("mkfifo", [fifo]);
    const t0 = Date.now();
    expectOneLineError(dep(["eval", "--predictions", fifo]), 3, /preds\.fifo: not a regular file/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it("a | or a line break in a method name does not break table.md", () => {
    const preds = join(fx.dir, "pipe-preds.jsonl");
    writeFileSync(
      preds,
      `${JSON.stringify({ prediction: "a good book", reference: "a good book indeed" })}\n`,
    );
    const e = dep(["eval", "--predictions", preds, "--json"], { NLTK_DATA: join(fx.dir, "no-nltk") });
    const runDir = join(fx.dir, "pipe-run");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "eval.json"), e.stdout);
    writeFileSync(join(runDir, "run.json"), JSON.stringify({ method: "dep | v2\nnew", category: "Bo|oks" }));
    const out = join(fx.dir, "pipe-report");
    const r = dep(["report", "--runs", runDir, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(join(out, "table.md"), "utf8").trimEnd().split("\n");
    expect(rows).toHaveLength(3);
    const cells = (row: string) => row.split(/(?<!\\)\|/).length;
    expect(new Set(rows.map(cells)).size).toBe(1);
    expect(rows[2]).toMatch(/^\| dep \\\| v2 new \|/);
  });
});

describe("texts longer than the encoder's window are cut to it and counted, never fatal", () => {
  it("dep embed --embedder gguf: with a review longer than the model's context: exit 0, truncated 1", () => {
    const d = join(fx.dir, "long-review");
    cpSync(fx.dataDir, d, { recursive: true });
    const split = join(d, "main", "Books", "test.jsonl");
    const lines = readFileSync(split, "utf8").split("\n").filter(Boolean);
    const row = JSON.parse(lines[0]!);
    row.data.text = "an endless review ".repeat(3000);
    writeFileSync(split, `${[JSON.stringify(row), ...lines.slice(1)].join("\n")}\n`);
    const out = join(fx.dir, "long-emb");
    const r = dep([
      "embed",
      "--data",
      d,
      "--embedder",
      `gguf:${fx.modelPath}`,
      "--out",
      out,
      "--threads",
      "1",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).truncated).toBe(1);
  });
});

describe("models where users keep them: split GGUFs", () => {
  it("dep train on the first split of a split model; a later split: exit 4 naming llama-gguf-split --merge", () => {
    const { files } = writeTinyModel(join(fx.dir, "split-llm.gguf"), {
      arch: "llama",
      seed: 9,
      contextLength: 2048,
      splits: 2,
    });
    const out = join(fx.dir, "split-run");
    const args = trainArgs(out).map((a, i, all) => (all[i - 1] === "--model" ? files[0]! : a));
    const r = dep(args);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).optimizerSteps).toBe(1);
    const second = trainArgs(join(fx.dir, "split-run-2")).map((a, i, all) =>
      all[i - 1] === "--model" ? files[1]! : a,
    );
    expectOneLineError(
      dep(second),
      4,
      /split-llm-00002-of-00002\.gguf is split 2 of 2 .*llama-gguf-split --merge/,
    );
  });
});

describe("signals during long synchronous work", () => {
  it("dep eval on a large file: SIGTERM stops it at once with exit 143 (the metrics run off the main thread)", async () => {
    const preds = join(fx.dir, "big-preds.jsonl");
    const words =
      "the a book plot story great good bad ending characters writing slow loved read again".split(" ");
    let seed = 1;
    const word = () => {
      seed = (seed * 48271) % 2147483647;
      return words[seed % words.length]!;
    };
    const text = () => Array.from({ length: 120 }, word).join(" ");
    writeFileSync(
      preds,
      Array.from({ length: 8000 }, () => JSON.stringify({ prediction: text(), reference: text() })).join(
        "\n",
      ),
    );
    const child = spawn(process.execPath, [bin, "eval", "--predictions", preds, "--json"], {
      env: { ...process.env, NLTK_DATA: join(fx.dir, "no-nltk") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode).toBeNull(); // still scoring
    const t0 = Date.now();
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 60_000);

  it("dep embed with use-lite (which computes on the main thread): SIGTERM stops it between batches, exit 143", async () => {
    // every review ten times as long, all in one flush: ~300 texts of ~7 KB, a minute or more of embedding
    const data = join(fx.dir, "long-reviews-data");
    cpSync(fx.dataDir, data, { recursive: true });
    for (const dir of readdirSync(join(data, "main"))) {
      for (const f of readdirSync(join(data, "main", dir))) {
        const file = join(data, "main", dir, f);
        const longer = (row: { data: { text: string }; profile: { text: string }[] }) => {
          row.data.text = row.data.text.repeat(10);
          for (const p of row.profile) p.text = p.text.repeat(10);
          return JSON.stringify(row);
        };
        const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
        writeFileSync(file, `${lines.map((l) => longer(JSON.parse(l))).join("\n")}\n`);
      }
    }
    const out = join(fx.dir, "long-reviews-emb");
    const args = ["embed", "--data", data, "--out", out, "--batch-size", "1", "--flush-every", "100000"];
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b) => {
      stderr += b;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    for (let i = 0; i < 1200 && !existsSync(join(out, "meta.json")); i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 2000)); // inside the one long flush
    expect(child.exitCode, stderr).toBeNull();
    const t0 = Date.now();
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(143);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stderr).toMatch(/embedding interrupted: \d+ of \d+ texts are in/);
  }, 120_000);
});
