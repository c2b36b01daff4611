import { ensureModel, readCheckpointConfig, TINYLLAMA } from "@dep/core";
import { epochCheckpoints, selectCheckpoint, selectShard } from "@dep/eval";
import { Llm } from "@dep/native-cuda";
import type { Command } from "commander";
import { acceptOtherLlmOption, assertCheckpointsRunOn } from "../checkpointFit.js";
import { dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { Progress } from "../progress.js";
import { shutdownSignal } from "../runtime.js";
import { addSamplingOptions, samplingOf } from "../samplingOptions.js";
import { llmIdentity, shardOption } from "../shardOption.js";

export function registerSelect(program: Command): void {
  const cmd = program
    .command("select")
    .description("generate for the validation split with every epoch checkpoint, score METEOR, mark the best")
    .requiredOption("--run <dir>", "training run folder (with checkpoints/epoch-N)")
    .addOption(dataOption())
    .addOption(mainOption())
    .addOption(metaOption())
    .requiredOption("--embeddings <dir>", "embedding store")
    .option("--split <s>", "split to select on", "val")
    .addOption(
      shardOption().default(
        undefined,
        "none; with I/N only generate this share for every epoch, then an unsharded dep select merges and scores",
      ),
    )
    .addOption(acceptOtherLlmOption())
    .option("--json", "print the selection as JSON", false);
  addSamplingOptions(cmd)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep select --run runs/dep --data data/ --embeddings emb/ --max-samples 64",
    )
    .action(async (o) => {
      const data = dataSource(o);
      const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
      const llm = await Llm.load(modelPath, {
        threads: o.threads,
        contextSize: o.maxLength + o.maxTokens,
      });
      try {
        // every epoch checkpoint was trained with the frozen LLM it recorded (selectCheckpoint says when
        // there are none)
        const checkpoints = epochCheckpoints(o.run).map((c) => ({
          ...c,
          config: readCheckpointConfig(c.dir),
        }));
        await assertCheckpointsRunOn(checkpoints, llm, modelPath, o.acceptOtherLlm);
        const progress = new Progress({ label: "select", unit: "samples", quiet: o.json });
        const common = {
          runDir: o.run,
          dataDir: data,
          embDir: o.embeddings,
          llm,
          kernel: { threads: o.threads, backend: "auto" as const },
          split: o.split,
          ...samplingOf(o),
          signal: shutdownSignal,
          onProgress: (p: { epoch: number; done: number; total: number }) =>
            progress.update(p.done, p.total, `epoch ${p.epoch}`),
        };
        if (o.shard) {
          const r = await selectShard({
            ...common,
            shard: o.shard,
            shardSettings: { llm: llmIdentity(modelPath, llm.info) },
          });
          progress.done();
          if (o.json) console.log(JSON.stringify(r));
          else
            for (const e of r.epochs)
              console.log(`epoch ${e.epoch}: ${e.out}: ${e.written} written, ${e.total} in this shard`);
          return;
        }
        const sel = await selectCheckpoint(common);
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
