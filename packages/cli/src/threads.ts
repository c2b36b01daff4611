// The default CPU thread count in batch environments, and why it is what it is (`dep info` prints both).
// Order: $DEP_THREADS, $OMP_NUM_THREADS, $SLURM_CPUS_PER_TASK, then the CPUs this process may really use: the
// smaller of the cgroup CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us) and the affinity mask, else
// availableParallelism(). A scheduler that grants 4 CPUs on a 128-core node gets 4 threads, not 128.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { MAX_THREADS } from "./numbers.js";

export interface ThreadChoice {
  threads: number;
  /** where the count came from, e.g. "SLURM_CPUS_PER_TASK=4" or "cgroup cpu.max 200000/100000" */
  reason: string;
  /** settings that were present but not usable (printed as warnings) */
  ignored: string[];
}

/** Where the Linux files live (tests point this at a fake /sys and /proc). */
export interface ThreadSources {
  env: NodeJS.ProcessEnv;
  cgroupRoot: string;
  procSelfStatus: string;
}

const read = (path: string): string | null => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
};

/** A thread count from an environment variable, or why it cannot be one. */
function fromEnv(name: string, raw: string | undefined): number | string | null {
  if (raw === undefined || raw.trim() === "") return null;
  // OMP_NUM_THREADS may list counts per nesting level ("8,2"): the outer one is ours
  const first = name === "OMP_NUM_THREADS" ? raw.split(",")[0]!.trim() : raw.trim();
  const n = /^\d+$/.test(first) ? Number(first) : Number.NaN;
  if (!Number.isInteger(n) || n < 1) return `${name}=${raw} ignored (not a positive integer)`;
  return Math.min(n, MAX_THREADS);
}

/** CPUs granted by the cgroup quota (rounded up), or null when unlimited or unknown. */
function cgroupQuota(root: string): { cpus: number; what: string } | null {
  const v2 = read(`${root}/cpu.max`);
  if (v2) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota && quota !== "max" && Number(period) > 0 && Number(quota) > 0)
      return {
        cpus: Math.max(1, Math.ceil(Number(quota) / Number(period))),
        what: `cgroup cpu.max ${quota}/${period}`,
      };
    return null;
  }
  const quota = Number(read(`${root}/cpu/cpu.cfs_quota_us`)?.trim());
  const period = Number(read(`${root}/cpu/cpu.cfs_period_us`)?.trim());
  if (quota > 0 && period > 0)
    return {
      cpus: Math.max(1, Math.ceil(quota / period)),
      what: `cgroup cpu.cfs_quota_us ${quota}/${period}`,
    };
  return null;
}

/** CPUs in this process's affinity mask (`Cpus_allowed_list: 0-3,8`), or null when unknown. */
function affinity(statusPath: string): number | null {
  const line = read(statusPath)
    ?.split("\n")
    .find((l) => l.startsWith("Cpus_allowed_list:"));
  if (!line) return null;
  let n = 0;
  for (const part of line
    .slice(line.indexOf(":") + 1)
    .trim()
    .split(",")) {
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || !Number.isInteger(a)) return null;
    n += b === undefined ? 1 : b - a + 1;
  }
  return n > 0 ? n : null;
}

export function chooseThreads(
  sources: ThreadSources = {
    env: process.env,
    cgroupRoot: "/sys/fs/cgroup",
    procSelfStatus: "/proc/self/status",
  },
): ThreadChoice {
  const ignored: string[] = [];
  for (const name of ["DEP_THREADS", "OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"]) {
    const v = fromEnv(name, sources.env[name]);
    if (typeof v === "number") return { threads: v, reason: `${name}=${sources.env[name]}`, ignored };
    if (typeof v === "string") ignored.push(v);
  }
  const quota = cgroupQuota(sources.cgroupRoot);
  const mask = affinity(sources.procSelfStatus);
  if (quota && (mask === null || quota.cpus <= mask))
    return {
      threads: Math.min(quota.cpus, MAX_THREADS),
      reason: `${quota.what} (${quota.cpus} CPUs)`,
      ignored,
    };
  if (mask !== null)
    return { threads: Math.min(mask, MAX_THREADS), reason: `affinity mask (${mask} CPUs)`, ignored };
  const n = availableParallelism();
  return { threads: Math.min(n, MAX_THREADS), reason: `availableParallelism() = ${n}`, ignored };
}
