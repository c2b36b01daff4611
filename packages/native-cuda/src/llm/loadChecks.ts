// Checks on Llm.load's arguments and on the model's hyperparameters before ggml sees them: ggml asserts (and
// aborts the process) on a GGUF with `block_count = 0`, and libgomp fails on 100000 threads.
import { DepError } from "../errors.js";
import type { GgufValue } from "../gguf/format.js";
import { readGguf } from "../gguf/reader.js";
import type { LlmLoadOptions } from "./types.js";

/** What ggml's thread pool and the DEP kernels accept. */
export const MAX_THREADS = 1024;
const MAX_CONTEXT = 1 << 20;

function intInRange(name: string, value: unknown, min: number, max: number, hint: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      `Llm.load: \`${name}\` must be an integer from ${min} to ${max}, got ${String(value)}${hint}`,
    );
}

export function checkLoadOptions(options: LlmLoadOptions): void {
  if (options?.threads === undefined)
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      "Llm.load: `threads` is required and must be a positive integer (use the physical core count)",
    );
  intInRange("threads", options.threads, 1, MAX_THREADS, " (use the physical core count)");
  intInRange("contextSize", options.contextSize, 1, MAX_CONTEXT, "");
  intInRange("batchSize", options.batchSize, 1, MAX_CONTEXT, "");
  intInRange("sequences", options.sequences, 1, 256, "");
  intInRange("gpuLayers", options.gpuLayers, 0, 100_000, "");
}

const numbers = (v: GgufValue | undefined): number[] | null => {
  if (!v) return null;
  if (typeof v.value === "number" || typeof v.value === "bigint") return [Number(v.value)];
  if (Array.isArray(v.value)) return (v.value as unknown[]).map(Number);
  return null;
};

/**
 * The hyperparameters llama.cpp builds its graph from must be positive. A file this reader cannot parse is
 * left to the native loader, whose message names the corruption.
 */
export function checkModelHyperparameters(path: string): void {
  let metadata: Map<string, GgufValue>;
  try {
    metadata = readGguf(path).metadata;
  } catch {
    return;
  }
  const count = Number(metadata.get("split.count")?.value ?? 1);
  const no = Number(metadata.get("split.no")?.value ?? 0);
  if (count > 1 && no !== 0)
    throw new DepError(
      "DEP_MODEL_LOAD",
      `${path} is split ${no + 1} of ${count} of a split model: pass the first split (...-00001-of-${String(count).padStart(5, "0")}.gguf), ` +
        "or merge them with `llama-gguf-split --merge FIRST.gguf merged.gguf`",
    );
  const arch = metadata.get("general.architecture")?.value;
  if (typeof arch !== "string") return;
  const required = ["block_count", "embedding_length", "attention.head_count", "context_length"];
  for (const key of required) {
    const full = `${arch}.${key}`;
    const values = numbers(metadata.get(full));
    if (values === null) continue; // llama.cpp names the missing keys it needs itself
    const bad = values.find((x) => !Number.isFinite(x) || x <= 0 || x > 2 ** 31 - 1);
    if (bad !== undefined || values.length === 0)
      throw new DepError(
        "DEP_MODEL_LOAD",
        `${path}: ${full} = ${values.length ? bad : "[]"}; a model needs a positive value there (the file is broken or not a complete model: re-download or re-convert it)`,
      );
  }
}
