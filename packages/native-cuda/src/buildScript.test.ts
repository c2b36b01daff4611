// scripts/build-native.mjs on small real CMake projects: one line per stage, compiler output only in the
// log, and on failure the log's tail (with the compiler's error) and its path.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A package folder with the real build script, this package's node_modules, and `source` as its addon. */
function project(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dep-build-"));
  dirs.push(dir);
  mkdirSync(join(dir, "scripts"));
  copyFileSync(join(packageRoot, "scripts", "build-native.mjs"), join(dir, "scripts", "build-native.mjs"));
  symlinkSync(join(packageRoot, "node_modules"), join(dir, "node_modules"));
  // as this package: a Node-API build, so cmake-js takes node-api-headers (npm) and downloads nothing
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "probe", binary: { napi_versions: [8] } }));
  writeFileSync(
    join(dir, "CMakeLists.txt"),
    [
      "cmake_minimum_required(VERSION 3.18)",
      "project(probe LANGUAGES CXX)",
      "add_library(dep_native SHARED addon.cpp)",
      'set_target_properties(dep_native PROPERTIES PREFIX "" SUFFIX ".node")',
      "target_compile_options(dep_native PRIVATE -Wall -Wextra)",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "addon.cpp"), source);
  return dir;
}

function build(dir: string) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEP_BUILD_JOBS: "1",
    DEP_CUDA: "OFF",
    CCACHE_DISABLE: "1",
  };
  delete env.DEP_BUILD_VERBOSE;
  return spawnSync(process.execPath, [join(dir, "scripts", "build-native.mjs")], { encoding: "utf8", env });
}

describe("build-native.mjs", () => {
  it("prints one line per stage and keeps the compiler's warnings in the log", () => {
    const dir = project("int answer(int unused_argument) { int unused_local; return 42; }\n");
    const r = build(dir);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "native configure",
      "native llama.cpp",
      "native addon",
    ]);
    expect(lines[0]).toMatch(/\d+\.\d s$/);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/warning/i);
    const log = join(dir, "build", "build.log");
    expect(lines[2]).toContain(log);
    expect(readFileSync(log, "utf8")).toMatch(/unused/);
    expect(existsSync(join(dir, "build", "Release", "dep_native.node"))).toBe(true);
    // nothing changed: one line
    const again = build(dir);
    expect(again.status).toBe(0);
    expect(again.stdout.trim().split("\n")).toHaveLength(1);
    expect(again.stdout).toMatch(/^native\s+up to date/);
  });

  it("fails with the compiler's error from the log's tail and the log's path", () => {
    const dir = project("int broken( { return 1; }\n");
    const r = build(dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/addon\.cpp.*error/);
    expect(r.stderr).toContain(
      `native build failed (exit ${r.status}); the full compiler log is ${join(dir, "build", "build.log")}`,
    );
  });

  it("refuses a bad DEP_CPU_TARGET before building anything", () => {
    const dir = project("int ok() { return 1; }\n");
    const r = spawnSync(process.execPath, [join(dir, "scripts", "build-native.mjs")], {
      encoding: "utf8",
      env: { ...process.env, DEP_CPU_TARGET: "pentium" },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DEP_CPU_TARGET must be native, portable (got pentium)");
    expect(existsSync(join(dir, "build", "CMakeCache.txt"))).toBe(false);
  });
});
