// Exit codes per error class, documented in the README's CLI reference.
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  input: 3,
  model: 4,
  runtime: 5,
  interrupted: 130,
  terminated: 143,
} as const;

/** The options ask for something impossible: another --out, other flags. */
const USAGE = new Set(["DEP_INVALID_ARGUMENT", "DEP_USAGE", "DEP_OUTPUT_EXISTS", "DEP_OUTPUT_ON_INPUT", "DEP_EMBED_MISMATCH", "DEP_SHARD_RESUME_MISMATCH"]);

/** The data, embeddings or checkpoint given are bad, or do not fit together. */
const INPUT = new Set(["DEP_EMBEDDINGS", "DEP_CHECKPOINT", "DEP_EMBED_MISSING", "DEP_NO_SAMPLES", "DEP_NO_ROWS"]);

/** Maps a DepError code to its exit code. */
export function exitCodeFor(code: string | undefined): number {
  if (!code) return EXIT.failure;
  if (code === "DEP_INTERRUPTED" || code === "DEP_ABORTED" || code === "ABORT_ERR") return EXIT.interrupted;
  if (USAGE.has(code) || code.startsWith("commander.")) return EXIT.usage;
  if (code.startsWith("DEP_INPUT") || code.startsWith("DEP_SHARD_") || INPUT.has(code)) return EXIT.input;
  if (code.startsWith("DEP_MODEL") || code.startsWith("DEP_ASSET") || code.startsWith("DEP_GGUF"))
    return EXIT.model;
  return EXIT.runtime;
}
