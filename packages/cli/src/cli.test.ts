// Runs the built `dep` binary as a user would: spawned processes, real files.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { trainFixture } from "@dep/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixtureInputs } from "./testing/spawnDep.js";

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

const COMMANDS = [
  "info",
  "data",
  "embed",
  "diff",
  "train",
  "select",
  "loss",
  "generate",
  "serve",
  "prompt",
  "import-reference",
  "merge",
  "slurm",
  "assets",
  "complete",
  "eval",
  "report",
  "explain",
  "demo",
  "bench",
];

describe("dep CLI", () => {
  it("prints help with every command", () => {
    const r = dep(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of COMMANDS) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${cmd}\\b`));
  });

  it.each(COMMANDS)("has help for %s with an example", (cmd) => {
    const r = dep([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dep /);
    expect(r.stdout).toMatch(/Example:/);
  });

  it("takes options from --config on every command: checked like flags, flags win", () => {
    const config = join(dir, "train.json");
    writeFileSync(
      config,
      JSON.stringify({ data: "d", embeddings: "e", out: "o", epochs: 3, variant: "no-sae" }),
    );
    const r = dep(["train", "--config", config, "--epochs", "4", "--print-config"]);
    expect(r.code, r.stderr).toBe(0);
    const merged = JSON.parse(r.stdout);
    expect(merged).toMatchObject({ data: "d", out: "o", epochs: 4, variant: "no-sae", lr: 0.00001 });
    for (const [bad, message] of [
      [{ epochs: 0 }, /epochs: expected an integer from 1 to 100000, got "0"/],
      [{ variant: "dpe" }, /variant: "dpe" is not one of dep, his-only/],
      [{ epoch: 2 }, /unknown option "epoch" for dep train/],
      [{ resume: "yes" }, /resume: expected true or false/],
    ] as const) {
      writeFileSync(config, JSON.stringify({ data: "d", embeddings: "e", out: "o", ...bad }));
      const e = dep(["train", "--config", config]);
      expect(e.code).toBe(2);
      expect(e.stderr).toMatch(message);
      expect(e.stderr.trim().split("\n")).toHaveLength(1);
    }
    // a required option may come from the file; without it (or the flag) it is a usage error
    const preds = join(dir, "config-preds.jsonl");
    writeFileSync(preds, `${JSON.stringify({ prediction: "a good book", reference: "a good book" })}\n`);
    writeFileSync(config, JSON.stringify({ predictions: preds, json: true }));
    const ev = dep(["eval", "--config", config]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).n).toBe(1);
    const missing = dep(["eval", "--json"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--predictions <files...>'/);
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

  it("says which CPU paths llama.cpp takes: CPU, build target, AMX, repacking", () => {
    const json = JSON.parse(dep(["info", "--json"]).stdout);
    expect(json.cpu.model).toBe(cpus()[0]?.model);
    expect(["native", "portable"]).toContain(json.cpu.target);
    expect(json.cpu.amxCompiled).toBe(false);
    expect(json.cpu.repack).toBe(true);
    const text = dep(["info"]).stdout;
    expect(text).toContain(`cpu        ${cpus()[0]?.model}: ${json.cpu.machineFeatures.join(" ")}`);
    expect(text).toMatch(new RegExp(`^llama.cpp  ${json.cpu.target} build \\(.*\\); AMX path off`, "m"));
    expect(text).toMatch(/^repacking {2}on: /m);
    // the native training engine's matmul path: oneDNN when the build found it, else the portable loops
    expect(json.gradEngine.dtypes).toContain("f32");
    expect(json.gradEngine.matmul).toMatch(json.gradEngine.onednn ? /^onednn / : /^portable/);
    expect(text).toContain(`engine     native training engine: ${json.gradEngine.matmul}; dtypes `);
    const off = dep(["info", "--json"], { DEP_CPU_REPACK: "0" });
    expect(JSON.parse(off.stdout).cpu.repack).toBe(false);
    expect(dep(["info"], { DEP_CPU_REPACK: "0" }).stdout).toMatch(/^repacking {2}off \(DEP_CPU_REPACK=0\)/m);
    const bad = dep(["info"], { DEP_CPU_REPACK: "maybe" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('DEP_CPU_REPACK must be 0 or 1 (got "maybe")');
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

  it("writes per-sample scores with --per-sample --out, atomically, and prints the same corpus scores", () => {
    const preds = join(dir, "good.jsonl");
    const lines = [
      { sample_id: "a", prediction: "the cat sat on the mat", reference: "the cat is on the mat" },
      { sample_id: "b", prediction: "hello world", reference: "goodbye world" },
    ];
    writeFileSync(preds, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const out = join(dir, "per-sample", "scores.json");
    const r = dep(["eval", "--predictions", preds, "--per-sample", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const per = JSON.parse(readFileSync(out, "utf8"));
    expect(Object.keys(per.samples)).toEqual(["a", "b"]);
    expect(per.samples.b.bleu).toBeCloseTo(50, 10); // p1 = 1/2, p2 smoothed to 1/2, effective order 2
    expect(per.corpus).toEqual(JSON.parse(r.stdout));
    expect(JSON.parse(dep(["eval", "--predictions", preds, "--json"]).stdout)).toEqual(per.corpus);
    const usage = dep(["eval", "--predictions", preds, "--per-sample"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--per-sample needs --out FILE/);
  });

  it("dep explain and dep report --html name bad inputs (exit 3) and write nothing", () => {
    const out = join(dir, "explain-out");
    const r = dep([
      "explain",
      "--checkpoint",
      join(dir, "no-ckpt"),
      "--data",
      dir,
      "--embeddings",
      dir,
      "--out",
      out,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no-ckpt is not a dep checkpoint/);
    expect(existsSync(join(out, "explain.json"))).toBe(false);
    const run = join(dir, "html-run");
    mkdirSync(run, { recursive: true });
    writeFileSync(
      join(run, "eval.json"),
      JSON.stringify({
        n: 1,
        bleu: { score: 1 },
        rouge1: { hf: 0.1, mean: 0.1 },
        rougeL: { hf: 0.1, mean: 0.1 },
        meteor: { score: 0.1 },
        bertscore: null,
      }),
    );
    const report = join(dir, "html-report");
    const bad = dep(["report", "--runs", run, "--out", report, "--html", "--explain", join(dir, "nope")]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/cannot read dep explain's output/);
    expect(existsSync(join(report, "report.html"))).toBe(false);
    expect(dep(["report", "--runs", run, "--out", report, "--explain", out]).code).toBe(2); // needs --html
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
      join(dir, "data"),
      "--embeddings",
      join(dir, "emb"),
      "--out",
      join(dir, "p.jsonl"),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/config\.json: not valid JSON.*\[DEP_CHECKPOINT\]/);
    expect(existsSync(join(dir, "p.jsonl"))).toBe(false);
  });

  it("generate --method pag writes the predictions and one summary per user of --pag-summary-tokens", async () => {
    const fx = await trainFixture(12, 4);
    try {
      const out = join(fx.dir, "pag.jsonl");
      const r = dep([
        "generate",
        "--method",
        "pag",
        "--pag-summary-tokens",
        "5",
        ...fixtureInputs(fx),
        "--out",
        out,
        "--max-samples",
        "3",
        "--max-tokens",
        "4",
        "--max-length",
        "600",
        "--threads",
        "1",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ method: "pag", written: 3 });
      const lines = (f: string) =>
        readFileSync(f, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
      expect(lines(out).map((l) => l.method)).toEqual(["pag", "pag", "pag"]);
      const profiles = lines(`${out}.profiles.jsonl`);
      expect(profiles.map((p) => p.user_id).sort()).toEqual(
        lines(out)
          .map((l) => l.user_id)
          .sort(),
      );
      for (const p of profiles) expect(p.generated_tokens).toBeLessThanOrEqual(5);
      expect(profiles.some((p) => p.generated_tokens === 5)).toBe(true);
    } finally {
      fx.cleanup();
    }
  });

  it("generate --method dpl writes predictions and stage files; dep prompt --method dpl shows the three stages", async () => {
    const fx = await trainFixture(12, 4);
    try {
      const out = join(fx.dir, "dpl.jsonl");
      const limits = ["--max-length", "1400", "--max-description-chars", "80", "--threads", "1"];
      const gen = ["generate", "--method", "dpl", "--num-retrieved", "2", ...fixtureInputs(fx), "--out", out];
      const r = dep([...gen, "--max-samples", "2", "--max-tokens", "4", ...limits, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ method: "dpl", written: 2 });
      const lines = (f: string) =>
        readFileSync(f, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
      const [first] = lines(out);
      expect(lines(`${out}.dpl-differences.jsonl`).length).toBeGreaterThanOrEqual(2);
      const summary = lines(`${out}.dpl-summaries.jsonl`).find((l) => l.sample_id === first.sample_id);
      const args = ["prompt", "--method", "dpl", "--num-retrieved", "2", "--data", fx.dataDir];
      const common = [
        ...args,
        "--embeddings",
        fx.embDir,
        "--model",
        fx.modelPath,
        "--sample-id",
        first.sample_id,
      ];
      const text = dep([...common, ...limits]);
      expect(text.code, text.stderr).toBe(0);
      const heads = text.stdout.split("\n").filter((l) => l.startsWith("### dpl stage"));
      expect(heads.map((h) => h.slice(0, 15))).toEqual([
        "### dpl stage 1",
        "### dpl stage 1",
        "### dpl stage 2",
        "### dpl stage 3",
      ]);
      expect(text.stdout).toContain("<<dpl:difference:2>>");
      expect(text.stdout).toContain("[User's Profile Summary]:\n<<dpl:summary>>\n");
      // with the run's stage files: the prompts that run gave the LLM
      const filled = dep([...common, ...limits, "--dpl-outputs", out, "--json"]);
      expect(filled.code, filled.stderr).toBe(0);
      const stages = JSON.parse(filled.stdout).stages;
      expect(stages.map((s: { stage: number }) => s.stage)).toEqual([1, 1, 2, 3]);
      expect(stages[3].text).toContain(`[User's Profile Summary]:\n${summary.output}\n`);
      expect(stages[3].tokens).toHaveLength(first.prompt_tokens);
      const noFiles = dep([...common, "--dpl-outputs", join(fx.dir, "none.jsonl")]);
      expect(noFiles.code).toBe(3);
      expect(noFiles.stderr).toMatch(/none\.jsonl\.dpl-differences\.jsonl: no such stage file/);
    } finally {
      fx.cleanup();
    }
  });

  it("dep prompt prints the exact prompt of one sample: text with soft placeholders, or tokens and slots", async () => {
    const fx = await trainFixture(12, 4);
    try {
      const sidecar = join(fx.dir, "d.safetensors");
      expect(dep(["diff", "--data", fx.dataDir, "--embeddings", fx.embDir, "--out", sidecar]).code).toBe(0);
      const id = JSON.parse(readFileSync(join(fx.dir, "d.samples.json"), "utf8")).samples[0].id;
      const args = ["prompt", "--data", fx.dataDir, "--embeddings", fx.embDir, "--model", fx.modelPath];
      const common = [...args, "--sample-id", id, "--max-length", "900", "--threads", "1"];
      const text = dep(common);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(
        "  - [Review Embedding]: <his_token_start><<soft:his:0>><his_token_end>\n",
      );
      expect(text.stdout).toContain("<diff_token_start><<soft:diff:0>><diff_token_end>");
      const json = dep([...common, "--json"]);
      expect(json.code, json.stderr).toBe(0);
      const j = JSON.parse(json.stdout);
      expect(j.text.trimEnd()).toBe(text.stdout.trimEnd());
      expect(j.slots).toHaveLength(2 * j.nHistory);
      for (const slot of j.slots) expect(j.tokens[slot.position]).toBe(-1);
      expect(j.tokens.filter((t: number) => t === -1)).toHaveLength(j.slots.length);
      // the reference's marker tokens: one position each (frozen rows), around every slot
      expect(j.markers).toHaveLength(2 * j.slots.length);
      for (const m of j.markers) expect(j.tokens[m.position]).toBe(-2);
      expect(j.markers[0].name).toBe("<his_token_start>");
      expect(j.markers[0].position + 1).toBe(j.slots[0].position);
      const asText = JSON.parse(dep([...common, "--markers", "text", "--json"]).stdout);
      expect(asText.markers).toHaveLength(0);
      expect(asText.text).toBe(j.text); // the same string; only its tokenization differs
      expect(asText.tokens.length).toBeGreaterThan(j.tokens.length);
      const none = dep([...common, "--method", "no-soft"]);
      expect(none.stdout).not.toContain("<<soft:");
      const missing = dep([...args, "--sample-id", "nope"]);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/no test sample nope/);
    } finally {
      fx.cleanup();
    }
  });
});
