#!/usr/bin/env node
// pnpm bench:serve-batching [--json] [--model gguf] [--threads 2] [--parallel 4] [--requests 24]
//                           [--gap-ms 300] [--long 64] [--short 8] [--work dir]
// Continuous batching against batch-to-completion (`dep serve --no-continuous-batching`) under a staggered
// load: --requests greedy chat completions, one sent every --gap-ms whatever the answers (an open loop),
// every fourth asking for --long new tokens and the others for --short. With continuous batching a short
// request joins the running batch; batch-to-completion makes it wait for the batch's longest member. Prints
// throughput (requests/s, generated tokens/s over the whole run) and latency per mode, and how many greedy
// texts differ between the modes (llama.cpp's batched steps are not bit-invariant to the batch's width on a
// quantized model, so a near-tie can go the other way). Figures only, never asserted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chat, defaultModel, flag, makeDataset, opt, quantile, startServer } from "./serveHarness.mjs";

const threads = opt("threads", "2");
const parallel = opt("parallel", "4");
const requests = Number(opt("requests", "24"));
const gapMs = Number(opt("gap-ms", "300"));
const long = Number(opt("long", "64"));
const short = Number(opt("short", "8"));
const json = flag("json");
const model = defaultModel();
const work = opt("work", undefined) ?? mkdtempSync(join(tmpdir(), "dep-bench-batching-"));
const log = (...a) => {
  if (!json) console.error(...a);
};

const body = (i) => ({
  messages: [{ role: "user", content: `Write a short review of paperback number ${i}.` }],
  max_tokens: i % 4 === 0 ? long : short,
  temperature: 0,
});

/** Sends the staggered load to a fresh server in one mode. */
async function run(mode) {
  const server = await startServer(work, [
    ...["--model", model, "--threads", threads, "--parallel", parallel, "--max-tokens", String(long)],
    ...(mode === "batch-to-completion" ? ["--no-continuous-batching"] : []),
  ]);
  try {
    await chat(server.url, { ...body(0), max_tokens: 1 }); // warm-up
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: requests }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * gapMs));
        return { i, ...(await chat(server.url, body(i))) };
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const ms = (which) =>
      results
        .filter((r) => which(r.i))
        .map((r) => r.ms)
        .sort((a, b) => a - b);
    const all = ms(() => true);
    const shorts = ms((i) => i % 4 !== 0);
    const tokens = results.reduce((a, r) => a + r.tokens, 0);
    const row = {
      mode,
      wall,
      rps: requests / wall,
      tokensPerSecond: tokens / wall,
      p50: quantile(all, 0.5),
      p95: quantile(all, 0.95),
      shortP50: quantile(shorts, 0.5),
      texts: results.map((r) => r.text),
    };
    log(
      `${mode}: ${row.rps.toFixed(2)} req/s, ${row.tokensPerSecond.toFixed(1)} gen tok/s in ${wall.toFixed(1)} s`,
    );
    return row;
  } finally {
    await server.stop();
  }
}

log(`work folder ${work}; model ${model}; ${threads} threads, --parallel ${parallel}`);
log(`${requests} requests, one every ${gapMs} ms; every fourth ${long} new tokens, the others ${short}`);
try {
  makeDataset(work);
  const rows = [await run("continuous"), await run("batch-to-completion")];
  const differ = rows[0].texts.filter((t, i) => t !== rows[1].texts[i]).length;
  const summary = {
    model,
    threads: Number(threads),
    parallel: Number(parallel),
    requests,
    gapMs,
    long,
    short,
    textsThatDiffer: differ,
    rows: rows.map(({ texts: _texts, ...r }) => r),
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(`| mode | req/s | gen tok/s | wall | p50 latency | p95 latency | p50 latency (short) |`);
    console.log(`| :--- | ----: | --------: | ---: | ----------: | ----------: | ------------------: |`);
    for (const r of summary.rows)
      console.log(
        `| ${r.mode} | ${r.rps.toFixed(2)} | ${r.tokensPerSecond.toFixed(1)} | ${r.wall.toFixed(1)} s | ${(r.p50 / 1000).toFixed(2)} s | ${(r.p95 / 1000).toFixed(2)} s | ${(r.shortP50 / 1000).toFixed(2)} s |`,
      );
    console.log(
      `\ngreedy texts that differ between the modes: ${differ} of ${requests}` +
        (differ > 0 ? " (llama.cpp's batched steps are not bit-invariant to the batch's width)" : ""),
    );
  }
} finally {
  if (!opt("work", undefined) && !flag("keep")) rmSync(work, { recursive: true, force: true });
}
