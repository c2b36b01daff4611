import { ensureModel, TINYLLAMA } from "@dep/core";
import { selectCheckpoint } from "@dep/eval";
import { Llm } from "@dep/native-cuda";
import type { Command } from "commander";
import { Progress } from "../progress.js";
import { defaultThreads, nonNegativeNumber, positiveInt, shutdownSignal } from "../runtime.js";

export function registerSelect(program: Command): void {
  program
    .command("select")
    .description("generate for the validation split with every epoch checkpoint, score METEOR, mark the best")
    .requiredOption("--run <dir>", "training run folder (with checkpoints/epoch-N)")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--embeddings <dir>", "embedding store")
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama)")
    .option("--split <s>", "split to select on", "val")
    .option("-n, --max-tokens <n>", "new tokens per review", positiveInt, 2048)
    .option("--temperature <t>", "sampling temperature", nonNegativeNumber, 0.8)
    .option("--top-p <p>", "nucleus sampling mass", nonNegativeNumber, 0.95)
    .option("--seed <n>", "sampler seed", (v) => Number.parseInt(v, 10), 42)
    .option("--parallel <n>", "samples decoded together", positiveInt, 4)
    .option("--max-length <n>", "prompt budget in positions", positiveInt, 3072)
    .option("--max-samples <n>", "validation samples to use", positiveInt)
    .option("-t, --threads <n>", "CPU threads", positiveInt, defaultThreads())
    .option("--json", "print the selection as JSON", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep select --run runs/dep --data data/ --embeddings emb/ --max-samples 64",
    )
    .action(async (o) => {
      const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
      const llm = await Llm.load(modelPath, {
        threads: o.threads,
        contextSize: Math.min(4096, o.maxLength + o.maxTokens),
      });
      try {
        const progress = new Progress({ label: "select", unit: "samples", quiet: o.json });
        const sel = await selectCheckpoint({
          runDir: o.run,
          dataDir: o.data,
          embDir: o.embeddings,
          llm,
          kernel: { threads: o.threads, backend: "auto" },
          split: o.split,
          maxTokens: o.maxTokens,
          temperature: o.temperature,
          topP: o.topP,
          seed: o.seed,
          parallel: o.parallel,
          maxLength: o.maxLength,
          ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}),
          signal: shutdownSignal,
          onProgress: (p) => progress.update(p.done, p.total, `epoch ${p.epoch}`),
        });
        progress.done();
        if (o.json) console.log(JSON.stringify(sel));
        else {
          for (const e of sel.epochs)
            console.log(
              `epoch ${e.epoch}: METEOR ${e.meteor.toFixed(4)} (n=${e.n})${e.epoch === sel.best.epoch ? "  <- best" : ""}`,
            );
          console.log(`best: ${sel.best.checkpoint}`);
        }
      } finally {
        await llm.dispose();
      }
    });
}
