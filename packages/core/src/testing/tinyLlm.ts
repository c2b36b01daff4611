// A tiny random-weight model (@dep/native-cuda's writeTinyModel) for a test file: written to a temporary
// folder and loaded before the file's tests, freed and deleted after them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Llm } from "@dep/native-cuda";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import { afterAll, beforeAll } from "vitest";

export interface TinyLlm {
  /** The loaded model (inside the file's tests). */
  readonly llm: Llm;
  /** Its GGUF file. */
  readonly path: string;
}

export function useTinyLlm(o: {
  seed: number;
  arch?: "llama" | "qwen2";
  threads?: number;
  contextSize?: number;
}): TinyLlm {
  const dir = mkdtempSync(join(tmpdir(), "dep-tiny-"));
  const path = join(dir, "tiny.gguf");
  let llm: Llm | undefined;
  beforeAll(async () => {
    writeTinyModel(path, { arch: o.arch ?? "llama", seed: o.seed });
    llm = await Llm.load(path, { threads: o.threads ?? 2, contextSize: o.contextSize ?? 128 });
  });
  afterAll(async () => {
    await llm?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get llm(): Llm {
      if (!llm) throw new Error("the tiny model is loaded in beforeAll: use it inside a test");
      return llm;
    },
    path,
  };
}
