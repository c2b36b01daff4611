import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsWriter,
  toFloat32,
  typedView,
  writeSafetensors,
} from "./safetensors.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-st-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("safetensors", () => {
  it("round-trips every dtype with metadata, in the documented byte layout", async () => {
    const p = join(dir, "a.safetensors");
    const f32 = Float32Array.from([1.5, -2, 3.25, 0]);
    await writeSafetensors(
      p,
      {
        w: { dtype: "F32", shape: [2, 2], data: f32 },
        h: { dtype: "F16", shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) },
        b: { dtype: "BF16", shape: [1], data: Uint16Array.from([0x3f80]) },
        i: { dtype: "I32", shape: [3], data: Int32Array.from([1, -2, 3]) },
        l: { dtype: "I64", shape: [1], data: BigInt64Array.from([-5n]) },
        u: { dtype: "U8", shape: [3], data: Uint8Array.from([7, 8, 9]) },
        e: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
      },
      { note: "hi" },
    );
    const raw = await readFile(p);
    const n = Number(raw.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + n).toString("utf8"));
    expect(header.__metadata__).toEqual({ note: "hi" });
    expect(header.w).toEqual({ dtype: "F32", shape: [2, 2], data_offsets: [0, 16] });
    const { metadata, tensors } = await readSafetensors(p);
    expect(metadata.note).toBe("hi");
    expect(Array.from(toFloat32(tensors.get("w")!))).toEqual([1.5, -2, 3.25, 0]);
    expect(Array.from(toFloat32(tensors.get("h")!))).toEqual([1, -2]);
    expect(Array.from(toFloat32(tensors.get("b")!))).toEqual([1]);
    expect(Array.from(typedView(tensors.get("i")!) as Int32Array)).toEqual([1, -2, 3]);
    expect((typedView(tensors.get("l")!) as BigInt64Array)[0]).toBe(-5n);
    expect(Array.from(typedView(tensors.get("u")!) as Uint8Array)).toEqual([7, 8, 9]);
    expect(tensors.get("e")!.shape).toEqual([0, 4]);
    const rows = await readSafetensors(p, { names: ["w"], rows: { start: 1, end: 2 } });
    expect(Array.from(toFloat32(rows.tensors.get("w")!))).toEqual([3.25, 0]);
  });

  it("converts half precision with round-to-nearest-even", () => {
    for (const x of [0, 1, -1, 0.5, 65504, 1e-5, -2.71, 6.1e-5]) {
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 6e-8);
      expect(Math.abs(bf16BitsToF32(f32ToBf16Bits(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8);
    }
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN)))).toBe(true);
  });

  it("streams chunks, and leaves nothing behind when aborted or incomplete", async () => {
    const p = join(dir, "s.safetensors");
    const w = await SafetensorsWriter.create(p, [{ name: "x", dtype: "F32", shape: [4] }]);
    await w.write("x", Float32Array.from([1, 2]));
    await expect(w.close()).rejects.toMatchObject({ code: "DEP_INVALID_ARGUMENT" });
    expect((await readdir(dir)).filter((f) => f.includes("s.safetensors"))).toEqual([]);
    const w2 = await SafetensorsWriter.create(p, [{ name: "x", dtype: "F32", shape: [4] }]);
    await w2.write("x", Float32Array.from([1, 2]));
    await w2.write("x", Float32Array.from([3, 4]));
    await w2.close();
    expect(Array.from(toFloat32((await readSafetensors(p)).tensors.get("x")!))).toEqual([1, 2, 3, 4]);
  });

  it("rejects truncated and corrupt files with DEP_INPUT", async () => {
    const p = join(dir, "t.safetensors");
    await writeSafetensors(p, { x: { dtype: "F32", shape: [8], data: new Float32Array(8) } });
    const raw = await readFile(p);
    await writeFile(join(dir, "trunc.safetensors"), raw.subarray(0, raw.length - 4));
    await expect(readSafetensorsHeader(join(dir, "trunc.safetensors"))).rejects.toMatchObject({
      code: "DEP_INPUT",
    });
    await writeFile(join(dir, "junk.safetensors"), Buffer.from("not a safetensors file at all"));
    await expect(readSafetensorsHeader(join(dir, "junk.safetensors"))).rejects.toMatchObject({
      code: "DEP_INPUT",
    });
  });
});
