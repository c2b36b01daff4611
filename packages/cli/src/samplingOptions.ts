// The generation options shared by `dep generate` and `dep select` (SPEC §7 reference sampling defaults).
import { type Command, Option } from "commander";
import { decimal, integer, positions, positiveInt, probability, seed } from "./numbers.js";
import { threadsOption } from "./runtime.js";

export interface SamplingFlags {
  model?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  samplerOrder: "reference" | "llama.cpp";
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
    .option(
      "-n, --max-tokens <n>",
      "new tokens per review (the LLM context holds --max-length + this many)",
      positions,
      2048,
    )
    .option("--temperature <t>", "sampling temperature", decimal(0, 100), 0.8)
    .option("--top-p <p>", "nucleus sampling mass", probability, 0.95)
    .addOption(
      new Option(
        "--sampler-order <o>",
        "reference: temperature, then top-p (vLLM, as the reference samples); llama.cpp: top-p, then temperature",
      )
        .choices(["reference", "llama.cpp"])
        .default("reference"),
    )
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
    samplerOrder: o.samplerOrder,
    seed: o.seed,
    parallel: o.parallel,
    maxLength: o.maxLength,
    ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
    ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
  };
}
