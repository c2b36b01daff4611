import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../data/load.js";
import { synthesize } from "../data/synth/synthesize.js";
import type { Dataset } from "../data/types.js";
import { writeSafetensors } from "../io/safetensors.js";
import { datasetTexts, embedDataset } from "./embedDataset.js";
import {
  createEmbedder,
  createPrecomputedEmbedder,
  createUseLiteEmbedder,
  type Embedder,
  USE_LITE_MAX_CHARS,
} from "./embedders.js";
import { EmbeddingStore, textKey } from "./store.js";

let dir: string;
let small: Dataset;
let useLite: Embedder;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-emb-"));
  await synthesize({ users: 20, seed: 4, outDir: join(dir, "syn") });
  const ds = await loadDataset({ dir: join(dir, "syn"), splits: ["test"] });
  // one user's test row: ~20-30 distinct texts keeps the real encoder fast
  small = { ...ds, rows: ds.rows.slice(0, 1) };
  useLite = await createUseLiteEmbedder();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("use-lite", () => {
  it("embeds to 512-d unit vectors where paraphrases are closer than unrelated texts", async () => {
    const v = await useLite.embed([
      "The plot kept me guessing until the very last chapter.",
      "Right up to the final chapter, the story kept me guessing.",
      "The vinyl pressing arrived warped and the sleeve was torn.",
    ]);
    expect(v.length).toBe(3 * 512);
    const dot = (a: number, b: number) => {
      let s = 0;
      for (let j = 0; j < 512; j++) s += v[a * 512 + j]! * v[b * 512 + j]!;
      return s;
    };
    expect(Math.abs(dot(0, 0) - 1)).toBeLessThan(1e-3);
    expect(dot(0, 1)).toBeGreaterThan(dot(0, 2) + 0.2);
  });

  it("cuts texts longer than its cap (cost grows with the square of the length) and counts them", async () => {
    const long = "The plot kept me guessing until the very last chapter. ".repeat(20_000); // 1.1 MB
    const before = useLite.truncated ?? 0;
    const t0 = performance.now();
    const [a, b] = [await useLite.embed([long]), await useLite.embed([long.slice(0, USE_LITE_MAX_CHARS)])];
    expect(performance.now() - t0).toBeLessThan(120_000); // uncut: minutes, or out of memory
    expect(useLite.truncated).toBe(before + 1);
    expect(Array.from(a)).toEqual(Array.from(b));
  }, 180_000);
});

describe("embedding store", () => {
  it("embeds every text once, resumes after an interruption, and a rerun does no work", async () => {
    const out = join(dir, "store");
    const texts = datasetTexts(small);
    const ac = new AbortController();
    const first = await embedDataset({
      dataset: small,
      embedder: useLite,
      outDir: out,
      batchSize: 8,
      flushEvery: 8,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done >= 16) ac.abort();
      },
    }).catch((e) => e);
    expect(first).toMatchObject({ code: "DEP_ABORTED" });
    const partial = await EmbeddingStore.open(out);
    expect(partial.size).toBe(16);
    expect((await readdir(join(out, "parts"))).length).toBe(2);

    const second = await embedDataset({ dataset: small, embedder: useLite, outDir: out, batchSize: 8 });
    expect(second).toMatchObject({ texts: texts.length, embedded: texts.length - 16, reused: 16 });
    expect(second.textsPerSecond).toBeGreaterThan(0);
    const third = await embedDataset({ dataset: small, embedder: useLite, outDir: out });
    expect(third.embedded).toBe(0);

    const store = await EmbeddingStore.open(out);
    expect(store.size).toBe(texts.length);
    expect(store.compactedRows).toBe(texts.length);
    const keys = (await readFile(join(out, "keys.jsonl"), "utf8")).trim().split("\n");
    expect(JSON.parse(keys[0]!)).toEqual({ sha256: textKey(texts[0]!) });
    const direct = await useLite.embed([texts[5]!]);
    const stored = store.gather([textKey(texts[5]!)]);
    for (let j = 0; j < 512; j++) expect(Math.abs(stored[j]! - direct[j]!)).toBeLessThan(1e-5);

    // precomputed:DIR serves the same vectors, and names a text it does not have
    const pre = await createEmbedder(`precomputed:${out}`);
    expect(pre.dim).toBe(512);
    expect(Array.from(await pre.embed([texts[5]!]))).toEqual(Array.from(stored));
    await expect(pre.embed(["never embedded"])).rejects.toMatchObject({ code: "DEP_EMBED_MISSING" });
    // another embedder cannot write into this store
    await expect(
      EmbeddingStore.open(out, { create: { embedder: "other", dim: 512, normalized: true, dtype: "F32" } }),
    ).rejects.toMatchObject({ code: "DEP_EMBED_MISMATCH" });
  });

  it("stores F16 and BF16 and recovers the valid prefix after a crash between renames", async () => {
    for (const dtype of ["F16", "BF16"] as const) {
      const out = join(dir, `s-${dtype}`);
      const s = await EmbeddingStore.open(out, {
        create: { embedder: "t", dim: 3, normalized: false, dtype },
      });
      await s.append([textKey("a"), textKey("b")], Float32Array.from([1, 0.5, -2, 0.25, 3, 1e-3]));
      await s.compact();
      await s.append([textKey("c")], Float32Array.from([7, 8, 9]));
      const r = await EmbeddingStore.open(out);
      expect(r.size).toBe(3);
      expect(Array.from(r.gather([textKey("a"), textKey("c")]).slice(0, 3))).toEqual([1, 0.5, -2]);
      // a crash after keys.jsonl was renamed but before embeddings: keys has one more line than rows
      await writeFile(
        join(out, "keys.jsonl"),
        `${await readFile(join(out, "keys.jsonl"), "utf8")}{"sha256":"${textKey("c")}"}\n`,
      );
      const rec = await EmbeddingStore.open(out);
      expect(rec.size).toBe(3); // main prefix (2) + the part file
    }
  });

  it("rejects user stores with wrong dims, non-finite values or bad keys, naming where", async () => {
    const mk = async (name: string, shape: number[], data: Float32Array, keys: string, dim = 4) => {
      const d = join(dir, name);
      await writeSafetensors(join(d, "embeddings.safetensors"), {
        embeddings: { dtype: "F32", shape, data },
      });
      await writeFile(join(d, "keys.jsonl"), keys);
      await writeFile(join(d, "meta.json"), JSON.stringify({ embedder: "mine", dim, normalized: false }));
      return d;
    };
    const k2 = `{"sha256":"${textKey("x")}"}\n{"sha256":"${textKey("y")}"}\n`;
    const wrongDim = await mk("wd", [2, 3], new Float32Array(6), k2);
    await expect(EmbeddingStore.open(wrongDim)).rejects.toThrow(/shape \[2,3\], expected \[N, 4\]/);
    const nan = await mk("nan", [2, 4], Float32Array.from([0, 0, 0, 0, 0, Number.NaN, 0, 0]), k2);
    await expect(EmbeddingStore.open(nan)).rejects.toThrow(/row 1 .* column 1 is not finite/);
    const badKey = await mk(
      "bk",
      [2, 4],
      new Float32Array(8),
      `{"sha256":"${textKey("x")}"}\n{"sha":"zz"}\n`,
    );
    await expect(EmbeddingStore.open(badKey)).rejects.toThrow(/keys\.jsonl:2: field sha256/);
    const short = await mk("sh", [2, 4], new Float32Array(8), `{"sha256":"${textKey("x")}"}\n`);
    await expect(EmbeddingStore.open(short)).rejects.toThrow(/2 rows but keys\.jsonl has 1 lines/);
    const good = await mk("ok", [2, 4], new Float32Array(8), k2);
    const pre = await createPrecomputedEmbedder(good);
    expect(pre.id).toBe("mine");
  });

  it("gguf: embeds through llama.cpp, deterministically, and names a missing model", async () => {
    const model = join(dir, "tiny-encoder.gguf");
    writeTinyModel(model, { arch: "llama", seed: 4 });
    const e = await createEmbedder(`gguf:${model}`, { threads: 2 });
    const a = await e.embed(["a first review text", "another, different text"]);
    const b = await e.embed(["a first review text"]);
    await e.dispose?.();
    expect(e.dim).toBe(64);
    expect(a.length).toBe(2 * 64);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Array.from(b)).toEqual(Array.from(a.subarray(0, 64)));
    expect(Array.from(a.subarray(64))).not.toEqual(Array.from(a.subarray(0, 64)));
    // longer than the context (256 here): cut to it, counted, never an error
    const e2 = await createEmbedder(`gguf:${model}`, { threads: 2 });
    const long = await e2.embed(["word ".repeat(5000)]);
    await e2.dispose?.();
    expect(long.every(Number.isFinite)).toBe(true);
    expect(e2.truncated).toBe(1);
    await expect(createEmbedder("gguf:/models/bge-m3.gguf")).rejects.toMatchObject({
      code: "DEP_MODEL_LOAD",
    });
    await expect(createEmbedder("word2vec")).rejects.toMatchObject({ code: "DEP_INVALID_ARGUMENT" });
  });
});
