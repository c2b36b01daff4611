// The HTTP layer of `dep serve`, on Node's own http server: eight routes, SSE written straight to the
// response, client disconnects seen on the response's `close`, and a drain through server.close(). A
// framework would add a dependency and remove none of that code; bodies are checked with zod (schemas.ts).
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GenerationScheduler, Personalizer, ServePrompt } from "@dep/core";
import type { GenerationResult } from "@dep/native-cuda";
import type { z } from "zod";
import { badRequest, fromZod, HttpError, toHttpError } from "./errors.js";
import type { ServeMetrics } from "./metrics.js";
import {
  type ChatRequest,
  type CompletionRequest,
  chatRequest,
  completionRequest,
  reviewRequest,
} from "./schemas.js";

export interface ServeReady {
  personalizer: Personalizer;
  scheduler: GenerationScheduler;
  /** positions per sequence of the LLM's context */
  contextSize: number;
}

export interface ServeSettings {
  /** the id of the one model in /v1/models */
  modelId: string;
  /** sha256 of the API key (null: no key needed) */
  apiKeyDigest: Buffer | null;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** defaults for requests that leave them out */
  maxTokens: number;
  temperature: number;
  topP: number;
  /** 0: off */
  topK: number;
  seed: number;
}

export interface ServeState {
  settings: ServeSettings;
  metrics: ServeMetrics;
  ready: ServeReady | null;
  draining: boolean;
  /** requests being answered (the drain waits for them) */
  inFlight: number;
}

const created = () => Math.floor(Date.now() / 1000);

export function apiKeyDigest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** The request handler (never throws: every failure is a JSON error response). */
export function serveHandler(state: ServeState) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = routeName(req.method ?? "GET", url.pathname);
    state.inFlight++;
    res.on("close", () => {
      state.inFlight--;
      state.metrics.requests.inc({ route, status: String(res.statusCode) });
      state.metrics.latency.observe({ route }, (performance.now() - t0) / 1000);
    });
    dispatch(state, req, res, url, route).catch((err) => sendError(res, toHttpError(err)));
  };
}

const ROUTES = new Set([
  "GET /health",
  "GET /metrics",
  "GET /v1/models",
  "POST /v1/chat/completions",
  "POST /v1/completions",
  "POST /v1/dep/prompt",
  "GET /v1/users/{id}",
  "POST /v1/users/{id}/reviews",
]);

/** The path's pattern, or null for a path the server does not have. */
function pattern(path: string): string | null {
  if (/^\/v1\/users\/[^/]+\/reviews$/.test(path)) return "/v1/users/{id}/reviews";
  if (/^\/v1\/users\/[^/]+$/.test(path)) return "/v1/users/{id}";
  return [...ROUTES].some((r) => r.endsWith(` ${path}`)) ? path : null;
}

/** "METHOD pattern" of a served route, or "other" (the metrics label). */
function routeName(method: string, path: string): string {
  const name = `${method} ${pattern(path)}`;
  return ROUTES.has(name) ? name : "other";
}

async function dispatch(
  state: ServeState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  route: string,
): Promise<void> {
  const path = url.pathname;
  if (route === "GET /health") {
    const status = state.draining ? "draining" : state.ready ? "ready" : "loading";
    return sendJson(res, status === "ready" ? 200 : 503, { status });
  }
  checkApiKey(state.settings, req);
  if (route === "GET /metrics") {
    res.writeHead(200, { "content-type": state.metrics.registry.contentType });
    res.end(await state.metrics.registry.metrics());
    return;
  }
  if (route === "other") {
    const known = pattern(path) !== null;
    throw new HttpError(
      known ? 405 : 404,
      known ? `${req.method} is not allowed on ${path}` : `no route ${req.method} ${path}`,
      "invalid_request_error",
      known ? "method_not_allowed" : "not_found",
    );
  }
  if (state.draining)
    throw new HttpError(503, "the server is shutting down", "server_error", "shutting_down");
  const ready = state.ready;
  if (!ready) {
    throw new HttpError(
      503,
      "the server is still loading; poll GET /health",
      "server_error",
      "loading",
      null,
      {
        "retry-after": "5",
      },
    );
  }
  const p = ready.personalizer;
  switch (route) {
    case "GET /v1/models":
      return sendJson(res, 200, {
        object: "list",
        data: [{ id: state.settings.modelId, object: "model", created: created(), owned_by: "dep" }],
      });
    case "GET /v1/users/{id}": {
      const key = p.resolveUser(userIdOf(path), url.searchParams.get("category") ?? undefined);
      return sendJson(res, 200, { object: "dep.user", ...p.summary(key) });
    }
    case "POST /v1/users/{id}/reviews": {
      const body = parse(reviewRequest, await readJson(req, state.settings.maxBodyBytes));
      const { category, ...review } = body;
      const summary = await p.addReview(userIdOf(path), review, category).catch((err) => {
        const e = toHttpError(err);
        throw e.code === "item_not_found" ? new HttpError(e.status, e.message, e.type, e.code, "asin") : e;
      });
      return sendJson(res, 201, { object: "dep.user", ...summary });
    }
    case "POST /v1/dep/prompt": {
      const body = parse(chatRequest, await readJson(req, state.settings.maxBodyBytes));
      const built = await chatPrompt(p, body);
      return sendJson(res, 200, { object: "dep.prompt", ...describePrompt(built) });
    }
    case "POST /v1/chat/completions": {
      const body = parse(chatRequest, await readJson(req, state.settings.maxBodyBytes));
      return generate(state, ready, res, await chatPrompt(p, body), body, "chat");
    }
    case "POST /v1/completions": {
      const body = parse(completionRequest, await readJson(req, state.settings.maxBodyBytes));
      const built = await p.messagesPrompt({ ...userOf(body), text: body.prompt });
      return generate(state, ready, res, built, body, "text");
    }
  }
}

function userIdOf(path: string): string {
  return decodeURIComponent(path.split("/")[3]!);
}

function userOf(body: ChatRequest | CompletionRequest) {
  return {
    ...(body.user !== undefined ? { user: body.user } : {}),
    ...(body.dep?.category !== undefined ? { category: body.dep.category } : {}),
  };
}

/** With dep.item: the DEP prompt for the user and item; without: the messages as given. */
function chatPrompt(p: Personalizer, body: ChatRequest): Promise<ServePrompt> {
  const dep = body.dep;
  if (dep?.item) {
    if (body.user === undefined)
      throw badRequest("dep.item needs the `user` it is written for", "missing_user", "user");
    return p.prompt({
      user: body.user,
      item: dep.item,
      ...(dep.category !== undefined ? { category: dep.category } : {}),
      ...(dep.rating !== undefined ? { rating: dep.rating } : {}),
      ...(dep.title !== undefined ? { title: dep.title } : {}),
      ...(dep.method !== undefined ? { method: dep.method } : {}),
    });
  }
  if (dep?.method !== undefined || dep?.rating !== undefined || dep?.title !== undefined) {
    throw badRequest("dep.method, dep.rating and dep.title need dep.item", "invalid_value", "dep.item");
  }
  if (body.messages.length === 0)
    throw badRequest("messages: give at least one message, or dep.item", "invalid_value", "messages");
  return p.messagesPrompt({ ...userOf(body), messages: body.messages });
}

function describePrompt(built: ServePrompt) {
  return {
    method: built.method,
    user: built.user,
    text: built.prompt.pieces
      .map((piece) =>
        "text" in piece ? piece.text : "softRow" in piece ? `<soft:${piece.softRow}>` : `<${piece.name}>`,
      )
      .join(""),
    prompt_positions: built.prompt.nPositions,
    soft_rows: softPositions(built),
    history: built.history,
    soft_cache_hit: built.softCacheHit,
  };
}

/** Prompt positions filled with soft rows. */
function softPositions(built: ServePrompt): number {
  return built.prompt.slotIndex.reduce((n, row) => n + (row >= 0 ? 1 : 0), 0);
}

function depHeaders(built: ServePrompt): Record<string, string> {
  return {
    "x-dep-method": built.method,
    "x-dep-prompt-positions": String(built.prompt.nPositions),
    "x-dep-soft-rows": String(softPositions(built)),
    "x-dep-history": String(built.history.length),
    ...(built.softCacheHit !== null ? { "x-dep-soft-cache": built.softCacheHit ? "hit" : "miss" } : {}),
  };
}

async function generate(
  state: ServeState,
  ready: ServeReady,
  res: ServerResponse,
  built: ServePrompt,
  body: ChatRequest | CompletionRequest,
  kind: "chat" | "text",
): Promise<void> {
  const s = state.settings;
  const positions = built.prompt.nPositions;
  const room = ready.contextSize - positions;
  if (room < 1) {
    throw badRequest(
      `the prompt has ${positions} positions but the context holds ${ready.contextSize}: shorten the messages (or restart with a larger --max-length)`,
      "context_length_exceeded",
      kind === "chat" ? "messages" : "prompt",
    );
  }
  const asked =
    ("max_completion_tokens" in body ? body.max_completion_tokens : null) ?? body.max_tokens ?? null;
  if (asked !== null && asked > room) {
    throw badRequest(
      `max_tokens is ${asked} but the ${positions}-position prompt leaves ${room} of the context's ${ready.contextSize}`,
      "context_length_exceeded",
      "max_tokens",
    );
  }
  const maxTokens = asked ?? Math.min(s.maxTokens, room);
  const controller = new AbortController();
  let clientGone = false;
  let timedOut = false;
  res.on("close", () => {
    if (!res.writableFinished) {
      clientGone = true;
      controller.abort();
    }
  });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, s.requestTimeoutMs);
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`;
  const model = body.model ?? s.modelId;
  const stream = body.stream === true;
  const chunk = (delta: { role?: string; content?: string }, finish: string | null) =>
    kind === "chat"
      ? {
          id,
          object: "chat.completion.chunk",
          created: created(),
          model,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        }
      : {
          id,
          object: "text_completion",
          created: created(),
          model,
          choices: [{ index: 0, text: delta.content ?? "", logprobs: null, finish_reason: finish }],
        };
  const send = (value: unknown) => {
    if (!clientGone) res.write(`data: ${JSON.stringify(value)}\n\n`);
  };
  let result: GenerationResult;
  try {
    const pending = ready.scheduler.submit({
      segments: built.segments,
      maxTokens,
      temperature: body.temperature ?? s.temperature,
      topP: body.top_p ?? s.topP,
      topK: Math.max(0, body.top_k ?? s.topK),
      seed: body.seed ?? s.seed,
      stop:
        body.stop === undefined || body.stop === null
          ? []
          : Array.isArray(body.stop)
            ? body.stop
            : [body.stop],
      signal: controller.signal,
      ...(stream ? { onText: (piece: string) => send(chunk({ content: piece }, null)) } : {}),
    });
    if (stream) {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        ...depHeaders(built),
      });
      send(chunk(kind === "chat" ? { role: "assistant", content: "" } : { content: "" }, null));
    }
    result = await pending;
  } finally {
    clearTimeout(timer);
  }
  if (clientGone) {
    state.metrics.cancelled.inc();
    return;
  }
  const usage = {
    prompt_tokens: positions,
    completion_tokens: result.tokens.length,
    total_tokens: positions + result.tokens.length,
  };
  state.metrics.promptPositions.inc(positions);
  state.metrics.completionTokens.inc(result.tokens.length);
  if (timedOut) {
    const err = new HttpError(
      504,
      `the request ran past ${s.requestTimeoutMs / 1000} s and was stopped`,
      "server_error",
      "timeout",
    );
    if (!stream) return sendError(res, err);
    send(err.body());
    res.end("data: [DONE]\n\n");
    return;
  }
  const finish = result.stopReason === "maxTokens" ? "length" : "stop";
  const dep = describePrompt(built);
  if (stream) {
    send({ ...chunk({}, finish), dep: { ...dep, text: undefined } });
    if (body.stream_options?.include_usage) send({ ...chunk({}, null), choices: [], usage });
    res.end("data: [DONE]\n\n");
    return;
  }
  const choice =
    kind === "chat"
      ? {
          index: 0,
          message: { role: "assistant", content: result.text },
          logprobs: null,
          finish_reason: finish,
        }
      : { index: 0, text: result.text, logprobs: null, finish_reason: finish };
  const { text: _text, ...depInfo } = dep;
  sendJson(
    res,
    200,
    {
      id,
      object: kind === "chat" ? "chat.completion" : "text_completion",
      created: created(),
      model,
      choices: [choice],
      usage,
      dep: depInfo,
    },
    depHeaders(built),
  );
}

function checkApiKey(s: ServeSettings, req: IncomingMessage): void {
  if (!s.apiKeyDigest) return;
  const header = req.headers.authorization ?? "";
  const m = /^Bearer (.+)$/.exec(header);
  // compare digests: equal lengths, so the comparison time says nothing about the key
  if (!m || !timingSafeEqual(apiKeyDigest(m[1]!), s.apiKeyDigest)) {
    throw new HttpError(
      401,
      m ? "incorrect API key" : "missing API key: send `Authorization: Bearer KEY`",
      "invalid_request_error",
      "invalid_api_key",
      null,
      { "www-authenticate": "Bearer" },
    );
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

/** The request body as JSON, at most `limit` bytes (413 beyond). */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    throw tooLarge(`the body has ${declared} bytes; the limit is ${limit}`);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > limit) {
      throw tooLarge(`the body is over the limit of ${limit} bytes`);
    }
    parts.push(part as Buffer);
  }
  const text = Buffer.concat(parts).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`, "invalid_json");
  }
}

// the rest of the body is not read: the connection closes after the answer
const tooLarge = (message: string) =>
  new HttpError(413, message, "invalid_request_error", "body_too_large", null, { connection: "close" });

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    // mid-stream: say so in the stream, then end it
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.body())}\n\ndata: [DONE]\n\n`);
    return;
  }
  sendJson(res, err.status, err.body(), err.headers);
}
