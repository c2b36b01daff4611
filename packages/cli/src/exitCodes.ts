// Exit codes per error class, documented in docs/CLI.md (generated from EXIT_MEANINGS below).
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

/** What each exit code means, for the reference (docs/CLI.md); the tests check each class. */
export const EXIT_MEANINGS: Record<keyof typeof EXIT, string> = {
  ok: "done (also --help, --version, --print-config)",
  failure: "an unexpected internal error (a bug: please report it with --verbose output)",
  usage:
    "the options ask for something impossible: a bad flag or number (its range is in the message), --out onto an input, an existing output without --force, --resume with nothing to resume",
  input:
    "the data, embeddings, checkpoint or resume state given are bad or do not fit together: named file, line or field (dangling links, FIFOs, empty or missing splits, no rows, non-finite values, a corrupt config.json)",
  model:
    "the GGUF model cannot be used: missing, corrupt, truncated, impossible hyperparameters (block_count = 0), a later split of a split model, non-finite outputs",
  runtime:
    "the work failed while running: a full disk, a native error, a training run whose loss, gradients or weights turned non-finite (stopped before saving any of it: the last good checkpoint and state are kept)",
  interrupted:
    "stopped by SIGINT (Ctrl-C); the work done is kept and a rerun continues (--resume for dep train)",
  terminated: "stopped by SIGTERM (a scheduler, kill): as for SIGINT",
};

/** The options ask for something impossible: another --out, other flags. */
const USAGE = new Set([
  "DEP_INVALID_ARGUMENT",
  "DEP_USAGE",
  "DEP_OUTPUT_EXISTS",
  "DEP_OUTPUT_ON_INPUT",
  "DEP_EMBED_MISMATCH",
  "DEP_SHARD_RESUME_MISMATCH",
]);

/** The data, embeddings or checkpoint given are bad, or do not fit together. */
const INPUT = new Set([
  "DEP_EMBEDDINGS",
  "DEP_CHECKPOINT",
  "DEP_EMBED_MISSING",
  "DEP_NO_SAMPLES",
  "DEP_NO_ROWS",
]);

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
