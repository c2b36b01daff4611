// Tiny generated models shared by the LLM tests (written once per test file into a temp folder).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TinyArch, writeTinyModel } from "../gguf/index.js";

export function tinyModels(): { paths: Record<TinyArch, string>; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "dep-llm-"));
  const paths = {
    llama: join(dir, "tiny-llama.gguf"),
    qwen2: join(dir, "tiny-qwen2.gguf"),
  };
  writeTinyModel(paths.llama, { arch: "llama", seed: 11 });
  writeTinyModel(paths.qwen2, { arch: "qwen2", seed: 12 });
  return { paths, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
