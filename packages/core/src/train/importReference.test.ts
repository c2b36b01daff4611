// `dep import-reference` on a synthetic checkpoint in the released model's exact layout: two bf16 shards with
// model.safetensors.index.json, HF names and [out, in] weights, added_tokens.json, the added rows at the end
// of model.embed_tokens.weight. Values are multiples of 1/8, exact in bf16, so the comparison is exact.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { f32ToBf16, readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.js";
import { loadModelCheckpoint } from "./checkpoint.js";
import { importReferenceCheckpoint, REFERENCE_ADDED_TOKENS } from "./importReference.js";

const dir = mkdtempSync(join(tmpdir(), "dep-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const d = 6;
const h = 4;
const H = 5;
const vocab = 40; // ids 20..39 are the added tokens
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => (((i * 7 + seed) % 17) - 8) / 8);
const bf16 = (shape: number[], seed: number) => ({
  dtype: "BF16" as const,
  shape,
  data: f32ToBf16(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  ),
});

describe("import-reference", () => {
  it("reads DEP's tensors and the 20 added token rows into our checkpoint, in our layout", async () => {
    const src = join(dir, "DEP-model");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(src);
    const shard1 = {
      "model.embed_tokens.weight": bf16([vocab, H], 1),
      "model.layers.0.mlp.up_proj.weight": bf16([3 * H, H], 2), // a frozen weight, never read
      "sae.encoder.0.weight": bf16([h, d], 3),
      "sae.encoder.0.bias": bf16([h], 4),
      "sae.decoder.0.weight": bf16([d, h], 5),
      "sae.decoder.0.bias": bf16([d], 6),
    };
    const shard2: Record<string, ReturnType<typeof bf16>> = {};
    let seed = 7;
    for (const k of ["his", "diff"]) {
      shard2[`align_mlp_${k}.0.weight`] = bf16([H, h], seed++);
      shard2[`align_mlp_${k}.0.bias`] = bf16([H], seed++);
      shard2[`align_mlp_${k}.2.weight`] = bf16([H, H], seed++);
      shard2[`align_mlp_${k}.2.bias`] = bf16([H], seed++);
    }
    await writeSafetensors(join(src, "model-00001-of-00002.safetensors"), shard1, { format: "pt" });
    await writeSafetensors(join(src, "model-00002-of-00002.safetensors"), shard2, { format: "pt" });
    const weightMap = {
      ...Object.fromEntries(Object.keys(shard1).map((n) => [n, "model-00001-of-00002.safetensors"])),
      ...Object.fromEntries(Object.keys(shard2).map((n) => [n, "model-00002-of-00002.safetensors"])),
    };
    writeFileSync(
      join(src, "model.safetensors.index.json"),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    // ids in a shuffled order, as a tokenizer may assign them
    const ids = REFERENCE_ADDED_TOKENS.map((_, i) => 20 + ((i * 7) % 20));
    writeFileSync(
      join(src, "added_tokens.json"),
      JSON.stringify(Object.fromEntries(REFERENCE_ADDED_TOKENS.map((t, i) => [t, ids[i]]))),
    );

    const out = join(dir, "imported");
    const r = await importReferenceCheckpoint(src, out);
    expect(r.dims).toEqual({ d, h, H });
    expect(r.addedTokenIds).toEqual(ids);
    const { config, params, markerRows } = await loadModelCheckpoint(out);
    // the 4 markers' rows (tokens 16..19 of the 20) for --markers rows
    expect(Array.from(markerRows!)).toEqual(
      ids.slice(16).flatMap((id) => Array.from(values(vocab * H, 1).subarray(id * H, (id + 1) * H))),
    );
    expect(config).toMatchObject({ d, h, H, hyperparameters: { prompt: "reference", variant: "dep" } });
    // PyTorch [out, in] -> our [in, out]: ours[i * out + o] = torch[o * in + i]
    const torchW1 = values(h * d, 3);
    for (let i = 0; i < d; i++)
      for (let o = 0; o < h; o++) expect(params.sae.W1[i * h + o]).toBe(torchW1[o * d + i]);
    expect(Array.from(params.sae.b2)).toEqual(Array.from(values(d, 6)));
    const torchA2 = values(H * H, 9);
    expect(params.his.A2[1 * H + 3]).toBe(torchA2[3 * H + 1]);
    expect(Array.from(params.diff.c2)).toEqual(Array.from(values(H, 14)));
    // the added rows, in REFERENCE_ADDED_TOKENS order
    const emb = values(vocab * H, 1);
    const rows = toFloat32(
      (await readSafetensors(join(out, "model.safetensors"), { names: ["added_token_rows"] })).tensors.get(
        "added_token_rows",
      )!,
    );
    expect(rows.length).toBe(20 * H);
    ids.forEach((id, i) => {
      expect(Array.from(rows.subarray(i * H, (i + 1) * H))).toEqual(
        Array.from(emb.subarray(id * H, (id + 1) * H)),
      );
    });
  });

  it("names what is missing", async () => {
    const empty = join(dir, "empty");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(empty);
    await expect(importReferenceCheckpoint(empty, join(dir, "x"))).rejects.toThrow(
      /model.safetensors.index.json/,
    );
  });
});
