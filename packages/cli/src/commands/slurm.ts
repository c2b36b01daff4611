import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { writeDirAtomic, writeFileAtomic } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { type Command, InvalidArgumentError } from "commander";
import { integer, positiveInt } from "../numbers.js";
import { assertFreshOutput } from "../outputs.js";
import { type SlurmPipelineOptions, STAGES, type Stage, slurmPipeline } from "../slurmScripts.js";

/** `stage=value` pairs (--time, --extra) into a map, naming an unknown stage. */
function perStage(
  flag: string,
): (value: string, previous: Partial<Record<Stage, string>>) => Partial<Record<Stage, string>> {
  return (value, previous) => {
    const m = /^([a-z-]+)=(.*)$/s.exec(value);
    if (!m || !(STAGES as readonly string[]).includes(m[1]!))
      throw new InvalidArgumentError(
        `${flag} takes STAGE=VALUE with STAGE one of ${STAGES.join(", ")}; got "${value}"`,
      );
    return { ...previous, [m[1]!]: m[2]! };
  };
}

const TIME = /^(\d+-)?\d+(:\d\d){0,2}$/;

export function registerSlurm(program: Command): void {
  program
    .command("slurm")
    .description(
      "write sbatch scripts for the whole pipeline (embed, diff, train, select, generate, merge, eval, report) chained with --dependency=afterok",
    )
    .requiredOption("--data <dir>", "dataset folder (as the nodes see it)")
    .requiredOption(
      "--work <dir>",
      "the pipeline's folder on shared storage: emb/, run/, preds.jsonl, logs/…",
    )
    .requiredOption("--out <dir>", "where to write the scripts (NN-STAGE.sbatch and submit.sh)")
    .option("--shards <n>", "array tasks of the embed, select and generate stages", integer(1, 65_536), 8)
    .option("--embedder <spec>", "embedder of dep embed (gguf:PATH runs on the GPU nodes)", "use-lite")
    .option("-m, --model <gguf>", "frozen LLM GGUF (default: the cached TinyLlama on each node)")
    .option("--select-samples <n>", "validation samples generated per epoch by dep select", positiveInt, 512)
    .option("--partition <p>", "partition of every stage")
    .option(
      "--gpu-partition <p>",
      "partition of the GPU stages (train, select, generate; default --partition)",
    )
    .option("--gres <spec>", "generic resources of the GPU stages, or none", "gpu:1")
    .option("--cpus-per-task <n>", "CPUs per task (dep's threads default to it)", integer(1, 1024), 8)
    .option("--mem <size>", "memory per node (e.g. 64G)")
    .option("--account <a>", "account to charge")
    .option(
      "--time <stage=limit...>",
      "time limit per stage, e.g. train=24:00:00 (defaults for the paper's scale)",
      perStage("--time"),
      {},
    )
    .option(
      "--extra <stage=args...>",
      'extra dep options per stage, e.g. "train=--epochs 5 --variant dep"',
      perStage("--extra"),
      {},
    )
    .option(
      "--setup <line...>",
      "shell lines run before dep in every job (module load, source venv/bin/activate)",
    )
    .option("--dep <cmd>", "how the nodes run dep", "dep")
    .option("--force", "replace an existing --out folder", false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep slurm --data /shared/dpl --work /shared/dep-run --out slurm/ --partition gpu --shards 16\n  $ slurm/submit.sh",
    )
    .action(
      async (o: Omit<SlurmPipelineOptions, "setup"> & { out: string; force: boolean; setup?: string[] }) => {
        for (const [stage, limit] of Object.entries(o.time)) {
          if (!TIME.test(limit))
            throw new DepError(
              "DEP_USAGE",
              `--time ${stage}=${limit}: not a Slurm time (MM, HH:MM:SS or D-HH:MM:SS)`,
            );
        }
        assertFreshOutput(o.out, o.force, "folder");
        const files = slurmPipeline({ ...o, setup: o.setup ?? [] });
        await writeDirAtomic(
          o.out,
          async (tmp) => {
            for (const [name, text] of files) {
              await writeFileAtomic(join(tmp, name), text);
              await chmod(join(tmp, name), 0o755);
            }
          },
          { overwrite: o.force, flag: "--force" },
        );
        for (const name of files.keys()) console.log(join(o.out, name));
      },
    );
}
