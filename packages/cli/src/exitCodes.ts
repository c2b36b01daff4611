// Exit codes per error class, documented in the README's CLI reference.
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  input: 3,
  model: 4,
  runtime: 5,
  interrupted: 130,
} as const;

/** Maps a DepError code to its exit code. */
export function exitCodeFor(code: string | undefined): number {
  if (!code) return EXIT.failure;
  if (code === "DEP_INTERRUPTED" || code === "DEP_ABORTED" || code === "ABORT_ERR") return EXIT.interrupted;
  if (code === "DEP_INVALID_ARGUMENT" || code === "DEP_USAGE" || code.startsWith("commander."))
    return EXIT.usage;
  if (code.startsWith("DEP_INPUT") || code === "DEP_EMBEDDINGS" || code === "DEP_CHECKPOINT")
    return EXIT.input;
  if (code.startsWith("DEP_MODEL") || code.startsWith("DEP_ASSET") || code.startsWith("DEP_GGUF"))
    return EXIT.model;
  return EXIT.runtime;
}
