import { ensureModel, TINYLLAMA } from "@dep/core";
import { Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { decimal, positions, seed } from "../numbers.js";
import { shutdownSignal, threadsOption } from "../runtime.js";

export interface CompleteOptions {
  model?: string;
  prompt: string;
  chat: boolean;
  maxTokens: number;
  threads: number;
  temperature: number;
  seed: number;
  json: boolean;
}

/** Loads a model, streams a completion to stdout and reports speed; shared by `complete` and the demo. */
export async function runCompletion(
  opts: CompleteOptions,
): Promise<{ text: string; tokensPerSecond: number }> {
  const modelPath =
    opts.model ?? (await ensureModel(TINYLLAMA, { log: (l) => (opts.json ? undefined : console.error(l)) }));
  const llm = await Llm.load(modelPath, { threads: opts.threads, contextSize: 2048 });
  try {
    const prompt = opts.chat ? llm.applyChatTemplate([{ role: "user", content: opts.prompt }]) : opts.prompt;
    const gen = llm.generate([{ text: prompt }], {
      maxTokens: opts.maxTokens,
      temperature: opts.temperature,
      seed: opts.seed,
      signal: shutdownSignal,
    });
    if (!opts.json) for await (const piece of gen) process.stdout.write(piece);
    const result = await gen.result;
    const t = result.timings;
    if (opts.json) {
      console.log(
        JSON.stringify({
          model: modelPath,
          prompt,
          text: result.text,
          stopReason: result.stopReason,
          timings: t,
        }),
      );
    } else {
      process.stdout.write("\n");
      console.error(
        `[${result.promptPositions} prompt tokens at ${t.promptTokensPerSecond.toFixed(1)} tok/s; ` +
          `${result.tokens.length} generated at ${t.generatedTokensPerSecond.toFixed(1)} tok/s; ` +
          `${opts.threads} threads; stop: ${result.stopReason}]`,
      );
    }
    return { text: result.text, tokensPerSecond: t.generatedTokensPerSecond };
  } finally {
    await llm.dispose();
  }
}

export function registerComplete(program: Command): void {
  program
    .command("complete")
    .description("run the frozen LLM on a plain text prompt (streams the answer; greedy by default)")
    .requiredOption("-p, --prompt <text>", "the prompt")
    .option("-m, --model <gguf>", "GGUF model (default: the cached TinyLlama, assembled if missing)")
    .option("--chat", "wrap the prompt in the model's chat template as a user message", false)
    .option("-n, --max-tokens <n>", "tokens to generate", positions, 64)
    .addOption(threadsOption())
    .addOption(
      new Option("--temperature <t>", "sampling temperature; 0 = greedy")
        .default(0)
        .argParser(decimal(0, 100)),
    )
    .option("--seed <n>", "sampler seed", seed, 42)
    .option("--json", "print one JSON object instead of streaming", false)
    .addHelpText("after", '\nExample:\n  $ dep complete --chat -p "Name three fruits." -n 32 -t 2')
    .action(async (opts: CompleteOptions) => {
      await runCompletion(opts);
    });
}
