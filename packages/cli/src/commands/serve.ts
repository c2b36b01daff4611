// `dep serve`: personalized generation over an OpenAI-compatible HTTP API that knows each user. Binds
// first (GET /health says "loading"), loads the frozen LLM, the checkpoint, the dataset and the store once,
// then prints `listening on http://HOST:PORT`. SIGINT/SIGTERM: stop taking requests, finish the running
// ones, exit 0.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import {
  assertStoreFits,
  chatTemplateChoice,
  checkpointVariant,
  createEmbedder,
  ensureModel,
  GenerationScheduler,
  loadModelCheckpoint,
  modelOfCheckpoint,
  Personalizer,
  readStoreMeta,
  recipeOf,
  TINYLLAMA,
} from "@dep/core";
import { DepError, Llm } from "@dep/native-cuda";
import type { Command } from "commander";
import { acceptOtherLlmOption, assertCheckpointRunsOn } from "../checkpointFit.js";
import { decimal, integer, nonNegativeInt, positions, positiveInt, probability, seed } from "../numbers.js";
import { endOnSignalNormally, shutdownSignal, threadsOption } from "../runtime.js";
import { apiKeyDigest, type ServeState, serveHandler } from "../serve/http.js";
import { serveMetrics } from "../serve/metrics.js";

/** The HTTP API, for --help and docs/CLI.md. */
export const SERVE_ENDPOINTS = `Endpoints (JSON; errors are {"error": {"message", "type", "param", "code"}}):
  POST /v1/chat/completions     OpenAI chat completions: stream (SSE), max_tokens, temperature, top_p,
                                top_k, seed, stop, n=1, each honoured per request within the batch;
                                \`user\` is the user id. A \`dep\` object
                                {item: {asin} | {title, description}, rating?, title?, method?, category?}
                                makes the DEP prompt for that user and item (messages are then ignored);
                                without dep.item the messages are used as given, and [[dep:his:i]] /
                                [[dep:diff:i]] in their text (i = 1..k) place the user's soft rows.
                                usage.prompt_tokens counts prompt positions (tokens + soft rows).
  POST /v1/completions          a plain prompt (same fields; [[dep:...]] marks work there too)
  POST /v1/dep/prompt           the prompt a chat request would get, without generating (debug)
  GET  /v1/models               the one model served
  POST /v1/users/{id}/reviews   add a review {asin, rating, title, text, timestamp?, category?}
  GET  /v1/users/{id}           what the server knows of a user (?category= when ambiguous)
  GET  /health                  {"status": "ready" | "loading" | "draining"} (no API key needed)
  GET  /metrics                 Prometheus text
Requests share the model by continuous batching: one that arrives while others generate takes a free
sequence slot (--parallel) at the next decode step, and a finished one frees its slot at once.
Response headers x-dep-method, x-dep-prompt-positions, x-dep-soft-rows, x-dep-history and
x-dep-soft-cache describe the prompt; 429 (with Retry-After) when the queue is full.`;

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve personalized generation over an OpenAI-compatible HTTP API that knows each user")
    .option("--checkpoint <dir>", "a checkpoint folder (without it: only no-soft, non-personalized and rag)")
    .requiredOption("--data <dir>", "dataset folder (its test rows are the users)")
    .requiredOption("--embeddings <dir>", "embedding store (dep embed); added reviews' embeddings go into it")
    .option(
      "--embedder <spec>",
      "the store's embedder, to embed added reviews (default: use-lite when the store was made with it)",
    )
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama)")
    .addOption(acceptOtherLlmOption())
    .option("--host <host>", "address to bind (loopback by default)", "127.0.0.1")
    .option("--port <n>", "port (0: any free one)", integer(0, 65535), 8080)
    .option("--parallel <n>", "requests decoded together (sequence slots)", positiveInt, 4)
    .option(
      "--no-continuous-batching",
      "requests wait for the running batch to finish instead of joining it at the next step (to compare)",
    )
    .option("--max-queue <n>", "requests waiting beyond the running ones; more get 429", nonNegativeInt, 64)
    .option("--api-key-file <file>", "require `Authorization: Bearer KEY` with the key in this file")
    .option("--max-length <n>", "prompt budget in positions", positions, 3072)
    .option("-n, --max-tokens <n>", "new tokens when a request does not say", positions, 512)
    .option("--temperature <t>", "default sampling temperature", decimal(0, 2), 0.8)
    .option("--top-p <p>", "default nucleus sampling mass", probability, 0.95)
    .option("--top-k <n>", "default top-k (0: off)", nonNegativeInt, 0)
    .option("--seed <n>", "default sampler seed", seed, 42)
    .option("--max-description-chars <n>", "cut item descriptions in prompts", positiveInt)
    .option("--rag-k <n>", "history reviews shown by the rag method", positiveInt, 4)
    .option("--reviews-file <file>", "added reviews (JSONL, replayed at start; default: DATA.reviews.jsonl)")
    .option("--max-body <bytes>", "request body limit", positiveInt, 1_048_576)
    .option("--request-timeout <s>", "stop a generation after this many seconds", positiveInt, 600)
    .addOption(threadsOption())
    .addHelpText(
      "after",
      `\n${SERVE_ENDPOINTS}

Example:
  $ dep serve --checkpoint runs/dep/checkpoints/epoch-5 --data data/ --embeddings emb/ --port 8080
  $ curl -s localhost:8080/v1/chat/completions -d '{"user": "U1", "messages": [], "dep": {"item": {"asin": "B01"}}}'`,
    )
    .action(async (o) => {
      // SIGINT / SIGTERM are how a server is stopped: it drains and exits 0
      endOnSignalNormally();
      const apiKey = o.apiKeyFile ? readApiKey(o.apiKeyFile) : null;
      const state: ServeState = {
        settings: {
          modelId: `dep/${basename(o.model ?? TINYLLAMA.fileName, ".gguf")}`,
          apiKeyDigest: apiKey ? apiKeyDigest(apiKey) : null,
          maxBodyBytes: o.maxBody,
          requestTimeoutMs: o.requestTimeout * 1000,
          maxTokens: o.maxTokens,
          temperature: o.temperature,
          topP: o.topP,
          topK: o.topK,
          seed: o.seed,
        },
        metrics: serveMetrics({
          queued: () => state.ready?.scheduler.queued ?? 0,
          running: () => state.ready?.scheduler.running ?? 0,
          cache: () => state.ready?.personalizer.cacheStats ?? { hits: 0, misses: 0 },
        }),
        ready: null,
        draining: false,
        inFlight: 0,
      };
      const server = createServer({ requestTimeout: 0 }, serveHandler(state));
      await listen(server, o.host, o.port);
      let llm: Llm | null = null;
      try {
        const ckpt = o.checkpoint ? await loadModelCheckpoint(o.checkpoint) : null;
        if (ckpt && checkpointVariant(ckpt.config) === "pplug-style") {
          throw new DepError(
            "DEP_USAGE",
            `${o.checkpoint} is a pplug-style checkpoint, which dep serve does not serve`,
          );
        }
        if (ckpt) await assertStoreFits(o.embeddings, ckpt.config, o.checkpoint);
        const embedder = await createEmbedder(o.embedder ?? (await defaultEmbedder(o.embeddings)), {
          threads: o.threads,
        });
        const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
        const contextSize = Math.min(4096, o.maxLength + o.maxTokens);
        llm = await Llm.load(modelPath, { threads: o.threads, contextSize });
        if (ckpt) await assertCheckpointRunsOn(ckpt.config, o.checkpoint, llm, modelPath, o.acceptOtherLlm);
        const model = ckpt ? modelOfCheckpoint(ckpt, { threads: o.threads, backend: "auto" }) : null;
        // prompts as the checkpoint was trained (dep generate does the same)
        const recipe = ckpt ? recipeOf(ckpt.config.hyperparameters) : null;
        const personalizer = await Personalizer.load({
          llm,
          model,
          dataDir: o.data,
          embDir: o.embeddings,
          embedder,
          maxLength: o.maxLength,
          ragK: o.ragK,
          referencePromptAlignment: (recipe?.prompt ?? "reference") === "reference",
          markers: recipe?.markers ?? "rows",
          chatTemplate: chatTemplateChoice(recipe?.chatTemplate ?? "reference"),
          ...(o.reviewsFile ? { overlayFile: o.reviewsFile } : {}),
          ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
        });
        const scheduler = new GenerationScheduler(llm, {
          parallel: o.parallel,
          maxQueue: o.maxQueue,
          continuous: o.continuousBatching,
        });
        if (!shutdownSignal.aborted) {
          state.ready = { personalizer, scheduler, contextSize };
          const { address, port } = server.address() as AddressInfo;
          const host = address.includes(":") ? `[${address}]` : address;
          console.log(`listening on http://${host}:${port}`);
          await new Promise<void>((resolve) => {
            if (shutdownSignal.aborted) resolve();
            else shutdownSignal.addEventListener("abort", () => resolve(), { once: true });
          });
        }
        state.draining = true;
        await drain(server, state);
        await scheduler.idle();
      } finally {
        state.draining = true;
        server.closeAllConnections();
        server.close();
        await llm?.dispose();
      }
    });
}

/** Stops taking connections and waits for the requests being answered. */
async function drain(server: Server, state: ServeState): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  while (state.inFlight > 0) {
    await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
  }
  server.closeAllConnections();
  await closed;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new DepError(
          "DEP_USAGE",
          err.code === "EADDRINUSE"
            ? `${host}:${port} is already in use: pick another --port (0: any free one)`
            : `cannot listen on ${host}:${port}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

function readApiKey(path: string): string {
  let key: string;
  try {
    key = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new DepError("DEP_INPUT", `--api-key-file ${path}: cannot read it (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (!key || /\s/.test(key)) {
    throw new DepError("DEP_INPUT", `--api-key-file ${path}: expected one key without spaces`);
  }
  return key;
}

async function defaultEmbedder(embDir: string): Promise<string> {
  const meta = await readStoreMeta(embDir);
  if (meta.embedder.startsWith("use-lite")) return "use-lite";
  throw new DepError(
    "DEP_USAGE",
    `${embDir} was made with ${meta.embedder}: pass --embedder (e.g. gguf:PATH) so added reviews are embedded the same way`,
  );
}
