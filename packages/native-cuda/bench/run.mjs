#!/usr/bin/env node
// `pnpm bench:kernels [-- --json --threads N --runs N --quick]`: runs the C++ bench_kernels binary of the
// cmake-js build (build/bin), built by `pnpm build`. Threads default to 2 (explicit, never guessed).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = process.env.DEP_BENCH_KERNELS ?? join(root, "build", "bin", "bench_kernels");
if (!existsSync(bin)) {
  console.error(`bench_kernels is not built (${bin}): run \`pnpm build\` first`);
  process.exit(1);
}
const args = process.argv.slice(2).filter((a) => a !== "--");
if (!args.includes("--threads")) args.push("--threads", "2");
const r = spawnSync(bin, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
