// The generation options shared by `dep generate` and `dep select` (SPEC §7 reference sampling defaults).
import type { Command } from "commander";
import { decimal, integer, positions, positiveInt, probability, seed } from "./numbers.js";
import { threadsOption } from "./runtime.js";

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
    .option("-n, --max-tokens <n>", "new tokens per review", positions, 2048)
    .option("--temperature <t>", "sampling temperature", decimal(0, 100), 0.8)
    .option("--top-p <p>", "nucleus sampling mass", probability, 0.95)
    .option("--seed <n>", "sampler seed", seed, 42)
    .option("--parallel <n>", "samples decoded together", integer(1, 256), 4)
    .option("--max-length <n>", "prompt budget in positions", positions, 3072)
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
