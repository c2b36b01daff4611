// `dep serve` as its users meet it: spawned servers on 127.0.0.1 (ephemeral ports), the official `openai`
// client and plain fetch, a tiny generated GGUF as the frozen LLM and as the embedder, a checkpoint
// trained by `dep train`. Every request loop is bounded in count, and every wait in time.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGgufEmbedder, embedDataset, modelPath, TINYLLAMA } from "@dep/core";
import { type TrainFixture, trainFixture } from "@dep/core/testing";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
let fx: TrainFixture;
let emb: string;
let checkpoint: string;
interface TestRow {
  user_id: string;
  category: string;
  profile: Array<{ asin: string }>;
  data: { asin: string; rating: number; title: string };
}
/** the test rows of the fixture */
let rows: TestRow[];
/** the first sample `dep generate` writes: its user, target item, rating and title */
let sample: { user: string; asin: string; rating: number; title: string; row: TestRow };
/** that sample's line of `dep generate --max-samples 1` (sampled, seed 42), and greedy (--temperature 0) */
let predicted: { prediction: string; prompt_tokens: number };
let predictedGreedy: { prediction: string; user_id: string };

function dep(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, DEP_HOME: join(fx.dir, "home") },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Server {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** sends the signal and resolves with the exit code (bounded wait) */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const servers = new Set<Server>();

/** Starts `dep serve` on an ephemeral loopback port; resolves once it prints its `listening on` line. */
async function serve(
  extra: string[] = [],
  llm: { model?: string; checkpoint?: boolean } = {},
): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      bin,
      "serve",
      ...(llm.checkpoint === false ? [] : ["--checkpoint", checkpoint]),
      "--data",
      fx.dataDir,
      "--embeddings",
      emb,
      "--embedder",
      `gguf:${fx.modelPath}`,
      "--model",
      llm.model ?? fx.modelPath,
      "--port",
      "0",
      "--threads",
      llm.model ? (process.env.DEP_THREADS ?? "2") : "1",
      "--max-length",
      "1200",
      "--max-tokens",
      "12",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEP_HOME: join(fx.dir, "home") } },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (b) => {
    stderr += b;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dep serve did not start in 120 s: ${stderr}`)), 120_000);
    child.stdout?.on("data", (b) => {
      stdout += b;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`dep serve exited with ${code}: ${stderr}`));
    });
  });
  const server: Server = {
    url,
    child,
    stderr: () => stderr,
    async stop(signal = "SIGTERM") {
      servers.delete(server);
      if (child.exitCode === null) child.kill(signal);
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000));
      const code = await Promise.race([exited, timeout]);
      if (code === "timeout") {
        child.kill("SIGKILL");
        throw new Error("dep serve did not stop within 60 s");
      }
      return code;
    },
  };
  servers.add(server);
  return server;
}

const client = (s: Server, apiKey = "none") =>
  new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0, timeout: 120_000 });

/** POSTs JSON; returns status, headers and the parsed body. */
async function post(s: Server, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Starts a 1000-token chat stream; abort the controller to disconnect. */
async function longStream(s: Server, extra: Record<string, unknown> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({
      messages: [{ role: "user", content: "Tell a long story" }],
      max_tokens: 1000,
      stream: true,
      ...extra,
    }),
    signal: controller.signal,
  });
  return { controller, reader: res.body!.getReader() };
}

const itemRequest = (extra: Record<string, unknown> = {}) => ({
  model: "dep",
  user: sample.user,
  messages: [],
  dep: { item: { asin: sample.asin }, rating: sample.rating, title: sample.title },
  ...extra,
});

beforeAll(async () => {
  fx = await trainFixture(12, 5);
  // the tiny GGUF as the embedder too, so the server can embed added reviews the way the store was made
  emb = join(fx.dir, "emb-gguf");
  const embedder = await createGgufEmbedder(fx.modelPath, { threads: 1 });
  await embedDataset({ dataDir: fx.dataDir, embedder, outDir: emb });
  await embedder.dispose?.();
  const run = join(fx.dir, "run");
  const r = dep([
    "train",
    ...["--data", fx.dataDir, "--embeddings", emb, "--model", fx.modelPath, "--out", run],
    ...["--epochs", "1", "--grad-accum", "2", "--max-samples", "2", "--max-length", "1200"],
    ...["--sae-width", "16", "--kernel-backend", "cpu", "--threads", "1", "--json"],
  ]);
  expect(r.code, r.stderr).toBe(0);
  checkpoint = join(run, "checkpoints", "epoch-1");
  rows = readdirSync(join(fx.dataDir, "main")).flatMap((c) =>
    readFileSync(join(fx.dataDir, "main", c, "test.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => ({ ...JSON.parse(l), category: c }) as TestRow),
  );
  const generate = (name: string, extra: string[] = []) => {
    const out = join(fx.dir, name);
    const g = dep([
      "generate",
      ...["--checkpoint", checkpoint, "--data", fx.dataDir, "--embeddings", emb, "--model", fx.modelPath],
      ...["--out", out, "--max-samples", "1", "--max-tokens", "12", "--max-length", "1200", "--threads", "1"],
      ...extra,
      "--json",
    ]);
    expect(g.code, g.stderr).toBe(0);
    return JSON.parse(readFileSync(out, "utf8").trim().split("\n")[0]!);
  };
  const line = generate("preds.jsonl");
  predicted = line;
  predictedGreedy = generate("preds-greedy.jsonl", ["--temperature", "0"]);
  expect(predictedGreedy.user_id).toBe(line.user_id);
  const row = rows.find((r) => r.user_id === line.user_id && r.category === line.category)!;
  sample = { user: row.user_id, asin: row.data.asin, rating: row.data.rating, title: row.data.title, row };
  expect(new Set(rows.filter((r) => r.user_id === sample.user).map((r) => r.category)).size).toBe(1);
}, 600_000);

afterAll(async () => {
  for (const s of [...servers]) await s.stop("SIGKILL").catch(() => undefined);
  fx?.cleanup();
});

describe("dep serve: OpenAI-compatible generation for a user", () => {
  let s: Server;
  beforeAll(async () => {
    s = await serve(["--parallel", "4"]);
  }, 180_000);
  afterAll(async () => {
    expect(await s.stop("SIGTERM")).toBe(0);
  }, 70_000);

  it("lists its model, answers a user's chat request, and streams the same text", async () => {
    const api = client(s);
    const models = await api.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["dep/tiny"]);
    const body = itemRequest({ max_tokens: 10 });
    const full = await api.chat.completions.create(body as never);
    expect(full.object).toBe("chat.completion");
    const text = full.choices[0]!.message.content!;
    expect(text.length).toBeGreaterThan(0);
    // usage counts prompt positions (tokens + soft rows) and generated tokens
    expect(full.usage!.completion_tokens).toBe(10);
    expect(full.choices[0]!.finish_reason).toBe("length");
    const dep = (full as unknown as { dep: { soft_rows: number; prompt_positions: number } }).dep;
    expect(dep.soft_rows).toBeGreaterThan(0);
    expect(full.usage!.prompt_tokens).toBe(dep.prompt_positions);
    const stream = await api.chat.completions.create({
      ...(body as object),
      stream: true,
      stream_options: { include_usage: true },
    } as never);
    let streamed = "";
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(streamed).toBe(text);
    expect(usage?.completion_tokens).toBe(10);
  });

  it("gives the same text as `dep generate` for that sample and seed", async () => {
    const res = await client(s).chat.completions.create(itemRequest() as never);
    expect(res.choices[0]!.message.content!.trim()).toBe(predicted.prediction);
    expect(res.usage!.prompt_tokens).toBe(predicted.prompt_tokens);
  });

  it("honours each request's sampler settings within one batch: greedy and seeded rows as `dep generate` writes them", async () => {
    const api = client(s);
    const [greedy, seeded, ...others] = await Promise.all(
      [
        itemRequest({ temperature: 0 }),
        itemRequest(),
        itemRequest({ temperature: 1.2, top_k: 5, seed: 3 }),
        itemRequest({ temperature: 0.7, top_p: 0.5, seed: 9, max_tokens: 5 }),
      ].map((r) => api.chat.completions.create(r as never)),
    );
    expect(greedy!.choices[0]!.message.content!.trim()).toBe(predictedGreedy.prediction);
    expect(seeded!.choices[0]!.message.content!.trim()).toBe(predicted.prediction);
    expect(others[1]!.usage!.completion_tokens).toBeLessThanOrEqual(5);
  });

  it("a request that arrives mid-generation joins the running batch and finishes first", async () => {
    const { controller, reader } = await longStream(s, { temperature: 0 });
    let long = "";
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        long += new TextDecoder().decode(value);
      }
    })().catch(() => undefined);
    // the role chunk, then generated text: the long request is under way
    for (let i = 0; i < 400 && (long.match(/"content":"[^"]/g) ?? []).length < 2; i++)
      await new Promise((r) => setTimeout(r, 5));
    const short = await post(s, "/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
      temperature: 0,
    });
    expect(short.body.usage.completion_tokens).toBe(3);
    expect(long).not.toMatch(/"finish_reason":"(length|stop)"/);
    controller.abort();
    await reading;
  }, 60_000);

  it("decodes 16 concurrent streams with --parallel 4, each as it reads alone (greedy)", async () => {
    // each user's own test item, with different output titles: 16 different DEP prompts
    const requests = Array.from({ length: 16 }, (_, i) => {
      const row = rows[i % rows.length]!;
      return {
        user: row.user_id,
        messages: [],
        dep: { item: { asin: row.data.asin }, category: row.category, rating: 4, title: `Take ${i}` },
        max_tokens: 8,
        temperature: 0,
      };
    });
    const api = client(s);
    const alone: string[] = [];
    for (const r of requests)
      alone.push((await api.chat.completions.create(r as never)).choices[0]!.message.content!);
    const together = await Promise.all(
      requests.map(async (r) => {
        const stream = await api.chat.completions.create({ ...r, stream: true } as never);
        let text = "";
        for await (const c of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>)
          text += c.choices[0]?.delta.content ?? "";
        return text;
      }),
    );
    expect(together).toEqual(alone);
  }, 120_000);

  it("a client that disconnects mid-stream frees its sequence", async () => {
    const cancelled = async () =>
      Number(
        /^dep_requests_cancelled_total (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())![1],
      );
    // the join test before this one ended its long stream by disconnecting too
    for (
      let i = 0;
      i < 100 && /^dep_running_requests 0$/m.test(await (await fetch(`${s.url}/metrics`)).text()) === false;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    const before = await cancelled();
    const { controller, reader } = await longStream(s);
    await reader.read(); // the first chunk: generation is under way
    controller.abort();
    // the cancellation is counted and nothing stays queued or running
    let metrics = "";
    for (let i = 0; i < 200; i++) {
      metrics = await (await fetch(`${s.url}/metrics`)).text();
      const done = new RegExp(`^dep_requests_cancelled_total ${before + 1}$`, "m");
      if (done.test(metrics) && /^dep_running_requests 0$/m.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(metrics).toMatch(new RegExp(`^dep_requests_cancelled_total ${before + 1}$`, "m"));
    expect(metrics).toMatch(/^dep_running_requests 0$/m);
    expect(metrics).toMatch(/^dep_queue_depth 0$/m);
    // all four slots serve the next requests
    const next = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        post(s, "/v1/chat/completions", {
          messages: [{ role: "user", content: `again ${i}` }],
          max_tokens: 4,
        }),
      ),
    );
    for (const r of next) expect(r.body.usage.completion_tokens).toBe(4);
    expect(metrics).toMatch(/dep_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/dep_soft_cache_hits \d+/);
  }, 60_000);

  it("answers each bad request with its 4xx in OpenAI's error shape", async () => {
    const chat = (body: unknown) => post(s, "/v1/chat/completions", body);
    const cases: ReadonlyArray<
      readonly [
        string,
        Promise<{ status: number; body: { error: Record<string, unknown> } }>,
        number,
        string | null,
      ]
    > = [
      ["malformed JSON", chat("{not json"), 400, null],
      ["wrong type", chat({ messages: "hello" }), 400, "messages"],
      [
        "out of range",
        chat({ messages: [{ role: "user", content: "x" }], temperature: 9 }),
        400,
        "temperature",
      ],
      ["n > 1", chat({ messages: [{ role: "user", content: "x" }], n: 2 }), 400, "n"],
      ...(
        [
          ["top_p", 0],
          ["top_p", 1.5],
          ["top_k", -2],
          ["top_k", 2.5],
          ["seed", -1],
          ["seed", "x"],
          ["max_tokens", 0],
          ["temperature", "hot"],
          ["stop", ["a", "b", "c", "d", "e"]],
        ] as const
      ).map(
        ([field, value]) =>
          [
            `bad ${field}`,
            chat({ messages: [{ role: "user", content: "x" }], [field]: value }),
            400,
            field,
          ] as const,
      ),
      ["unknown dep field", chat({ messages: [], dep: { itme: {} } }), 400, "dep"],
      ["unknown user", chat(itemRequest({ user: "no-such-user" })), 404, "user"],
      ["unknown item", chat(itemRequest({ dep: { item: { asin: "NO-SUCH-ITEM" } } })), 404, "dep.item"],
      [
        "too many tokens",
        chat({ messages: [{ role: "user", content: "x" }], max_tokens: 100_000 }),
        400,
        "max_tokens",
      ],
      [
        "bad soft-row mark",
        chat({ user: sample.user, messages: [{ role: "user", content: "[[dep:his:99]]" }] }),
        400,
        "messages",
      ],
      ["body too large", chat({ messages: [{ role: "user", content: "x".repeat(1_100_000) }] }), 413, null],
    ];
    for (const [what, pending, status, param] of cases) {
      const r = await pending;
      expect(r.status, what).toBe(status);
      expect(Object.keys(r.body.error).sort(), what).toEqual(["code", "message", "param", "type"]);
      expect(r.body.error.param, what).toBe(param);
      expect(typeof r.body.error.message, what).toBe("string");
    }
    const missing = await fetch(`${s.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    // and the server still serves
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  }, 60_000);
});

describe("dep serve: a user's new review shapes the next answer, and survives a restart", () => {
  it("adds a review; the user's prompt shows it; it is still there after a restart", async () => {
    let s = await serve();
    const before = await post(s, "/v1/dep/prompt", itemRequest());
    expect(before.status).toBe(200);
    const text =
      "A brand new review about a zebra circus, written while testing dep serve, with enough words.";
    // an item the user has not reviewed, that two others reviewed early on (so the review qualifies)
    const mine = new Set(sample.row.profile.map((r) => r.asin));
    const counts = new Map<string, number>();
    for (const row of rows.filter((r) => r.category === sample.row.category && r !== sample.row))
      for (const r of row.profile.slice(0, -2)) counts.set(r.asin, (counts.get(r.asin) ?? 0) + 1);
    const asin = [...counts].find(([a, n]) => n >= 2 && !mine.has(a))![0];
    const added = await post(s, `/v1/users/${sample.user}/reviews`, {
      asin,
      rating: 5,
      title: "Zebra circus",
      text,
      timestamp: 4_000_000_000_000,
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({ user_id: sample.user, added_reviews: 1 });
    const after = await post(s, "/v1/dep/prompt", itemRequest());
    expect(after.body.text).toContain(text);
    expect(before.body.text).not.toContain(text);
    expect(after.body.history[0]).toEqual({ asin, title: "Zebra circus" });
    // the same item twice is refused; bad fields name themselves
    const again = await post(s, `/v1/users/${sample.user}/reviews`, {
      asin,
      rating: 5,
      title: "x",
      text: "y",
    });
    expect(again.status).toBe(409);
    const bad = await post(s, `/v1/users/${sample.user}/reviews`, {
      asin,
      rating: "five",
      title: "x",
      text: "y",
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { param: "rating" } } });
    const chat = await post(s, "/v1/chat/completions", itemRequest({ max_tokens: 4 }));
    expect(chat.headers.get("x-dep-history")).toBe(String(after.body.history.length));
    expect(await s.stop("SIGINT")).toBe(0);

    s = await serve();
    const replayed = await post(s, "/v1/dep/prompt", itemRequest());
    expect(replayed.body.text).toBe(after.body.text);
    const user = (await (await fetch(`${s.url}/v1/users/${sample.user}`)).json()) as {
      last_update: string | null;
    };
    expect(user).toMatchObject({ added_reviews: 1, history_length: sample.row.profile.length + 1 });
    expect(user.last_update).not.toBeNull();
    expect(await s.stop("SIGTERM")).toBe(0);
  }, 300_000);
});

describe("dep serve: API key, queue bound, drain", () => {
  it("needs the key, answers 429 beyond the queue, and drains in-flight requests on SIGTERM", async () => {
    const keyFile = join(fx.dir, "key.txt");
    writeFileSync(keyFile, "s3cret-key\n");
    const s = await serve(["--api-key-file", keyFile, "--parallel", "1", "--max-queue", "1"]);
    expect((await fetch(`${s.url}/health`)).status).toBe(200); // health needs no key
    const body = { messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
    expect((await post(s, "/v1/chat/completions", body)).status).toBe(401);
    const wrong = await post(s, "/v1/chat/completions", body, { authorization: "Bearer s3cret-kez" });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: "invalid_api_key" } } });
    const models = await client(s, "s3cret-key").models.list();
    expect(models.data).toHaveLength(1);
    // one running (--parallel 1), one queued (--max-queue 1), the rest refused
    const auth = { authorization: "Bearer s3cret-key" };
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(s, "/v1/chat/completions", { ...body, max_tokens: 1000, seed: i }, auth),
      ),
    );
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((x) => x === 200 || x === 429)).toBe(true);
    const refused = burst.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body.error.type).toBe("rate_limit_error");
    // SIGTERM while a stream runs: it finishes, then the server exits 0
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ ...body, max_tokens: 300, stream: true }),
      signal: AbortSignal.timeout(60_000),
    });
    const reader = res.body!.getReader();
    await reader.read();
    const stopping = s.stop("SIGTERM");
    let rest = "";
    for (let i = 0; i < 10_000; i++) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toMatch(/"finish_reason":"(length|stop)"/);
    expect(rest.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(await stopping).toBe(0);
  }, 300_000);
});

describe.runIf(process.env.DEP_SLOW_TESTS === "1")("dep serve with the real TinyLlama (slow)", () => {
  it("streams what it answers, as `dep generate` writes it for the sample", async () => {
    const tinyllama = modelPath(TINYLLAMA);
    const threads = process.env.DEP_THREADS ?? "2";
    const out = join(fx.dir, "preds-tinyllama.jsonl");
    const g = dep([
      "generate",
      ...["--method", "no-soft", "--data", fx.dataDir, "--embeddings", emb, "--model", tinyllama],
      ...[
        "--out",
        out,
        "--max-samples",
        "1",
        "--max-tokens",
        "12",
        "--max-length",
        "1200",
        "--threads",
        threads,
      ],
      "--json",
    ]);
    expect(g.code, g.stderr).toBe(0);
    const line = JSON.parse(readFileSync(out, "utf8").trim().split("\n")[0]!);
    // without the review added above: the histories `dep generate` sees
    const s = await serve(["--reviews-file", join(fx.dir, "no-reviews.jsonl")], {
      model: tinyllama,
      checkpoint: false,
    });
    const api = client(s);
    const body = itemRequest({ dep: { ...itemRequest().dep, method: "no-soft" } });
    const full = await api.chat.completions.create(body as never);
    const text = full.choices[0]!.message.content!;
    expect(text.trim()).toBe(line.prediction);
    expect(full.usage!.prompt_tokens).toBe(line.prompt_tokens);
    const stream = await api.chat.completions.create({ ...(body as object), stream: true } as never);
    let streamed = "";
    for await (const c of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>)
      streamed += c.choices[0]?.delta.content ?? "";
    expect(streamed).toBe(text);
    expect(await s.stop("SIGTERM")).toBe(0);
  }, 600_000);
});

describe("dep serve: startup errors are one line with their exit code", () => {
  it("names a checkpoint of another width, a port in use and a store it cannot embed for", async () => {
    const narrow = join(fx.dir, "narrow.gguf");
    writeTinyModel(narrow, { arch: "llama", seed: 3, nEmbd: 32, contextLength: 2048 });
    const base = ["serve", "--data", fx.dataDir, "--embeddings", emb, "--threads", "1", "--port", "0"];
    const width = dep([
      ...base,
      "--checkpoint",
      checkpoint,
      "--embedder",
      `gguf:${fx.modelPath}`,
      "--model",
      narrow,
    ]);
    expect(width.code, width.stderr).toBe(3);
    expect(width.stderr).toMatch(
      /^dep: error: .*projects to width 64 but .*narrow\.gguf has nEmbd 32.*\[DEP_CHECKPOINT\]\n$/,
    );
    const noEmbedder = dep([...base, "--model", fx.modelPath]);
    expect(noEmbedder.code, noEmbedder.stderr).toBe(2);
    expect(noEmbedder.stderr).toMatch(/pass --embedder/);
    const s = await serve();
    const port = new URL(s.url).port;
    const busy = dep(["serve", "--data", fx.dataDir, "--embeddings", emb, "--port", port, "--threads", "1"]);
    expect(busy.code, busy.stderr).toBe(2);
    expect(busy.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    expect(await s.stop("SIGTERM")).toBe(0);
  }, 180_000);
});
