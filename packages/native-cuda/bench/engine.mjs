#!/usr/bin/env node
// pnpm bench:engine [--json] [--model path] [--threads 2] [--positions 384,1024,3072] [--engines ggml,native]
//                   [--dtypes f32,bf16] [--skip-3072]
// One training step (lossAndGrad: forward + backward to 16 soft rows, 129 target tokens) on TinyLlama for each
// engine mode this machine runs, at each prompt length; the prompt is bench/llm.mjs --child-grad's (the same
// rows at 384 positions; longer prompts repeat its text). Each row in a child process, so that its peak
// memory is its own. Figures are printed, never asserted; the load average is printed with them (a busy
// machine's figures are not the machine's).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { flag, json, log, modelPath, opt, threads } from "./args.mjs";

const SOFT_ROWS = 16;
const N_TARGETS = 129;
const PROMPT_TEXT =
  "You are a helpful assistant who writes product reviews. Here are reviews the user wrote before: " +
  "'The headphones are comfortable and the sound is clear, though the case feels cheap.' " +
  "'Battery life is excellent; I charge it once a week. The app is clunky.' " +
  "'Shipping was fast and the packaging was good. Would buy again.' " +
  "Now write the user's review of a stainless steel water bottle that keeps drinks cold all day.";

// ---- child: one (engine, dtype, positions) row ---------------------------------------------------------
if (opt("child", undefined)) {
  const [engine, dtype, positionsText] = opt("child", "").split(":");
  const positions = Number(positionsText);
  const dep = await import("../dist/index.js");
  const { makeNormal } = await import("../dist/gguf/index.js");
  // ggml: f32 weights with the f16 transposed copies for the backward (the training default)
  const llm = await dep.Llm.load(modelPath, {
    threads,
    contextSize: 512,
    gradWeights: "f32",
    gradBackward: "f16",
  });
  // bench/llm.mjs's rowsLike(llm, 16, 3)
  const ref = llm.tokenEmbeddings(llm.tokenize(" The quick brown fox jumps over the lazy dog"));
  let rms = 0;
  for (const v of ref) rms += v * v;
  rms = Math.sqrt(rms / ref.length);
  const normal = makeNormal(3);
  const soft = Float32Array.from({ length: SOFT_ROWS * llm.info.nEmbd }, () => normal() * rms);
  const nPrompt = positions - N_TARGETS + 1;
  const repeats = Math.ceil(positions / 80) + 3;
  const body = Array.from({ length: repeats }, () => PROMPT_TEXT).join(" ");
  const text = llm.tokenize(body, { addSpecial: true });
  const targets = llm.tokenize(body).subarray(0, N_TARGETS);
  const segments = [
    { tokens: text.subarray(0, 16) },
    { embeddings: soft },
    { tokens: text.subarray(16, nPrompt - SOFT_ROWS) },
  ];
  let first;
  let second;
  let matmul = "ggml";
  if (engine === "ggml") {
    const a = await llm.lossAndGrad(segments, targets);
    const b = await llm.lossAndGrad(segments, targets);
    first = a.timings.loadMs + a.timings.computeMs;
    second = b;
  } else {
    const t0 = performance.now();
    const e = await llm.createGradEngine({ threads, dtype });
    await e.lossAndGrad(segments, targets);
    first = performance.now() - t0;
    second = await e.lossAndGrad(segments, targets);
    matmul = e.info.matmul;
    await e.dispose();
  }
  await llm.dispose();
  const row = {
    engine,
    dtype,
    device: "cpu",
    positions: second.nPositions,
    softRows: SOFT_ROWS,
    targets: second.nTokens,
    firstCallMs: Math.round(first),
    stepMs: Math.round(second.timings.computeMs),
    ...(second.timings.matmulMs !== undefined
      ? { matmulMs: Math.round(second.timings.matmulMs), attentionMs: Math.round(second.timings.attentionMs) }
      : {}),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    // what the gradient source itself holds (the rest of the peak is Node, llama.cpp's model and context,
    // and the GGUF's pages read at load)
    weightBytes: second.memory.weightBytes,
    activationBytes: second.memory.computeBytes,
    ...(second.recomputedLayers !== undefined ? { recomputedLayers: second.recomputedLayers } : {}),
    loss: second.loss,
    matmul,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
  process.exit(0);
}

if (!existsSync(modelPath)) {
  console.error(`${modelPath} is missing: run \`pnpm assets\` first`);
  process.exit(2);
}

const dep = await import("../dist/index.js");
const build = dep.gradEngineBuild();
const positionsList = opt("positions", "384,1024,3072")
  .split(",")
  .map(Number)
  .filter((p) => !(flag("skip-3072") && p === 3072));
if (positionsList.some((p) => !Number.isInteger(p) || p < N_TARGETS + SOFT_ROWS + 16)) {
  console.error(`--positions: each must be an integer >= ${N_TARGETS + SOFT_ROWS + 16}`);
  process.exit(2);
}
const engines = opt("engines", "ggml,native").split(",");
const dtypes = opt("dtypes", "f32,bf16").split(",");
const modes = [];
for (const engine of engines) {
  // the ggml graph has no bf16 forward: its row is f32 weights with f16 backward copies
  for (const dtype of engine === "ggml" ? ["f32"] : dtypes) {
    if (engine === "native" && !build.dtypes.includes(dtype)) {
      log(`native ${dtype}: not available here (${build.matmul}), skipped`);
      continue;
    }
    modes.push([engine, dtype]);
  }
}

// the matmul library on TinyLlama's FFN shape (M=384, K=2048, N=5632)
const gemmProbeTflops = {};
for (const d of ["bf16", "f32"]) {
  const t = dep.gradEngineGemmProbe(d, 384, 2048, 5632, threads);
  gemmProbeTflops[d] = t > 0 ? Number(t.toFixed(3)) : null;
}
log(`matmul: ${build.matmul}; FFN-shape probe ${JSON.stringify(gemmProbeTflops)} TFLOP/s`);

const script = fileURLToPath(import.meta.url);
const rows = [];
const load0 = loadavg()[0];
for (const positions of positionsList) {
  for (const [engine, dtype] of modes) {
    log(`${engine} ${dtype} ${positions} positions ...`);
    const r = spawnSync(
      process.execPath,
      [
        script,
        "--child",
        `${engine}:${dtype}:${positions}`,
        "--threads",
        String(threads),
        "--model",
        modelPath,
      ],
      { encoding: "utf8", maxBuffer: 1 << 26 },
    );
    const line = r.stdout.trim().split("\n").pop() ?? "";
    if (r.status !== 0 || !line.startsWith("{")) {
      // the child's error message (e.g. "DepError: out of memory allocating the gradient graph"), not its stack
      const message = r.stderr
        .split("\n")
        .find((l) => /^\w*Error\b/.test(l))
        ?.replace(/^\w*Error: /, "");
      const error = message ?? `exit ${r.status}`;
      log(`  failed: ${error}`);
      rows.push({ engine, dtype, device: "cpu", positions, error });
      continue;
    }
    rows.push(JSON.parse(line));
  }
}
const load1 = loadavg()[0];

const out = {
  cpu: cpus()[0]?.model ?? "unknown",
  threads,
  matmul: build.matmul,
  gemmProbeTflops,
  loadAverage: { start: Number(load0.toFixed(2)), end: Number(load1.toFixed(2)), cores: cpus().length },
  rows,
};
if (!json) {
  const split = (r) =>
    r.matmulMs === undefined
      ? "-"
      : `${(r.matmulMs / 1000).toFixed(2)} / ${(r.attentionMs / 1000).toFixed(2)} s`;
  const mb = (b) => (b ? `${(b / 2 ** 20).toFixed(0)} MiB` : "-");
  console.log(`\n${out.cpu}, ${threads} threads, matmul ${out.matmul}`);
  console.log(
    `load average ${out.loadAverage.start} -> ${out.loadAverage.end} on ${out.loadAverage.cores} cores`,
  );
  console.log(
    "| engine | dtype | positions | first call | step | (matmul / attention) | peak RSS | held: weights + activations | loss |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.engine} | ${r.dtype} | ${r.positions} | ${r.error} | | | | | |`);
      continue;
    }
    const held = `${mb(r.weightBytes)} + ${mb(r.activationBytes)}${r.recomputedLayers ? ` (${r.recomputedLayers} layers recomputed)` : ""}`;
    console.log(
      `| ${r.engine} | ${r.dtype} | ${r.positions} | ${(r.firstCallMs / 1000).toFixed(2)} s | ` +
        `${(r.stepMs / 1000).toFixed(2)} s | ${split(r)} | ${mb(r.peakRssBytes)} | ${held} | ${r.loss.toFixed(5)} |`,
    );
  }
}
if (json) console.log(JSON.stringify(out));
