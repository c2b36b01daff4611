import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type SlurmPipelineOptions, STAGES, scriptName, shellQuote, slurmPipeline } from "./slurmScripts.js";

const dir = mkdtempSync(join(tmpdir(), "dep-slurm-scripts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: SlurmPipelineOptions = {
  data: "/shared/dpl",
  work: "/shared/run one",
  shards: 16,
  embedder: "gguf:/models/bge-m3.gguf",
  selectSamples: 512,
  dep: "dep",
  partition: "cpu",
  gpuPartition: "gpu",
  gres: "gpu:h100:1",
  cpusPerTask: 8,
  time: { train: "24:00:00" },
  extra: { train: "--epochs 5 --variant dep" },
  setup: ["module load nodejs"],
};

describe("dep slurm scripts", () => {
  const files = slurmPipeline(base);

  it("one script per stage and a submit.sh, all valid bash", () => {
    expect([...files.keys()]).toEqual([...STAGES.map(scriptName), "submit.sh"]);
    for (const [name, text] of files) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const r = spawnSync("bash", ["-n", path], { encoding: "utf8" });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    }
  });

  it("arrays shard with --shard auto; GPU stages get the GPU partition and gres; options per stage", () => {
    const embed = files.get("01-embed.sbatch")!;
    expect(embed).toMatch(/#SBATCH --array=0-15\n/);
    expect(embed).toMatch(/#SBATCH --partition=gpu\n#SBATCH --gres=gpu:h100:1\n/); // a gguf embedder
    expect(embed).toMatch(
      /exec dep embed --data \/shared\/dpl --embedder gguf:\/models\/bge-m3.gguf --out '\/shared\/run one\/emb' --shard auto\n/,
    );
    const train = files.get("04-train.sbatch")!;
    expect(train).toMatch(/#SBATCH --time=24:00:00\n/);
    expect(train).toMatch(/#SBATCH --requeue\n/);
    expect(train).toMatch(/--out '\/shared\/run one\/run' "\$\{resume\[@\]\}" --epochs 5 --variant dep\n/);
    expect(train).toMatch(/set -euo pipefail\nmodule load nodejs\n/);
    const merge = files.get("02-embed-merge.sbatch")!;
    expect(merge).toMatch(/#SBATCH --partition=cpu\n/);
    expect(merge).not.toMatch(/--gres|--array|--requeue/);
    expect(files.get("07-generate.sbatch")).toMatch(/--checkpoint "\$ckpt" .*--shard auto\n/);
    expect(files.get("06-select-score.sbatch")).not.toMatch(/--shard/);
  });

  it("submit.sh chains every stage with afterok in order", () => {
    const submit = files.get("submit.sh")!;
    const order = [...submit.matchAll(/"\$here\/(\d\d-[a-z-]+\.sbatch)"/g)].map((m) => m[1]);
    expect(order).toEqual(STAGES.map(scriptName));
    expect(submit.match(/--dependency=afterok:/g)).toHaveLength(STAGES.length);
    // the chain as bash runs it, with a fake sbatch that prints its arguments and a job id
    const bin = join(dir, "bin");
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(
      join(bin, "sbatch"),
      '#!/bin/bash\necho "$*" >> "$LOG"\necho $((100 + $(wc -l < "$LOG")))\n',
      { mode: 0o755 },
    );
    writeFileSync(join(dir, "submit.sh"), submit.replace(/mkdir -p [^\n]+/, "true"));
    const log = join(dir, "sbatch.log");
    const r = spawnSync("bash", [join(dir, "submit.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LOG: log },
    });
    expect(r.status, r.stderr).toBe(0);
    const calls = spawnSync("cat", [log], { encoding: "utf8" }).stdout.trim().split("\n");
    expect(calls[0]).toMatch(/^--parsable \S+01-embed\.sbatch$/);
    expect(calls[1]).toMatch(/^--parsable --dependency=afterok:101 \S+02-embed-merge\.sbatch$/);
    expect(calls[9]).toMatch(/^--parsable --dependency=afterok:109 \S+10-report\.sbatch$/);
  });

  it("quotes for the shell only where needed", () => {
    expect(shellQuote("/a/b-c_d.e")).toBe("/a/b-c_d.e");
    expect(shellQuote("it's here")).toBe("'it'\\''s here'");
  });
});
