import { diffSidecarPath, writeDiffFile } from "@dep/core";
import { type Command, Option } from "commander";
import { dataOption, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { assertFreshOutput, assertNotOnInputs, dataInputs } from "../outputs.js";

export function registerDiff(program: Command): void {
  program
    .command("diff")
    .description(
      "difference embeddings per sample (SPEC §3): x [S,16,d] and k [S] in safetensors, plus a JSON sidecar",
    )
    .addOption(dataOption())
    .addOption(mainOption())
    .addOption(metaOption())
    .requiredOption("--embeddings <dir>", "embedding store (dep embed)")
    .addOption(new Option("--split <s>", "which split").choices(["train", "val", "test"]).default("test"))
    .requiredOption("--out <file>", "output .safetensors file")
    .addOption(
      new Option("--diff-weighting <mode>", "peer weighting")
        .choices(["reference", "softmax-norm", "uniform"])
        .default("reference"),
    )
    .option(
      "--reference-prompt-alignment",
      "label slots with the first k profile reviews (the reference quirk)",
      false,
    )
    .addOption(
      new Option("--subset <s>", "all rows, or the DEP selection (SPEC §1.7)")
        .choices(["all", "dep"])
        .default("all"),
    )
    .option("--force", "replace an existing --out", false)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep diff --data data/synth --embeddings emb/synth --split test --out diff/test.safetensors",
    )
    .action(async (o) => {
      const data = dataSource(o);
      for (const out of [o.out, diffSidecarPath(o.out)]) {
        assertNotOnInputs(out, [...dataInputs(data), o.embeddings]);
        assertFreshOutput(out, o.force, "file");
      }
      const r = await writeDiffFile({
        dataDir: data,
        embDir: o.embeddings,
        split: o.split,
        weighting: o.diffWeighting,
        referencePromptAlignment: o.referencePromptAlignment,
        subset: o.subset,
        outFile: o.out,
      });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${r.file}: ${r.samples} samples (sidecar ${r.sidecar})`);
        if (r.excluded.count > 0) {
          console.log(
            `excluded ${r.excluded.count} sample(s) with no qualifying review: ${r.excluded.ids.slice(0, 5).join(", ")}${r.excluded.count > 5 ? ", ..." : ""}`,
          );
        }
      }
    });
}
