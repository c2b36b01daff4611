#!/usr/bin/env node
// Builds the addon (and the C++ tests) with cmake-js into build/. Incremental: cmake-js reuses the
// configured build folder, so an unchanged tree recompiles nothing and llama.cpp is built only once.
// Prints one line per stage (configure, llama.cpp, addon) with its time; the whole compiler output goes to
// build/build.log, whose tail is shown when the build fails.
//   DEP_CUDA=AUTO|ON|OFF          compile our .cu kernels (AUTO: when nvcc is found)
//   DEP_CPU_TARGET=native|portable llama.cpp's CPU code for this machine's ISA, or x86-64-v3 (AVX2)
//   DEP_GGML_AMX=ON               compile ggml's AMX path (off: it crashes on some AMX Xeons)
//   DEP_BUILD_JOBS=N              parallel compile jobs (default: the CPU count)
//   DEP_SANITIZE=1                ASan+UBSan for the C++ tests
//   DEP_BUILD_VERBOSE=1           compiler output on the terminal too
//   ccache on PATH                used as the compiler launcher
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve("cmake-js/package.json")), "bin", "cmake-js");
const jobs = process.env.DEP_BUILD_JOBS ?? String(availableParallelism());
const choice = (name, fallback, allowed) => {
  const value = process.env[name] ?? fallback;
  if (!allowed.includes(value)) {
    console.error(`${name} must be ${allowed.join(", ")} (got ${value})`);
    process.exit(2);
  }
  return value;
};
const cuda = choice("DEP_CUDA", "AUTO", ["AUTO", "ON", "OFF"]);
const cpuTarget = choice("DEP_CPU_TARGET", "native", ["native", "portable"]);
const amx = choice("DEP_GGML_AMX", "OFF", ["ON", "OFF"]);
const options = {
  DEP_CUDA: cuda,
  DEP_CPU_TARGET: cpuTarget,
  DEP_GGML_AMX: amx,
  DEP_SANITIZE: process.env.DEP_SANITIZE === "1" ? "ON" : "OFF",
};
const args = [
  cmakeJs,
  "build",
  "--log-level",
  "warn",
  "--parallel",
  jobs,
  ...Object.entries(options).map(([name, value]) => `--CD${name}=${value}`),
];
// ccache, when installed, makes rebuilds in fresh folders (worktrees, CI caches) cheap
if (spawnSync("ccache", ["--version"], { stdio: "ignore" }).status === 0) {
  args.push("--CDCMAKE_C_COMPILER_LAUNCHER=ccache", "--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache");
}
// with ccache, hash paths relative to this package so clones in other folders share the cache
const env = { CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: "1", ...process.env };
const verbose = process.env.DEP_BUILD_VERBOSE === "1";

mkdirSync(join(root, "build"), { recursive: true });
// cmake-js configures a new build folder only: options changed since then are set on the folder's cache
const cachePath = join(root, "build", "CMakeCache.txt");
if (existsSync(cachePath)) {
  const cache = readFileSync(cachePath, "utf8");
  const changed = Object.entries(options).filter(([name, value]) => {
    const m = new RegExp(`^${name}:\\w+=(.*)$`, "m").exec(cache);
    return m !== null && m[1] !== value;
  });
  if (changed.length > 0) {
    const set = changed.map(([name, value]) => `-D${name}=${value}`);
    const r = spawnSync("cmake", [join(root, "build"), ...set], { cwd: root, env, encoding: "utf8" });
    if (r.status !== 0) {
      console.error(`${r.stdout}${r.stderr}\nnative build: cmake ${set.join(" ")} failed (exit ${r.status})`);
      process.exit(1);
    }
    console.log(`native  options    ${set.join(" ")} (changed since the build folder was configured)`);
  }
}
const logPath = join(root, "build", "build.log");
const log = createWriteStream(logPath);
const t0 = performance.now();
let stageStart = t0;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const stage = (name, detail) => {
  const now = performance.now();
  console.log(
    `native  ${name.padEnd(10)} ${seconds(now - stageStart).padStart(8)}${detail ? `  ${detail}` : ""}`,
  );
  stageStart = now;
};

// ninja "[12/255] Building CXX object llama.cpp/..." or make "[ 45%] Building ..."
const progress = /^\[\s*\d+(\/\d+|%)\]\s+(.*)$/;
let configured = false;
let llamaFiles = 0;
let llamaDone = false;
let partial = "";
const onLine = (line) => {
  const m = progress.exec(line);
  if (!m) return;
  if (!configured) {
    configured = true;
    stage("configure");
  }
  const what = m[2] ?? "";
  if (!llamaDone && /llama\.cpp|ggml/.test(what) && /Building/.test(what)) llamaFiles++;
  if (!llamaDone && /Linking CXX static library .*libllama\.a/.test(what)) {
    llamaDone = true;
    stage("llama.cpp", `${llamaFiles} files compiled`);
  }
};
const onData = (chunk) => {
  log.write(chunk);
  if (verbose) process.stdout.write(chunk);
  const lines = (partial + chunk.toString("utf8")).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) onLine(line.replace(/\r$/, ""));
};

const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
child.stdout.on("data", onData);
child.stderr.on("data", onData);
const status = await new Promise((resolve) => {
  child.on("error", (err) => {
    log.write(`\n${err.stack ?? err}\n`);
    resolve(1);
  });
  child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});
if (partial) onLine(partial);
await new Promise((resolve) => log.end(resolve));

if (status !== 0) {
  const tail = readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-40).join("\n");
  console.error(`${tail}\n\nnative build failed (exit ${status}); the full compiler log is ${logPath}`);
  process.exit(status);
}
if (!configured) stage("up to date", `compiler log ${logPath}`);
else {
  if (!llamaDone) console.log(`native  ${"llama.cpp".padEnd(10)} ${"-".padStart(8)}  up to date`);
  stage("addon", `${seconds(performance.now() - t0)} in all; compiler log ${logPath}`);
}
if (!existsSync(join(root, "build", "Release", "dep_native.node"))) {
  console.error(`native build finished but build/Release/dep_native.node is missing; see ${logPath}`);
  process.exit(1);
}
