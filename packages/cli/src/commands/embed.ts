import { createEmbedder, embedDataset } from "@dep/core";
import { type Command, Option } from "commander";
import { dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { integer, positiveInt } from "../numbers.js";
import { assertFolderOutput, assertNotOnInputs, dataInputs } from "../outputs.js";
import { Progress } from "../progress.js";
import { shutdownSignal, threadsOption } from "../runtime.js";
import { shardedOut, shardOption } from "../shardOption.js";

export function registerEmbed(program: Command): void {
  program
    .command("embed")
    .description(
      "embed every review text of a dataset once (resumable store: embeddings.safetensors + keys.jsonl)",
    )
    .addOption(dataOption())
    .addOption(mainOption())
    .addOption(metaOption())
    .option(
      "--embedder <spec>",
      "use-lite | gguf:PATH (llama.cpp embedding GGUF, e.g. bge-m3) | precomputed:DIR",
      "use-lite",
    )
    .requiredOption("--out <dir>", "embedding store folder (created, or resumed when it exists)")
    .option("--batch-size <n>", "texts per embedder call", integer(1, 65_536), 32)
    .option("--items", "also embed every item's title and description (needed by pplug-style)", false)
    .option(
      "--flush-every <n>",
      "rows per part file written to the store (what a killed run keeps)",
      positiveInt,
      1024,
    )
    .addOption(
      new Option("--dtype <t>", "storage type of a new store").choices(["F32", "F16", "BF16"]).default("F32"),
    )
    .addOption(threadsOption("CPU threads for gguf embedders"))
    .addOption(shardOption())
    .option("--json", "print the result as JSON", false)
    .addHelpText("after", "\nExample:\n  $ dep embed --data data/synth --out emb/synth")
    .action(async (o) => {
      const data = dataSource(o);
      const out = shardedOut(o.out, o.shard);
      const gguf =
        typeof o.embedder === "string" && o.embedder.startsWith("gguf:") ? o.embedder.slice(5) : undefined;
      assertNotOnInputs(out, [...dataInputs(data), gguf]);
      assertFolderOutput(out);
      const embedder = await createEmbedder(o.embedder, { batchSize: o.batchSize, threads: o.threads });
      const progress = new Progress({ label: "embed", unit: "texts", quiet: o.json });
      const r = await embedDataset({
        dataDir: data,
        embedder,
        outDir: out,
        ...(o.shard ? { shard: o.shard } : {}),
        batchSize: o.batchSize,
        flushEvery: o.flushEvery,
        dtype: o.dtype,
        items: o.items,
        signal: shutdownSignal,
        onProgress: (p) => progress.update(p.done, p.total),
      }).finally(() => embedder.dispose?.());
      progress.done();
      if (o.json) console.log(JSON.stringify({ out, ...r }));
      else
        console.log(
          `${out}: ${r.texts} texts (${r.embedded} embedded now, ${r.reused} reused) in ${r.seconds.toFixed(1)} s, ${r.textsPerSecond.toFixed(1)} texts/s` +
            (r.truncated > 0 ? `; ${r.truncated} texts longer than the encoder's window were cut to it` : ""),
        );
    });
}
