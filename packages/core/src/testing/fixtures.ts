// Test fixtures: a small synthetic dataset with embeddings and a tiny random LLM, made once per test file.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Llm } from "@dep/native-cuda";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import { synthesize } from "../data/synth/synthesize.js";
import { embedDataset } from "../embed/embedDataset.js";
import type { Embedder } from "../embed/embedders.js";

/**
 * A deterministic bag-of-words embedder (hashed word counts, L2-normalised): similar texts get similar
 * vectors, which is all the trainer tests need; real runs use use-lite or a GGUF encoder.
 */
export function bagOfWordsEmbedder(dim = 32): Embedder {
  return {
    id: `test-bag-of-words-${dim}`,
    dim,
    normalized: true,
    async embed(texts) {
      const out = new Float32Array(texts.length * dim);
      texts.forEach((t, i) => {
        for (const w of t.toLowerCase().match(/[a-z]+/g) ?? []) {
          const h = createHash("md5").update(w).digest();
          out[i * dim + (h.readUInt32LE(0) % dim)]! += h[4]! & 1 ? 1 : -1;
        }
        let n = 0;
        for (let j = 0; j < dim; j++) n += out[i * dim + j]! ** 2;
        const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
        for (let j = 0; j < dim; j++) out[i * dim + j]! *= inv;
      });
      return out;
    },
  };
}

export interface TrainFixture {
  dir: string;
  dataDir: string;
  embDir: string;
  modelPath: string;
  loadLlm(): Promise<Llm>;
  cleanup(): void;
}

export async function trainFixture(users = 20, seed = 5): Promise<TrainFixture> {
  const dir = mkdtempSync(join(tmpdir(), "dep-train-"));
  const dataDir = join(dir, "data");
  const embDir = join(dir, "emb");
  const modelPath = join(dir, "tiny.gguf");
  await synthesize({ users, seed, outDir: dataDir });
  await embedDataset({ dataDir, embedder: bagOfWordsEmbedder(), outDir: embDir });
  writeTinyModel(modelPath, { arch: "llama", seed: 9, contextLength: 2048 });
  return {
    dir,
    dataDir,
    embDir,
    modelPath,
    loadLlm: async () =>
      Object.assign(await Llm.load(modelPath, { threads: 2, contextSize: 2048 }), { path: modelPath }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
