#!/usr/bin/env node
// pnpm bench:serve [--json] [--model gguf] [--threads 2] [--parallel 4] [--clients 1,4,16] [--per-client 2]
//                  [--gen 16] [--prompt chat|item] [--checkpoint dir] [--rss-requests 1000] [--work dir]
// A bounded load test of `dep serve` on loopback: a synthetic dataset (20 users, use-lite embeddings) and
// the frozen LLM (default: the cached TinyLlama); for each number of concurrent clients, every client sends
// --per-client chat completions one after another. Prints requests/s, p50/p95 latency and generated
// tokens/s per row, then the server's RSS across --rss-requests short requests (16 clients, 1 new token).
// Figures only, never asserted. `--prompt item` sends the DEP prompt of each user's test item (about 1,000
// positions: slow on a CPU), `chat` a short message.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const threads = opt("threads", "2");
const parallel = opt("parallel", "4");
const clientCounts = opt("clients", "1,4,16").split(",").map(Number);
const perClient = Number(opt("per-client", "2"));
const gen = Number(opt("gen", "16"));
const promptKind = opt("prompt", "chat");
const rssRequests = Number(opt("rss-requests", "1000"));
const checkpoint = opt("checkpoint", undefined);
const json = flag("json");
const model =
  opt("model", undefined) ??
  join(
    process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"),
    "models",
    "tinyllama-1.1b-chat-iq2_xxs.gguf",
  );
const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const work = opt("work", undefined) ?? mkdtempSync(join(tmpdir(), "dep-bench-serve-"));
const log = (...a) => {
  if (!json) console.error(...a);
};

function dep(cliArgs) {
  const r = spawnSync(process.execPath, [bin, ...cliArgs], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dep ${cliArgs[0]} failed: ${r.stderr}`);
  return r.stdout;
}

async function startServer() {
  const child = spawn(
    process.execPath,
    [
      bin,
      "serve",
      ...(checkpoint ? ["--checkpoint", checkpoint] : []),
      ...["--data", join(work, "data"), "--embeddings", join(work, "emb"), "--model", model],
      ...["--port", "0", "--threads", threads, "--parallel", parallel, "--max-length", "1536"],
      ...["--max-tokens", String(gen), "--max-queue", "1000", "--reviews-file", join(work, "reviews.jsonl")],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("dep serve did not start in 300 s")), 300_000);
    child.stdout.on("data", (b) => {
      out += b;
      const m = /listening on (\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`dep serve exited with ${code}`)));
  });
  return { url, child };
}

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

async function chat(url, body) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(1_800_000),
  });
  const r = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(r)}`);
  return { ms: performance.now() - t0, tokens: r.usage.completion_tokens };
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
  const q = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
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
dep(["data", "synth", "--users", "20", "--seed", "5", "--out", join(work, "data"), "--force", "--json"]);
dep(["embed", "--data", join(work, "data"), "--out", join(work, "emb"), "--json"]);
const users = testUsers();
const server = await startServer();
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
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.on("exit", r));
  if (!opt("work", undefined) && !flag("keep")) rmSync(work, { recursive: true, force: true });
}

function testUsers() {
  const out = [];
  for (const category of ["Books", "Movies_and_TV", "CDs_and_Vinyl"]) {
    let text;
    try {
      text = readFileSync(join(work, "data", "main", category, "test.jsonl"), "utf8");
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n")) {
      const row = JSON.parse(line);
      out.push({ user_id: row.user_id, category, asin: row.data.asin });
    }
  }
  return out;
}
