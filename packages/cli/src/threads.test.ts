// The default thread count from batch-environment settings, read from real files laid out as Linux has them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chooseThreads } from "./threads.js";

const dir = mkdtempSync(join(tmpdir(), "dep-threads-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function machine(name: string, files: Record<string, string>) {
  const root = join(dir, name);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return { cgroupRoot: join(root, "cgroup"), procSelfStatus: join(root, "status") };
}

describe("chooseThreads", () => {
  const box = machine("box", {
    "cgroup/cpu.max": "250000 100000\n",
    status: "Name:\tnode\nCpus_allowed_list:\t0-7,16-23\n",
  });
  it("takes DEP_THREADS, then OMP_NUM_THREADS (its outer level), then SLURM_CPUS_PER_TASK", () => {
    const env = { DEP_THREADS: "3", OMP_NUM_THREADS: "6,2", SLURM_CPUS_PER_TASK: "5" };
    expect(chooseThreads({ env, ...box })).toMatchObject({ threads: 3, reason: "DEP_THREADS=3" });
    expect(chooseThreads({ env: { ...env, DEP_THREADS: "" }, ...box })).toMatchObject({ threads: 6 });
    expect(chooseThreads({ env: { SLURM_CPUS_PER_TASK: "5" }, ...box })).toMatchObject({ threads: 5 });
  });
  it("reports settings it cannot use and goes on to the next", () => {
    const r = chooseThreads({ env: { DEP_THREADS: "lots", OMP_NUM_THREADS: "0" }, ...box });
    expect(r.ignored).toEqual([
      "DEP_THREADS=lots ignored (not a positive integer)",
      "OMP_NUM_THREADS=0 ignored (not a positive integer)",
    ]);
    expect(r.threads).toBe(3);
  });
  it("the cgroup v2 quota (rounded up) when it is below the affinity mask", () => {
    expect(chooseThreads({ env: {}, ...box })).toEqual({
      threads: 3,
      reason: "cgroup cpu.max 250000/100000 (3 CPUs)",
      ignored: [],
    });
  });
  it("the affinity mask when the quota is larger or unlimited; cgroup v1 quotas too", () => {
    const wide = machine("wide", { "cgroup/cpu.max": "max 100000\n", status: "Cpus_allowed_list:\t2-3\n" });
    expect(chooseThreads({ env: {}, ...wide })).toMatchObject({
      threads: 2,
      reason: "affinity mask (2 CPUs)",
    });
    const v1 = machine("v1", {
      "cgroup/cpu/cpu.cfs_quota_us": "100000\n",
      "cgroup/cpu/cpu.cfs_period_us": "100000\n",
      status: "Cpus_allowed_list:\t0-63\n",
    });
    expect(chooseThreads({ env: {}, ...v1 })).toMatchObject({ threads: 1 });
  });
  it("availableParallelism() when nothing else is known", () => {
    const bare = machine("bare", {});
    expect(chooseThreads({ env: {}, ...bare }).threads).toBe(availableParallelism());
  });
});
