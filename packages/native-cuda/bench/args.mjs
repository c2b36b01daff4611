// The benchmarks' shared command line: --name value options, --flag switches, --threads, --model (TinyLlama
// from `pnpm assets` by default), --json (then progress goes nowhere and the figures are one JSON line).
import { homedir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
export const flag = (name) => args.includes(`--${name}`);
export const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
export const threads = Number(opt("threads", "2"));
export const modelPath =
  opt("model", undefined) ??
  join(
    process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"),
    "models",
    "tinyllama-1.1b-chat-iq2_xxs.gguf",
  );
export const json = flag("json");
export const log = (...a) => {
  if (!json) console.error(...a);
};
