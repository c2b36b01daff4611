// Writes GGUF v3 files: metadata plus F32/F16 tensors. Atomic: written to a temp name, then renamed.
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgmlType,
  type GgufValue,
  GgufValueType,
} from "./format.js";

export interface GgufTensorInput {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: GgmlType;
  data: Float32Array;
}

/** Growable little-endian byte buffer. */
class ByteSink {
  #buf = Buffer.alloc(1 << 16);
  length = 0;

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.length + n));
    this.#buf.copy(next, 0, 0, this.length);
    this.#buf = next;
  }
  u8(v: number) {
    this.#reserve(1);
    this.length = this.#buf.writeUInt8(v, this.length);
  }
  i8(v: number) {
    this.#reserve(1);
    this.length = this.#buf.writeInt8(v, this.length);
  }
  u16(v: number) {
    this.#reserve(2);
    this.length = this.#buf.writeUInt16LE(v, this.length);
  }
  i16(v: number) {
    this.#reserve(2);
    this.length = this.#buf.writeInt16LE(v, this.length);
  }
  u32(v: number) {
    this.#reserve(4);
    this.length = this.#buf.writeUInt32LE(v, this.length);
  }
  i32(v: number) {
    this.#reserve(4);
    this.length = this.#buf.writeInt32LE(v, this.length);
  }
  f32(v: number) {
    this.#reserve(4);
    this.length = this.#buf.writeFloatLE(v, this.length);
  }
  f64(v: number) {
    this.#reserve(8);
    this.length = this.#buf.writeDoubleLE(v, this.length);
  }
  u64(v: bigint) {
    this.#reserve(8);
    this.length = this.#buf.writeBigUInt64LE(v, this.length);
  }
  i64(v: bigint) {
    this.#reserve(8);
    this.length = this.#buf.writeBigInt64LE(v, this.length);
  }
  string(s: string) {
    const bytes = Buffer.from(s, "utf8");
    this.u64(BigInt(bytes.length));
    this.#reserve(bytes.length);
    bytes.copy(this.#buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number) {
    while (this.length % alignment !== 0) this.u8(0);
  }
  bytes(): Buffer {
    return this.#buf.subarray(0, this.length);
  }
}

function writeScalar(sink: ByteSink, type: GgufValueType, v: string | number | bigint | boolean): void {
  switch (type) {
    case GgufValueType.UINT8:
      sink.u8(v as number);
      return;
    case GgufValueType.INT8:
      sink.i8(v as number);
      return;
    case GgufValueType.UINT16:
      sink.u16(v as number);
      return;
    case GgufValueType.INT16:
      sink.i16(v as number);
      return;
    case GgufValueType.UINT32:
      sink.u32(v as number);
      return;
    case GgufValueType.INT32:
      sink.i32(v as number);
      return;
    case GgufValueType.FLOAT32:
      sink.f32(v as number);
      return;
    case GgufValueType.FLOAT64:
      sink.f64(v as number);
      return;
    case GgufValueType.BOOL:
      sink.u8(v ? 1 : 0);
      return;
    case GgufValueType.STRING:
      sink.string(v as string);
      return;
    case GgufValueType.UINT64:
      sink.u64(v as bigint);
      return;
    case GgufValueType.INT64:
      sink.i64(v as bigint);
      return;
    default:
      throw new Error(`cannot write GGUF value type ${type}`);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 half bits from a float (round to nearest even), as stored by ggml's F16 and safetensors' F16. */
export function floatToHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

function tensorBytes(t: GgufTensorInput): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) {
    throw new Error(`tensor ${t.name}: dims ${t.dims.join("x")} hold ${n} values, data has ${t.data.length}`);
  }
  if (t.type === GgmlType.F32) return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeUInt16LE(floatToHalf(t.data[i]!), i * 2);
  return out;
}

/** Writes a GGUF file atomically. Metadata keys are written in insertion order. */
export function writeGguf(
  path: string,
  metadata: Map<string, GgufValue>,
  tensors: readonly GgufTensorInput[],
): void {
  const alignment = GGUF_DEFAULT_ALIGNMENT;
  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(BigInt(tensors.length));
  header.u64(BigInt(metadata.size));
  for (const [key, v] of metadata) {
    header.string(key);
    header.u32(v.type);
    if (v.type === GgufValueType.ARRAY) {
      header.u32(v.itemType);
      header.u64(BigInt(v.value.length));
      for (const item of v.value) writeScalar(header, v.itemType, item);
    } else {
      writeScalar(header, v.type, v.value);
    }
  }
  const blobs = tensors.map(tensorBytes);
  let offset = 0;
  tensors.forEach((t, i) => {
    header.string(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(BigInt(d));
    header.u32(t.type);
    header.u64(BigInt(offset));
    offset += Math.ceil(blobs[i]!.length / alignment) * alignment;
  });
  header.pad(alignment);

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, header.bytes());
    const zeros = Buffer.alloc(alignment);
    for (const blob of blobs) {
      writeSync(fd, blob);
      const pad = (alignment - (blob.length % alignment)) % alignment;
      if (pad) writeSync(fd, zeros, 0, pad);
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw err;
  }
}
