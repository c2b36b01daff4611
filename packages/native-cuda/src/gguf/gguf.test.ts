import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  f32,
  floatToHalf,
  GgmlType,
  GgufValueType,
  readGguf,
  str,
  u32,
  writeGguf,
  writeTinyModel,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "dep-gguf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("GGUF writer and reader", () => {
  it("round-trips metadata and tensor infos", () => {
    const path = join(dir, "rt.gguf");
    const md = new Map([
      ["general.architecture", str("llama")],
      ["llama.block_count", u32(3)],
      ["some.float", f32(0.5)],
      [
        "some.array",
        { type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value: ["a", "bé", ""] } as const,
      ],
    ]);
    writeGguf(path, md, [
      { name: "a", dims: [3, 2], type: GgmlType.F32, data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: "b", dims: [5], type: GgmlType.F16, data: new Float32Array(5).fill(1) },
    ]);
    const g = readGguf(path);
    expect(g.version).toBe(3);
    expect(g.metadata.get("general.architecture")?.value).toBe("llama");
    expect(g.metadata.get("llama.block_count")?.value).toBe(3);
    expect(g.metadata.get("some.float")?.value).toBe(0.5);
    expect(g.metadata.get("some.array")?.value).toEqual(["a", "bé", ""]);
    expect(g.tensors.map((t) => [t.name, t.dims, t.type, t.offset])).toEqual([
      ["a", [3, 2], 0, 0n],
      ["b", [5], 1, 32n],
    ]);
    expect(g.dataOffset % 32).toBe(0);
    expect(statSync(path).size).toBe(g.dataOffset + 32 + 32);
  });

  it("converts floats to IEEE half with round-to-nearest-even", () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(0)).toBe(0);
    expect(floatToHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie, rounds to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it("writes tiny models of both architectures with a real tokenizer", () => {
    for (const arch of ["llama", "qwen2"] as const) {
      const path = join(dir, `${arch}.gguf`);
      const hp = writeTinyModel(path, { arch, seed: 3 });
      const g = readGguf(path);
      expect(g.metadata.get("general.architecture")?.value).toBe(arch);
      expect(hp.nVocab).toBeGreaterThan(30000);
      const names = new Set(g.tensors.map((t) => t.name));
      expect(names.has("blk.1.ffn_down.weight")).toBe(true);
      expect(names.has("blk.0.attn_q.bias")).toBe(arch === "qwen2");
      expect(names.has("output.weight")).toBe(arch === "llama");
    }
  });
});
