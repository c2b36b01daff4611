#!/usr/bin/env node
// The learning demonstration of SPEC §6 through the `dep` CLI: a synthetic population with planted user
// differences, TinyLlama frozen, DEP and its his-only / diff-only ablations trained on CPU, then the
// held-out LM loss of test users' target reviews with trained soft rows, the initial (untrained) soft rows,
// and no soft rows. Then every untrained baseline (dpl too) and the trained variants generate for the same test users,
// are scored and reported (OUT/report). Resumable: finished stages are reused. Writes OUT/learning.{json,md}
// and prints the tables.
//
//   node tools/learning.mjs [--out DIR] [--users 80] [--train 64] [--epochs 2] [--test 24] [--threads 2]
//                           [--no-report] [--bertscore-model GGUF] [--engine auto|native|ggml] [--engine-dtype auto|f32|bf16]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
  options: {
    out: { type: "string" },
    users: { type: "string", default: "80" },
    train: { type: "string", default: "64" },
    epochs: { type: "string", default: "2" },
    "grad-accum": { type: "string", default: "4" },
    lr: { type: "string", default: "1e-3" },
    test: { type: "string", default: "24" },
    "max-length": { type: "string", default: "640" },
    "max-description-chars": { type: "string", default: "160" },
    "max-tokens": { type: "string", default: "48" },
    report: { type: "boolean", default: true },
    "bertscore-model": { type: "string" },
    "no-report": { type: "boolean", default: false },
    threads: { type: "string", default: process.env.DEP_THREADS ?? "2" },
    seed: { type: "string", default: "42" },
    engine: { type: "string", default: "auto" },
    "engine-dtype": { type: "string", default: "auto" },
  },
});
if (a["no-report"]) a.report = false;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "packages/cli/dist/bin.js");
const home = process.env.DEP_HOME ?? join(process.env.HOME ?? ".", ".cache", "dep");
const out = resolve(a.out ?? join(home, "learning"));
const data = join(out, "data");
const emb = join(out, "emb");
const t0 = performance.now();
const log = (s) =>
  console.error(`[learning ${((performance.now() - t0) / 1000).toFixed(0).padStart(5)}s] ${s}`);
// METEOR needs NLTK's Punkt parameters: $NLTK_DATA, else the shared copy beside the repository if present
const punkt = join(root, "..", "shared", "nltk_data");
if (!process.env.NLTK_DATA && existsSync(punkt)) process.env.NLTK_DATA = punkt;
const dep = (...args) =>
  execFileSync(process.execPath, [bin, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
const json = (...args) =>
  JSON.parse(
    dep(...args, "--json")
      .trim()
      .split("\n")
      .at(-1),
  );

mkdirSync(out, { recursive: true });
const resultsFile = join(out, "learning.json");
const results = existsSync(resultsFile)
  ? JSON.parse(readFileSync(resultsFile, "utf8"))
  : { loss: {}, trainSeconds: {} };
const save = () => {
  writeFileSync(`${resultsFile}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(`${resultsFile}.tmp`, resultsFile);
};

if (!existsSync(join(data, "dataset.json"))) {
  log(`dep data synth --users ${a.users}`);
  dep("data", "synth", "--users", a.users, "--seed", a.seed, "--out", data, "--json");
}
log("dep embed (use-lite)");
dep("embed", "--data", data, "--embedder", "use-lite", "--out", emb, "--json");

const prompt = ["--max-length", a["max-length"], "--max-description-chars", a["max-description-chars"]];
const variants = ["dep", "his-only", "diff-only"];
for (const v of variants) {
  const run = join(out, "runs", v);
  const ckpt = join(run, "checkpoints", `epoch-${a.epochs}`);
  if (!existsSync(ckpt)) {
    log(`dep train --variant ${v}`);
    const t = performance.now();
    dep(
      "train",
      "--data",
      data,
      "--embeddings",
      emb,
      "--out",
      run,
      "--variant",
      v,
      "--epochs",
      a.epochs,
      "--grad-accum",
      a["grad-accum"],
      "--lr",
      a.lr,
      "--max-samples",
      a.train,
      "--seed",
      a.seed,
      "--threads",
      a.threads,
      "--engine",
      a.engine,
      "--engine-dtype",
      a["engine-dtype"],
      ...prompt,
      // a run killed part-way continues; a fresh one must not say --resume (dep train refuses it)
      ...(existsSync(join(run, "run.json")) ? ["--resume"] : []),
      "--json",
    );
    results.trainSeconds[v] = (results.trainSeconds[v] ?? 0) + (performance.now() - t) / 1000;
    save();
  }
  for (const soft of v === "dep" ? ["trained", "untrained", "none"] : ["trained", "untrained"]) {
    const key = soft === "none" ? "no-soft" : `${v}/${soft}`;
    if (results.loss[key]?.maxSamples === a.test) continue;
    log(`dep loss ${key}`);
    const r = json(
      "loss",
      "--checkpoint",
      ckpt,
      "--data",
      data,
      "--embeddings",
      emb,
      "--soft",
      soft,
      "--max-samples",
      a.test,
      "--threads",
      a.threads,
    );
    results.loss[key] = { ...r, maxSamples: a.test };
    save();
  }
}

// per-step time split from the DEP run's metrics.jsonl
const steps = readFileSync(join(out, "runs", "dep", "metrics.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l))
  .filter((r) => r.seconds !== undefined);
const mean = (f) => steps.reduce((s, r) => s + f(r), 0) / steps.length;
results.step = {
  n: steps.length,
  promptTokens: mean((r) => r.prompt_tokens),
  targetTokens: mean((r) => r.target_tokens),
  seconds: mean((r) => r.seconds + r.seconds_optimizer),
  kernels: mean((r) => r.seconds_kernels),
  llm: mean((r) => r.seconds_llm),
  glue: mean((r) => r.seconds_glue),
  optimizer: mean((r) => r.seconds_optimizer),
};
results.settings = a;
save();

function stepSeconds(v) {
  return readFileSync(join(out, "runs", v, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .reduce((sum, r) => sum + (r.seconds ?? 0) + (r.seconds_optimizer ?? 0), 0);
}
const L = results.loss;
const row = (name, key) => `| ${name} | ${L[key].tokenMean.toFixed(4)} | ${L[key].sampleMean.toFixed(4)} |`;
const s = results.step;
const pct = (x) => `${((100 * x) / s.seconds).toFixed(1)}%`;
const md = [
  `Held-out LM loss on ${L["no-soft"].n} test users (nats/token; TinyLlama frozen; ${a.train} training samples x ${a.epochs} epochs, lr ${a.lr}, accumulation ${a["grad-accum"]}):`,
  "",
  "| soft rows | token mean | sample mean |",
  "| --- | --- | --- |",
  row("none", "no-soft"),
  ...variants.flatMap((v) => [
    row(`${v}, untrained`, `${v}/untrained`),
    row(`${v}, trained`, `${v}/trained`),
  ]),
  "",
  `Training time (--engine ${a.engine}${a.engine !== "ggml" ? ` ${a["engine-dtype"]}` : ""}; sum of step times in metrics.jsonl): ${variants.map((v) => `${v} ${stepSeconds(v).toFixed(0)} s`).join(", ")}.`,
  `Per step (dep, ${s.n} steps, ${s.promptTokens.toFixed(0)} prompt + ${s.targetTokens.toFixed(0)} target tokens): ${s.seconds.toFixed(2)} s = LLM fwd+bwd ${s.llm.toFixed(2)} s (${pct(s.llm)}), kernels ${(1000 * s.kernels).toFixed(1)} ms (${pct(s.kernels)}), optimizer ${(1000 * s.optimizer).toFixed(1)} ms (${pct(s.optimizer)}), glue ${(1000 * s.glue).toFixed(1)} ms (${pct(s.glue)}).`,
].join("\n");
writeFileSync(join(out, "learning.md"), `${md}\n`);
console.log(md);
if (a.report) {
  // generation with every method for the same test users, then eval and the report
  const methods = [...variants, "no-soft", "non-personalized", "rag", "pag", "dpl"];
  results.generate ??= {};
  for (const m of methods) {
    const run = join(out, "runs", m);
    mkdirSync(run, { recursive: true });
    if (!variants.includes(m))
      writeFileSync(join(run, "run.json"), `${JSON.stringify({ method: m, category: "synthetic" })}\n`);
    const preds = join(run, "preds.jsonl");
    if (!results.generate[m]) {
      log(`dep generate --method ${m}`);
      const ckpt = variants.includes(m)
        ? ["--checkpoint", join(run, "checkpoints", `epoch-${a.epochs}`)]
        : [];
      const t = performance.now();
      const r = json(
        "generate",
        ...ckpt,
        "--method",
        m,
        "--data",
        data,
        "--embeddings",
        emb,
        "--out",
        preds,
        "--max-samples",
        a.test,
        "--max-tokens",
        a["max-tokens"],
        "--parallel",
        "4",
        "--threads",
        a.threads,
        "--seed",
        a.seed,
        // dpl: as many retrieved items as rag and pag show history reviews (DPL's own default is 8)
        ...(m === "dpl" ? ["--num-retrieved", "4"] : []),
        ...prompt,
      );
      results.generate[m] = { ...r, seconds: (performance.now() - t) / 1000 };
      save();
    }
    const bertscore = a["bertscore-model"]
      ? ["--bertscore-model", a["bertscore-model"], "--threads", a.threads]
      : [];
    const report = json("eval", "--predictions", preds, ...bertscore);
    writeFileSync(
      join(run, "eval.json"),
      `${JSON.stringify({ ...report, method: m, category: "synthetic" })}\n`,
    );
  }
  dep(
    "report",
    "--runs",
    ...methods.map((m) => join(out, "runs", m)),
    "--out",
    join(out, "report"),
    "--json",
  );

  const genMd = [
    "",
    `Generation (${a["max-tokens"]} new tokens, 4 in parallel, ${a.threads} threads, including model load): ${methods.map((m) => `${m} ${(results.generate[m].written / results.generate[m].seconds).toFixed(3)} samples/s`).join(", ")}.`,
    "",
    readFileSync(join(out, "report", "table.md"), "utf8").trim(),
  ].join("\n");
  writeFileSync(join(out, "learning.md"), `${md}\n${genMd}\n`);
  console.log(genMd);
}
log(`done: ${out}`);
