// `dep import-reference DIR --out CKPT`: the released reference DEP model (Hugging Face layout) as our checkpoint.
import { importReferenceCheckpoint } from "@dep/core";
import type { Command } from "commander";

export function registerImportReference(program: Command): void {
  program
    .command("import-reference")
    .description(
      "turn the reference's released DEPModel (HF safetensors shards, bf16) into a dep checkpoint: SAE, projectors and the 20 added token rows, read by byte range (never the 7B weights)",
    )
    .argument(
      "<dir>",
      "the reference model's folder (model.safetensors.index.json + shards, added_tokens.json)",
    )
    .requiredOption("--out <dir>", "checkpoint folder to write (usable with dep generate --checkpoint)")
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep import-reference ./DEP-model --out runs/reference/checkpoints/released",
    )
    .action(async (dir: string, o: { out: string; json: boolean }) => {
      const r = await importReferenceCheckpoint(dir, o.out);
      if (o.json) console.log(JSON.stringify(r));
      else
        console.log(
          `${r.out}: d ${r.dims.d}, h ${r.dims.h}, H ${r.dims.H}; added token ids ${r.addedTokenIds[0]}..`,
        );
    });
}
