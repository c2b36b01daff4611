#!/usr/bin/env node
// Runs the C++ tests (ctest) in the cmake-js build folder, pointing DEP_TEST_GGUF at a tiny generated model.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyModel } from "../dist/gguf/index.js";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), "dep-ctest-"));
try {
  const model = join(dir, "tiny-llama.gguf");
  writeTinyModel(model, { arch: "llama", seed: 7 });
  const r = spawnSync("ctest", ["--test-dir", join(root, "build"), "--output-on-failure"], {
    stdio: "inherit",
    env: { ...process.env, DEP_TEST_GGUF: model },
  });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
