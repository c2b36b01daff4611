// `--shard I/N | auto | auto/N`: which share of the work this process does (see core's shard/shard.ts). `auto`
// takes the index and count from a Slurm array task; `auto/N` takes the index from Slurm or a Kubernetes
// Indexed Job (JOB_COMPLETION_INDEX) and the count from the flag.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { type Shard, shardPath } from "@dep/core";
import { InvalidArgumentError, Option } from "commander";

const MAX_SHARDS = 65_536;

function count(text: string, spec: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS)
    throw new InvalidArgumentError(`shard count must be an integer from 1 to ${MAX_SHARDS}, got "${spec}"`);
  return n;
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`$${name} is "${v}", not a non-negative integer`);
  return Number(v);
}

/** The array task's 0-based position: (ID - MIN) / STEP, so `--array=1-8` and `--array=0-14:2` both work. */
function slurmIndex(env: NodeJS.ProcessEnv): number | undefined {
  const id = envInt(env, "SLURM_ARRAY_TASK_ID");
  if (id === undefined) return undefined;
  const min = envInt(env, "SLURM_ARRAY_TASK_MIN") ?? 0;
  const step = envInt(env, "SLURM_ARRAY_TASK_STEP") ?? 1;
  return Math.floor((id - min) / Math.max(1, step));
}

/** Parses a --shard value; `auto` reads the environment (Slurm array, Kubernetes Indexed Job). */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const s = spec.trim();
  let index: number | undefined;
  let n: number;
  if (s === "auto") {
    index = slurmIndex(env);
    const c = envInt(env, "SLURM_ARRAY_TASK_COUNT");
    if (index === undefined || c === undefined) {
      throw new InvalidArgumentError(
        "--shard auto needs a Slurm array task ($SLURM_ARRAY_TASK_ID and $SLURM_ARRAY_TASK_COUNT: sbatch --array=0-N); " +
          "elsewhere give --shard I/N, or --shard auto/N with $JOB_COMPLETION_INDEX (Kubernetes Indexed Job)",
      );
    }
    n = count(String(c), spec);
  } else {
    const m = /^(auto|\d+)\/(\d+)$/.exec(s);
    if (!m) throw new InvalidArgumentError(`expected I/N (0 <= I < N), auto or auto/N, got "${spec}"`);
    n = count(m[2]!, spec);
    if (m[1] === "auto") {
      index = slurmIndex(env) ?? envInt(env, "JOB_COMPLETION_INDEX");
      if (index === undefined) {
        throw new InvalidArgumentError(
          `--shard ${spec} needs $SLURM_ARRAY_TASK_ID (Slurm array) or $JOB_COMPLETION_INDEX (Kubernetes Indexed Job)`,
        );
      }
    } else index = Number(m[1]);
  }
  if (index < 0 || index >= n)
    throw new InvalidArgumentError(
      `shard index ${index} is not below the shard count ${n} (${spec}); indexes run 0..${n - 1}`,
    );
  return { index, count: n };
}

export function shardOption(): Option {
  return new Option(
    "--shard <I/N|auto>",
    "do shard I of N of the work (0-based; auto: the Slurm array task, auto/N: also $JOB_COMPLETION_INDEX); writes OUT.shard-I-of-N, combined by dep merge",
  ).argParser((v: string) => parseShard(v));
}

/** Where a command with `--out OUT` writes: OUT, or OUT.shard-I-of-N with --shard. */
export function shardedOut(out: string, shard: Shard | undefined): string {
  return shard ? shardPath(out, shard) : out;
}

/** What must match about the frozen LLM between the shards of one job (cheap: no hashing of the weights). */
export function llmIdentity(path: string, info: { arch: string; nParams: number }): Record<string, unknown> {
  return { file: basename(path), bytes: statSync(path).size, arch: info.arch, nParams: info.nParams };
}
