#!/usr/bin/env node
// pnpm bench:serve [--json] [--model gguf] [--threads 2] [--parallel 4] [--clients 1,4,16] [--per-client 2]
//                  [--gen 16] [--prompt chat|item] [--checkpoint dir] [--rss-requests 1000] [--work dir]
// A bounded load test of `dep serve` on loopback: a synthetic dataset (20 users, use-lite embeddings) and
// the frozen LLM (default: the cached TinyLlama); for each number of concurrent clients, every client sends
// --per-client chat completions one after another. Prints requests/s, p50/p95 latency and generated
// tokens/s per row, then the server's RSS across --rss-requests short requests (16 clients, 1 new token).
// Figures only, never asserted. `--prompt item` sends the DEP prompt of each user's test item (about 1,000
// positions: slow on a CPU), `chat` a short message.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  chat,
  defaultModel,
  flag,
  makeDataset,
  opt,
  quantile,
  startServer,
  testUsers,
} from "./serveHarness.mjs";

const threads = opt("threads", "2");
const parallel = opt("parallel", "4");
const clientCounts = opt("clients", "1,4,16").split(",").map(Number);
const perClient = Number(opt("per-client", "2"));
const gen = Number(opt("gen", "16"));
const promptKind = opt("prompt", "chat");
const rssRequests = Number(opt("rss-requests", "1000"));
const checkpoint = opt("checkpoint", undefined);
const json = flag("json");
const model = defaultModel();
const work = opt("work", undefined) ?? mkdtempSync(join(tmpdir(), "dep-bench-serve-"));
const log = (...a) => {
  if (!json) console.error(...a);
};

function requestBody(i, users, maxTokens) {
  if (promptKind === "item") {
    const u = users[i % users.length];
    return {
      user: u.user_id,
      messages: [],
      max_tokens: maxTokens,
      dep: { item: { asin: u.asin }, category: u.category },
    };
  }
  return {
    messages: [{ role: "user", content: `Write a short review of paperback number ${i}.` }],
    max_tokens: maxTokens,
  };
}

/** `clients` workers, each sending `n` requests in turn. */
async function load(url, users, clients, n, maxTokens) {
  const t0 = performance.now();
  const results = (
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const mine = [];
        for (let k = 0; k < n; k++) mine.push(await chat(url, requestBody(c * n + k, users, maxTokens)));
        return mine;
      }),
    )
  ).flat();
  const wall = (performance.now() - t0) / 1000;
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const q = (p) => quantile(ms, p);
  const tokens = results.reduce((a, r) => a + r.tokens, 0);
  return {
    clients,
    requests: results.length,
    wall,
    rps: results.length / wall,
    p50: q(0.5),
    p95: q(0.95),
    tokensPerSecond: tokens / wall,
  };
}

async function rss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^dep_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

log(`work folder ${work}; model ${model}; ${threads} threads, --parallel ${parallel}`);
makeDataset(work);
const users = testUsers(work);
const server = await startServer(work, [
  ...(checkpoint ? ["--checkpoint", checkpoint] : []),
  ...["--model", model, "--threads", threads, "--parallel", parallel, "--max-tokens", String(gen)],
]);
const rows = [];
try {
  await chat(server.url, requestBody(0, users, 1)); // warm-up
  for (const c of clientCounts) {
    const row = await load(server.url, users, c, perClient, gen);
    rows.push(row);
    log(
      `${c} clients: ${row.requests} requests in ${row.wall.toFixed(1)} s, ${row.rps.toFixed(2)} req/s, ` +
        `p50 ${(row.p50 / 1000).toFixed(2)} s, p95 ${(row.p95 / 1000).toFixed(2)} s, ${row.tokensPerSecond.toFixed(1)} gen tok/s`,
    );
  }
  // RSS after every tenth of the short requests (16 clients, 1 new token each)
  const memory = [await rss(server.url)];
  const step = Math.max(16, Math.ceil(rssRequests / 160) * 16);
  let sent = 0;
  while (sent < rssRequests) {
    sent += (await load(server.url, users, 16, step / 16, 1)).requests;
    memory.push(await rss(server.url));
  }
  const mb = (b) => (b / 2 ** 20).toFixed(0);
  const summary = {
    model,
    threads: Number(threads),
    parallel: Number(parallel),
    prompt: promptKind,
    gen,
    rows,
    rss: { requests: sent, mb: memory.map((b) => Number(mb(b))), peakMb: Number(mb(Math.max(...memory))) },
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(`| clients | requests | req/s | p50 latency | p95 latency | gen tok/s |`);
    console.log(`| ------: | -------: | ----: | ----------: | ----------: | --------: |`);
    for (const r of rows)
      console.log(
        `| ${r.clients} | ${r.requests} | ${r.rps.toFixed(2)} | ${(r.p50 / 1000).toFixed(2)} s | ${(r.p95 / 1000).toFixed(2)} s | ${r.tokensPerSecond.toFixed(1)} |`,
      );
    console.log(`\nRSS over ${sent} more requests (MB, every ${step}): ${summary.rss.mb.join(" ")}`);
  }
} finally {
  await server.stop();
  if (!opt("work", undefined) && !flag("keep")) rmSync(work, { recursive: true, force: true });
}
