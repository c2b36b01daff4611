import { mergeShards, shardsBeside } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import type { Command } from "commander";
import { assertNotOnInputs } from "../outputs.js";

export function registerMerge(program: Command): void {
  program
    .command("merge")
    .description(
      "combine the shard outputs of one --shard job (embedding stores, predictions, losses) into what an unsharded run writes",
    )
    .argument("[shards...]", "the shard outputs OUT.shard-I-of-N (default: every one beside --out)")
    .requiredOption("--out <path>", "the merged output (a store folder, or a JSONL file)")
    .option("--force", "replace an existing --out", false)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep merge --out emb/synth emb/synth.shard-0-of-2 emb/synth.shard-1-of-2\n  $ dep merge --out preds.jsonl",
    )
    .action(async (shards: string[], o: { out: string; force: boolean; json: boolean }) => {
      const inputs = shards.length > 0 ? shards : shardsBeside(o.out);
      if (inputs.length === 0)
        throw new DepError(
          "DEP_INPUT",
          `no shard outputs ${o.out}.shard-I-of-N beside --out; run with --shard first, or name them`,
        );
      assertNotOnInputs(o.out, inputs);
      const r = await mergeShards(o.out, inputs, { force: o.force });
      if (o.json) console.log(JSON.stringify(r));
      else
        console.log(
          `${r.out}: ${r.items} ${r.kind === "embeddings" ? "rows" : "lines"} (${r.kind}) from ${r.shards} shards`,
        );
    });
}
