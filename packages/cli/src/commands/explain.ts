import { join } from "node:path";
import { writeJsonAtomic } from "@dep/core";
import { explain } from "@dep/eval";
import { type Command, Option } from "commander";
import { threadsOption } from "../runtime.js";

export function registerExplain(program: Command): void {
  program
    .command("explain")
    .description(
      "what the SAE learned: per unit its activation rate, top-activating reviews and a word label; per user the units where they differ most from peers; trait recovery on synthetic data",
    )
    .requiredOption("--checkpoint <dir>", "a dep checkpoint folder (with an SAE)")
    .requiredOption(
      "--data <dir>",
      "dataset folder (traits.jsonl beside it turns on the trait-recovery check)",
    )
    .requiredOption("--embeddings <dir>", "the embedding store the checkpoint was trained with")
    .addOption(
      new Option("--split <s>", "which split's samples").choices(["train", "val", "test"]).default("test"),
    )
    .requiredOption("--out <dir>", "output folder: explain.json (and pass it to dep report --html --explain)")
    .option("--seed <n>", "seed of the trait-recovery halves", (v) => Number.parseInt(v, 10), 42)
    .addOption(threadsOption("CPU threads for the SAE kernel"))
    .option("--json", "print a summary as JSON", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep explain --checkpoint runs/dep/checkpoints/epoch-2 --data data --embeddings emb --out explain/\n  $ dep report --runs runs/* --out report/ --html --explain explain/",
    )
    .action(async (o) => {
      const result = await explain({
        checkpoint: o.checkpoint,
        dataDir: o.data,
        embDir: o.embeddings,
        split: o.split,
        seed: o.seed,
        kernel: { threads: o.threads, backend: "auto" },
      });
      const file = join(o.out, "explain.json");
      await writeJsonAtomic(file, result);
      const summary = {
        file,
        samples: result.samples,
        reviewRows: result.reviewRows,
        units: result.h,
        activeUnits: result.units.filter((u) => u.activationRate > 0).length,
        traits: result.traits && {
          users: result.traits.users,
          meanHeldOutAuc: result.traits.meanHeldOutAuc,
          entries: result.traits.entries.map((e) => ({
            trait: e.trait,
            rows: e.rows,
            heldOutAuc: e.heldOutAuc,
          })),
        },
      };
      if (o.json) {
        console.log(JSON.stringify(summary));
        return;
      }
      console.log(
        `${file}: ${result.h} units (${summary.activeUnits} active) over ${result.reviewRows} reviews of ${result.samples} ${result.split} samples`,
      );
      if (result.traits) {
        console.log(
          `planted traits (${result.traits.users} users), held-out AUC of the best single unit (chance 0.5):`,
        );
        for (const e of result.traits.entries)
          console.log(
            `  ${e.trait.padEnd(28)} ${e.rows.padEnd(4)} ${e.heldOutAuc.toFixed(3)}  (in-sample ${e.inSampleAuc.toFixed(3)})`,
          );
        console.log(`  mean ${result.traits.meanHeldOutAuc.toFixed(3)}`);
      }
    });
}
