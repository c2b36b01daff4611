// The generation options shared by `dep generate` and `dep select` (SPEC §7 reference sampling defaults).
import type { Command } from "commander";
import { nonNegativeNumber, positiveInt, threadsOption } from "./runtime.js";

export interface SamplingFlags {
  model?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  parallel: number;
  maxLength: number;
  maxSamples?: number;
  maxDescriptionChars?: number;
  threads: number;
}

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama)")
    .option("-n, --max-tokens <n>", "new tokens per review", positiveInt, 2048)
    .option("--temperature <t>", "sampling temperature", nonNegativeNumber, 0.8)
    .option("--top-p <p>", "nucleus sampling mass", nonNegativeNumber, 0.95)
    .option("--seed <n>", "sampler seed", (v) => Number.parseInt(v, 10), 42)
    .option("--parallel <n>", "samples decoded together", positiveInt, 4)
    .option("--max-length <n>", "prompt budget in positions", positiveInt, 3072)
    .option("--max-samples <n>", "use at most N samples", positiveInt)
    .option(
      "--max-description-chars <n>",
      "cut item descriptions in prompts (as the model was trained)",
      positiveInt,
    )
    .addOption(threadsOption());
}

/** The options object generatePredictions / selectCheckpoint take from these flags. */
export function samplingOf(o: SamplingFlags) {
  return {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topP: o.topP,
    seed: o.seed,
    parallel: o.parallel,
    maxLength: o.maxLength,
    ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
    ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
  };
}
