// `dep slurm`: ready sbatch scripts for the whole pipeline, one per stage, and a submit.sh that chains them
// with --dependency=afterok (a stage starts only when the one before finished cleanly):
//
//   embed (array) -> merge -> diff -> train (one GPU node) -> select (array) -> select: merge + score ->
//   generate (array, the selected checkpoint) -> merge -> eval -> report
//
// The arrays run `--shard auto`; every stage resumes when rerun or requeued (Slurm sends SIGTERM before it
// preempts: dep stops cleanly and keeps what it finished), so `#SBATCH --requeue` is safe. Threads default to
// $SLURM_CPUS_PER_TASK inside a job (see threads.ts), so no --threads is written.
import { resolve } from "node:path";

export type Stage =
  | "embed"
  | "embed-merge"
  | "diff"
  | "train"
  | "select"
  | "select-score"
  | "generate"
  | "generate-merge"
  | "eval"
  | "report";

export const STAGES: readonly Stage[] = [
  "embed",
  "embed-merge",
  "diff",
  "train",
  "select",
  "select-score",
  "generate",
  "generate-merge",
  "eval",
  "report",
];

/** Stages that run `--shard auto` as an array of `shards` tasks. */
const ARRAYS: ReadonlySet<Stage> = new Set(["embed", "select", "generate"]);

/** Time limits when --time names none (the paper's scale: ~60k reviews, 30M parameters, 4k x 3 test users). */
const DEFAULT_TIME: Record<Stage, string> = {
  embed: "4:00:00",
  "embed-merge": "0:30:00",
  diff: "1:00:00",
  train: "12:00:00",
  select: "8:00:00",
  "select-score": "1:00:00",
  generate: "12:00:00",
  "generate-merge": "0:30:00",
  eval: "2:00:00",
  report: "0:30:00",
};

export interface SlurmPipelineOptions {
  data: string;
  /** the pipeline's folder: emb/, diff.safetensors, run/, preds.jsonl, eval.json, report/, logs/ */
  work: string;
  shards: number;
  embedder: string;
  model?: string;
  /** validation samples per epoch for checkpoint selection */
  selectSamples: number;
  /** how to run dep on the nodes */
  dep: string;
  partition?: string;
  /** partition of the GPU stages (default: partition) */
  gpuPartition?: string;
  /** generic resources of the GPU stages; "none" for none */
  gres: string;
  cpusPerTask: number;
  mem?: string;
  account?: string;
  /** stage -> time limit */
  time: Partial<Record<Stage, string>>;
  /** stage -> extra dep arguments (one string, split on spaces) */
  extra: Partial<Record<Stage, string>>;
  /** shell lines run before dep in every job (module load, a virtualenv…) */
  setup: string[];
}

/** Single-quotes a word for the shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** Stages on GPU nodes: the LLM work, and embedding when the embedder is a GGUF model. */
function onGpu(stage: Stage, o: SlurmPipelineOptions): boolean {
  return (
    stage === "train" ||
    stage === "select" ||
    stage === "generate" ||
    (stage === "embed" && o.embedder.startsWith("gguf:"))
  );
}

/** The dep command line(s) a stage runs. */
function commands(stage: Stage, o: SlurmPipelineOptions, p: Paths): string[] {
  const dep = (...args: string[]) => [o.dep, ...args.map(shellQuote)].join(" ");
  const extra = (o.extra[stage] ?? "").split(/\s+/).filter(Boolean).map(shellQuote).join(" ");
  const withExtra = (line: string) => (extra ? `${line} ${extra}` : line);
  const model = o.model ? ["--model", o.model] : [];
  const data = ["--data", p.data];
  const llm = [...data, "--embeddings", p.emb, ...model];
  switch (stage) {
    case "embed":
      return [
        withExtra(
          `exec ${dep("embed", ...data, "--embedder", o.embedder, "--out", p.emb, "--shard", "auto")}`,
        ),
      ];
    case "embed-merge":
      return [withExtra(`exec ${dep("merge", "--out", p.emb, "--force")}`)];
    case "diff":
      return [withExtra(`exec ${dep("diff", ...data, "--embeddings", p.emb, "--out", p.diff, "--force")}`)];
    case "train":
      // a requeued job continues the run from its last saved state
      return [
        `resume=(); [ -e ${shellQuote(`${p.run}/state`)} ] && resume=(--resume)`,
        withExtra(`exec ${dep("train", ...llm, "--out", p.run)} "\${resume[@]}"`),
      ];
    case "select":
      return [
        withExtra(
          `exec ${dep("select", "--run", p.run, ...llm, "--max-samples", String(o.selectSamples), "--shard", "auto")}`,
        ),
      ];
    case "select-score":
      return [
        withExtra(`exec ${dep("select", "--run", p.run, ...llm, "--max-samples", String(o.selectSamples))}`),
      ];
    case "generate":
      return [
        `ckpt=$(node -p 'require(process.argv[1]).best.checkpoint' ${shellQuote(`${p.run}/selection.json`)})`,
        withExtra(
          `exec ${dep("generate", "--checkpoint")} "$ckpt" ${[...llm, "--out", p.preds, "--shard", "auto"].map(shellQuote).join(" ")}`,
        ),
      ];
    case "generate-merge":
      return [withExtra(`exec ${dep("merge", "--out", p.preds, "--force")}`)];
    case "eval":
      return [
        `${withExtra(dep("eval", "--predictions", p.preds, "--json"))} > ${shellQuote(`${p.run}/eval.json.tmp`)}`,
        `mv ${shellQuote(`${p.run}/eval.json.tmp`)} ${shellQuote(`${p.run}/eval.json`)}`,
      ];
    case "report":
      return [withExtra(`exec ${dep("report", "--runs", p.run, "--out", p.report, "--force")}`)];
  }
}

interface Paths {
  data: string;
  emb: string;
  diff: string;
  run: string;
  preds: string;
  report: string;
  logs: string;
}

function paths(o: SlurmPipelineOptions): Paths {
  const work = resolve(o.work);
  return {
    data: resolve(o.data),
    emb: `${work}/emb`,
    diff: `${work}/diff.safetensors`,
    run: `${work}/run`,
    preds: `${work}/preds.jsonl`,
    report: `${work}/report`,
    logs: `${work}/logs`,
  };
}

export function scriptName(stage: Stage): string {
  return `${String(STAGES.indexOf(stage) + 1).padStart(2, "0")}-${stage}.sbatch`;
}

function script(stage: Stage, o: SlurmPipelineOptions, p: Paths): string {
  const array = ARRAYS.has(stage);
  const gpu = onGpu(stage, o);
  const partition = gpu ? (o.gpuPartition ?? o.partition) : o.partition;
  const directives = [
    `--job-name=dep-${stage}`,
    `--output=${p.logs}/%x-${array ? "%A_%a" : "%j"}.out`,
    `--time=${o.time[stage] ?? DEFAULT_TIME[stage]}`,
    "--nodes=1",
    "--ntasks=1",
    `--cpus-per-task=${o.cpusPerTask}`,
    ...(array ? [`--array=0-${o.shards - 1}`] : []),
    ...(partition ? [`--partition=${partition}`] : []),
    ...(gpu && o.gres !== "none" ? [`--gres=${o.gres}`] : []),
    ...(o.mem ? [`--mem=${o.mem}`] : []),
    ...(o.account ? [`--account=${o.account}`] : []),
    // resumable stages go back to the queue when preempted
    ...(array || stage === "train" ? ["--requeue"] : []),
  ];
  return [
    "#!/bin/bash",
    `# dep pipeline, stage ${STAGES.indexOf(stage) + 1} of ${STAGES.length}: ${stage} (written by dep slurm; submit with submit.sh)`,
    ...directives.map((d) => `#SBATCH ${d}`),
    "set -euo pipefail",
    ...o.setup,
    ...commands(stage, o, p),
    "",
  ].join("\n");
}

/** submit.sh: every stage in order, each after the one before succeeded (afterok waits for a whole array). */
function submitScript(p: Paths): string {
  const lines = [
    "#!/bin/bash",
    "# Submits the dep pipeline: each stage waits for the previous one (--dependency=afterok).",
    "# Rerun it after a failure: every stage resumes from what is finished.",
    "set -euo pipefail",
    'here="$(cd "$(dirname "$0")" && pwd)"',
    `mkdir -p ${shellQuote(p.logs)}`,
    "prev=",
  ];
  for (const stage of STAGES) {
    lines.push(
      `prev=$(sbatch --parsable \${prev:+--dependency=afterok:\${prev%%;*}} "$here/${scriptName(stage)}")`,
      `echo "${stage}: job $prev"`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** The files of the pipeline (name -> content). */
export function slurmPipeline(o: SlurmPipelineOptions): Map<string, string> {
  const p = paths(o);
  const files = new Map<string, string>();
  for (const stage of STAGES) files.set(scriptName(stage), script(stage, o, p));
  files.set("submit.sh", submitScript(p));
  return files;
}
