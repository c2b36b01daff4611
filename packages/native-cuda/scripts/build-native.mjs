#!/usr/bin/env node
// Builds the addon (and the C++ tests) with cmake-js into build/. Incremental: cmake-js reuses the
// configured build folder, so an unchanged tree recompiles nothing and llama.cpp is built only once.
//   DEP_CUDA=AUTO|ON|OFF    compile our .cu kernels (AUTO: when nvcc is found)
//   DEP_BUILD_JOBS=N        parallel compile jobs (default: the CPU count)
//   DEP_SANITIZE=1          ASan+UBSan for the C++ tests
//   ccache on PATH          used as the compiler launcher
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve("cmake-js/package.json")), "bin", "cmake-js");
const jobs = process.env.DEP_BUILD_JOBS ?? String(availableParallelism());
const cuda = process.env.DEP_CUDA ?? "AUTO";
if (!["AUTO", "ON", "OFF"].includes(cuda)) {
  console.error(`DEP_CUDA must be AUTO, ON or OFF (got ${cuda})`);
  process.exit(2);
}
const args = [
  cmakeJs,
  "build",
  "--log-level",
  "warn",
  "--parallel",
  jobs,
  `--CDDEP_CUDA=${cuda}`,
  `--CDDEP_SANITIZE=${process.env.DEP_SANITIZE === "1" ? "ON" : "OFF"}`,
];
// ccache, when installed, makes rebuilds in fresh folders (worktrees, CI caches) cheap
if (spawnSync("ccache", ["--version"], { stdio: "ignore" }).status === 0) {
  args.push("--CDCMAKE_C_COMPILER_LAUNCHER=ccache", "--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache");
}
// with ccache, hash paths relative to this package so clones in other folders share the cache
const env = { CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: "1", ...process.env };
const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env });
if (result.status !== 0) {
  console.error("native build failed; see the compiler output above");
  process.exit(result.status ?? 1);
}
if (!existsSync(join(root, "build", "Release", "dep_native.node"))) {
  console.error("native build finished but build/Release/dep_native.node is missing");
  process.exit(1);
}
