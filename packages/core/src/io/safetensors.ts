// safetensors: an 8-byte little-endian header length N, N bytes of JSON header
// ({"__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]}}), then the raw little-endian
// tensor bytes (offsets relative to the end of the header). Used for embeddings, difference embeddings and
// checkpoints. Writes are atomic (temp + rename) and streamed, so tensors larger than one buffer are fine.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { DepError } from "@dep/native-cuda";
import { floatToHalf } from "@dep/native-cuda/gguf";
import { tempPathFor, wrapIo } from "./atomic.js";

export type Dtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "U16"
  | "U32"
  | "BOOL";

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  BOOL: 1,
};

export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array;

/** A tensor to write: `data` holds the raw elements (F16/BF16 as Uint16Array bit patterns, I64 as BigInt64Array). */
export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  data: TypedArray;
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** byte offsets relative to the start of the data section */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** absolute file offset of the data section */
  dataStart: number;
}

const ALIGN = 8;

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function checkShape(name: string, shape: readonly number[]): void {
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `safetensors: tensor ${name} has an invalid shape [${shape}]`,
      );
    }
  }
}

function buildHeader(
  specs: ReadonlyArray<{ name: string; dtype: Dtype; shape: readonly number[] }>,
  metadata: Record<string, string> | undefined,
): { bytes: Uint8Array; sizes: number[] } {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new DepError("DEP_INVALID_ARGUMENT", `safetensors: metadata value for ${k} must be a string`);
      }
    }
    obj.__metadata__ = metadata;
  }
  let offset = 0;
  const sizes: number[] = [];
  const seen = new Set<string>();
  for (const { name, dtype, shape } of specs) {
    if (name === "__metadata__" || seen.has(name)) {
      throw new DepError("DEP_INVALID_ARGUMENT", `safetensors: duplicate or reserved tensor name ${name}`);
    }
    seen.add(name);
    if (!(dtype in DTYPE_BYTES))
      throw new DepError("DEP_INVALID_ARGUMENT", `safetensors: unknown dtype ${dtype}`);
    checkShape(name, shape);
    const size = numel(shape) * DTYPE_BYTES[dtype];
    obj[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + size] };
    offset += size;
    sizes.push(size);
  }
  let json = JSON.stringify(obj);
  const raw = Buffer.from(json, "utf8");
  const pad = (ALIGN - ((8 + raw.length) % ALIGN)) % ALIGN;
  json += " ".repeat(pad);
  const headerJson = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerJson.length);
  out.writeBigUInt64LE(BigInt(headerJson.length), 0);
  headerJson.copy(out, 8);
  return { bytes: out, sizes };
}

function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Streams tensors into a safetensors file: declare every tensor up front, then `write` their data in declaration
 * order (any number of chunks per tensor); `close()` checks that every byte arrived and renames the temp file
 * into place; `abort()` removes it. Nothing appears under `path` unless `close()` succeeds.
 */
export class SafetensorsWriter {
  readonly path: string;
  #tmp: string;
  #fh: Awaited<ReturnType<typeof open>>;
  #specs: Array<{ name: string; dtype: Dtype; shape: readonly number[] }>;
  #sizes: number[];
  #current = 0;
  #writtenInCurrent = 0;
  #pos: number;

  private constructor(
    path: string,
    tmp: string,
    fh: Awaited<ReturnType<typeof open>>,
    specs: Array<{ name: string; dtype: Dtype; shape: readonly number[] }>,
    sizes: number[],
    pos: number,
  ) {
    this.path = path;
    this.#tmp = tmp;
    this.#fh = fh;
    this.#specs = specs;
    this.#sizes = sizes;
    this.#pos = pos;
  }

  static async create(
    path: string,
    specs: Array<{ name: string; dtype: Dtype; shape: readonly number[] }>,
    metadata?: Record<string, string>,
  ): Promise<SafetensorsWriter> {
    const { bytes, sizes } = buildHeader(specs, metadata);
    const tmp = tempPathFor(path);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      await mkdir(dirname(path), { recursive: true });
      fh = await open(tmp, "w");
      await fh.write(bytes, 0, bytes.length, 0);
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrapIo(err, path, "write");
    }
    const w = new SafetensorsWriter(path, tmp, fh, specs, sizes, bytes.length);
    w.#skipEmpty();
    return w;
  }

  #skipEmpty(): void {
    while (this.#current < this.#sizes.length && this.#sizes[this.#current] === 0) this.#current++;
  }

  /** Appends a chunk of the tensor `name` (must be the tensor currently being written, with its dtype's width). */
  async write(name: string, chunk: TypedArray): Promise<void> {
    const spec = this.#specs[this.#current];
    if (!spec || spec.name !== name) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `safetensors writer: expected data for ${spec?.name ?? "(no more tensors)"}, got ${name}`,
      );
    }
    const bytes = bytesOf(chunk);
    const size = this.#sizes[this.#current]!;
    if (this.#writtenInCurrent + bytes.length > size) {
      throw new DepError("DEP_INVALID_ARGUMENT", `safetensors writer: too much data for tensor ${name}`);
    }
    try {
      let off = 0;
      while (off < bytes.length) {
        const n = Math.min(bytes.length - off, 1 << 28);
        const { bytesWritten } = await this.#fh.write(bytes, off, n, this.#pos);
        off += bytesWritten;
        this.#pos += bytesWritten;
      }
    } catch (err) {
      await this.abort();
      throw wrapIo(err, this.path, "write");
    }
    this.#writtenInCurrent += bytes.length;
    if (this.#writtenInCurrent === size) {
      this.#current++;
      this.#writtenInCurrent = 0;
      this.#skipEmpty();
    }
  }

  async close(): Promise<void> {
    if (this.#current < this.#specs.length) {
      const name = this.#specs[this.#current]?.name;
      await this.abort();
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `safetensors writer: tensor ${name} was not completely written`,
      );
    }
    try {
      await this.#fh.sync();
      await this.#fh.close();
      await rename(this.#tmp, this.path);
    } catch (err) {
      await rm(this.#tmp, { force: true });
      throw wrapIo(err, this.path, "write");
    }
  }

  async abort(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
    await rm(this.#tmp, { force: true });
  }
}

/** Writes a whole safetensors file atomically. Tensor order in the file follows the object's key order. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  const specs = Object.entries(tensors).map(([name, t]) => {
    const expected = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `safetensors: tensor ${name} ${t.dtype}[${t.shape}] needs ${expected} bytes, data has ${t.data.byteLength}`,
      );
    }
    return { name, dtype: t.dtype, shape: t.shape };
  });
  const w = await SafetensorsWriter.create(path, specs, metadata);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.data.byteLength > 0) await w.write(name, t.data);
  }
  await w.close();
}

function parseHeader(path: string, json: string, fileSize: number, dataStart: number): SafetensorsHeader {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: safetensors header is not valid JSON; the file is corrupt`, {
      cause: err,
    });
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new DepError("DEP_INPUT", `${path}: safetensors header is not a JSON object`);
  }
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const dataSize = fileSize - dataStart;
  for (const [name, v] of Object.entries(obj as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t.dtype !== "string" || !(t.dtype in DTYPE_BYTES)) {
      throw new DepError("DEP_INPUT", `${path}: tensor ${name} has unsupported dtype ${String(t.dtype)}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new DepError("DEP_INPUT", `${path}: tensor ${name} has an invalid shape`);
    }
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o))) {
      throw new DepError("DEP_INPUT", `${path}: tensor ${name} has invalid data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const dtype = t.dtype as Dtype;
    const shape = t.shape as number[];
    if (end - begin !== numel(shape) * DTYPE_BYTES[dtype] || begin < 0 || end > dataSize) {
      throw new DepError(
        "DEP_INPUT",
        `${path}: tensor ${name} ${dtype}[${shape}] data_offsets [${begin}, ${end}] do not match its shape or the file size (${dataSize} data bytes); the file is truncated or corrupt`,
      );
    }
    tensors.set(name, { dtype, shape, begin, end });
  }
  // two tensors sharing bytes would alias each other's data: the file was not written by a safetensors writer
  const spans = [...tensors.entries()]
    .filter(([, t]) => t.end > t.begin)
    .sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1]!;
    const [name, t] = spans[i]!;
    if (t.begin < prev.end)
      throw new DepError(
        "DEP_INPUT",
        `${path}: tensors ${prevName} [${prev.begin}, ${prev.end}] and ${name} [${t.begin}, ${t.end}] overlap; the file is corrupt`,
      );
  }
  return { metadata, tensors, dataStart };
}

/** Reads only the header (cheap even for huge files). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw wrapIo(err, path, "open");
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw new DepError("DEP_INPUT", `${path}: too short to be a safetensors file`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n > size - 8 || n > 100_000_000) {
      throw new DepError(
        "DEP_INPUT",
        `${path}: safetensors header length ${n} is impossible; not a safetensors file`,
      );
    }
    const hb = Buffer.alloc(n);
    await fh.read(hb, 0, n, 8);
    return parseHeader(path, hb.toString("utf8"), size, 8 + n);
  } finally {
    await fh.close();
  }
}

/** A tensor as read: raw little-endian bytes plus dtype and shape. Convert with `toFloat32` / `typedView`. */
export interface TensorData {
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
}

/**
 * Reads tensors (all, or those named) fully into memory. `rows` limits a tensor's first dimension to
 * [start, end) — used to read a prefix of an embedding matrix.
 */
export async function readSafetensors(
  path: string,
  options: { names?: readonly string[]; rows?: { start: number; end: number } } = {},
): Promise<{ metadata: Record<string, string>; tensors: Map<string, TensorData> }> {
  const header = await readSafetensorsHeader(path);
  const out = new Map<string, TensorData>();
  const fh = await open(path, "r");
  try {
    const names = options.names ?? [...header.tensors.keys()];
    for (const name of names) {
      const info = header.tensors.get(name);
      if (!info) throw new DepError("DEP_INPUT", `${path}: no tensor named ${name}`);
      let { begin, end } = info;
      const shape = [...info.shape];
      if (options.rows && shape.length > 0) {
        const rowBytes = (end - begin) / Math.max(1, shape[0]!);
        const s = Math.max(0, Math.min(options.rows.start, shape[0]!));
        const e = Math.max(s, Math.min(options.rows.end, shape[0]!));
        begin = info.begin + s * rowBytes;
        end = info.begin + e * rowBytes;
        shape[0] = e - s;
      }
      const len = end - begin;
      // 8-byte aligned allocation so typed views (I64/F64) are always possible
      const buf = new Uint8Array(new ArrayBuffer(len));
      let off = 0;
      while (off < len) {
        const n = Math.min(len - off, 1 << 28);
        const { bytesRead } = await fh.read(buf, off, n, header.dataStart + begin + off);
        if (bytesRead === 0)
          throw new DepError("DEP_INPUT", `${path}: unexpected end of file in tensor ${name}`);
        off += bytesRead;
      }
      out.set(name, { dtype: info.dtype, shape, bytes: buf });
    }
  } finally {
    await fh.close();
  }
  return { metadata: header.metadata, tensors: out };
}

/** A typed view over the tensor's bytes (F16/BF16 as Uint16Array, I64 as BigInt64Array, BOOL as Uint8Array). */
export function typedView(t: TensorData): TypedArray {
  // copy to realign when the bytes do not start on a multiple of the element width
  const aligned = t.bytes.byteOffset % DTYPE_BYTES[t.dtype] === 0 ? t.bytes : new Uint8Array(t.bytes);
  const b = aligned.buffer;
  const o = aligned.byteOffset;
  const n = aligned.byteLength / DTYPE_BYTES[t.dtype];
  switch (t.dtype) {
    case "F64":
      return new Float64Array(b, o, n);
    case "F32":
      return new Float32Array(b, o, n);
    case "F16":
    case "BF16":
    case "U16":
      return new Uint16Array(b, o, n);
    case "I64":
      return new BigInt64Array(b, o, n);
    case "I32":
      return new Int32Array(b, o, n);
    case "I16":
      return new Int16Array(b, o, n);
    case "I8":
      return new Int8Array(b, o, n);
    case "U32":
      return new Uint32Array(b, o, n);
    case "U8":
    case "BOOL":
      return new Uint8Array(b, o, n);
  }
}

/** Converts a floating tensor (F32, F16, BF16, F64) to Float32Array. */
export function toFloat32(t: TensorData): Float32Array {
  const v = typedView(t);
  switch (t.dtype) {
    case "F32":
      return v as Float32Array;
    case "F64":
      return Float32Array.from(v as Float64Array);
    case "F16":
      return f16ToF32(v as Uint16Array);
    case "BF16":
      return bf16ToF32(v as Uint16Array);
    default:
      throw new DepError("DEP_INPUT", `expected a floating-point tensor, got ${t.dtype}`);
  }
}

// ---- half-precision conversions (round to nearest even) ----

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function f32ToBf16Bits(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff; // NaN stays NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0]!;
}

/** IEEE half bits of a float, round to nearest even (the GGUF writer's conversion). */
export const f32ToF16Bits: (x: number) => number = floatToHalf;

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return out;
}

export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
  return out;
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

export function f32ToBf16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToBf16Bits(src[i]!);
  return out;
}
