// What the serve benches share: flags, the dep CLI, a synthetic dataset with use-lite embeddings, a
// `dep serve` child on an ephemeral loopback port, and one timed chat completion.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
export const flag = (name) => args.includes(`--${name}`);
export const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

/** --model, else the cached TinyLlama. */
export const defaultModel = () =>
  opt("model", undefined) ??
  join(
    process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"),
    "models",
    "tinyllama-1.1b-chat-iq2_xxs.gguf",
  );

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");

export function dep(cliArgs) {
  const r = spawnSync(process.execPath, [bin, ...cliArgs], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dep ${cliArgs[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/** A 20-user synthetic dataset and its use-lite store under work/{data,emb}. */
export function makeDataset(work) {
  dep(["data", "synth", "--users", "20", "--seed", "5", "--out", join(work, "data"), "--force", "--json"]);
  dep(["embed", "--data", join(work, "data"), "--out", join(work, "emb"), "--json"]);
}

/** Starts `dep serve` over work's dataset; resolves with its URL once it listens. */
export async function startServer(work, serveArgs) {
  const child = spawn(
    process.execPath,
    [
      bin,
      "serve",
      ...["--data", join(work, "data"), "--embeddings", join(work, "emb")],
      ...["--port", "0", "--max-length", "1536", "--max-queue", "1000"],
      ...["--reviews-file", join(work, "reviews.jsonl"), ...serveArgs],
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
  const stop = async () => {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((r) => child.on("exit", r));
  };
  return { url, child, stop };
}

/** One non-streaming chat completion: its latency, generated tokens and text. */
export async function chat(url, body) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(1_800_000),
  });
  const r = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(r)}`);
  return {
    ms: performance.now() - t0,
    tokens: r.usage.completion_tokens,
    text: r.choices[0].message.content,
  };
}

/** The p-quantile of sorted numbers. */
export const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];

/** The test rows of work's dataset: user, category, target item. */
export function testUsers(work) {
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
