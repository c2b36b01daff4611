import type { Command } from "commander";
import { defaultThreads, positiveInt } from "../runtime.js";
import { runCompletion } from "./complete.js";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "the main job on embedded defaults (for now: TinyLlama answers a chat question on this machine)",
    )
    .option(
      "-t, --threads <n>",
      "CPU threads (default: $DEP_THREADS or the CPU count)",
      positiveInt,
      defaultThreads(),
    )
    .option("-n, --max-tokens <n>", "tokens to generate", positiveInt, 48)
    .addHelpText("after", "\nExample:\n  $ pnpm demo")
    .action(async (opts: { threads: number; maxTokens: number }) => {
      await runCompletion({
        prompt: "In two sentences, what makes a book review helpful to other readers?",
        chat: true,
        maxTokens: opts.maxTokens,
        threads: opts.threads,
        temperature: 0,
        seed: 42,
        json: false,
      });
    });
}
