// Reads GGUF metadata and tensor infos (not tensor data) from a file.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { DepError } from "../errors.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
} from "./format.js";

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the tensor-data section. */
  dataOffset: number;
}

/** Buffered little-endian reader over a file descriptor. */
class Cursor {
  #buf = Buffer.alloc(0);
  #bufStart = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly path: string,
  ) {}

  #ensure(n: number): Buffer {
    const rel = this.pos - this.#bufStart;
    if (rel >= 0 && rel + n <= this.#buf.length) return this.#buf;
    if (this.pos + n > this.size) {
      throw new DepError(
        "DEP_GGUF_CORRUPT",
        `${this.path}: unexpected end of file at byte ${this.pos} (truncated GGUF?)`,
      );
    }
    const len = Math.max(n, 1 << 20);
    const buf = Buffer.alloc(Math.min(len, this.size - this.pos));
    readSync(this.fd, buf, 0, buf.length, this.pos);
    this.#buf = buf;
    this.#bufStart = this.pos;
    return buf;
  }

  #take(n: number): [Buffer, number] {
    const buf = this.#ensure(n);
    const at = this.pos - this.#bufStart;
    this.pos += n;
    return [buf, at];
  }

  u8 = () => {
    const [b, o] = this.#take(1);
    return b.readUInt8(o);
  };
  i8 = () => {
    const [b, o] = this.#take(1);
    return b.readInt8(o);
  };
  u16 = () => {
    const [b, o] = this.#take(2);
    return b.readUInt16LE(o);
  };
  i16 = () => {
    const [b, o] = this.#take(2);
    return b.readInt16LE(o);
  };
  u32 = () => {
    const [b, o] = this.#take(4);
    return b.readUInt32LE(o);
  };
  i32 = () => {
    const [b, o] = this.#take(4);
    return b.readInt32LE(o);
  };
  f32 = () => {
    const [b, o] = this.#take(4);
    return b.readFloatLE(o);
  };
  f64 = () => {
    const [b, o] = this.#take(8);
    return b.readDoubleLE(o);
  };
  u64 = () => {
    const [b, o] = this.#take(8);
    return b.readBigUInt64LE(o);
  };
  i64 = () => {
    const [b, o] = this.#take(8);
    return b.readBigInt64LE(o);
  };
  string = () => {
    const n = Number(this.u64());
    if (n > this.size)
      throw new DepError(
        "DEP_GGUF_CORRUPT",
        `${this.path}: string length ${n} at byte ${this.pos} exceeds the file`,
      );
    const [b, o] = this.#take(n);
    return b.toString("utf8", o, o + n);
  };
}

function readScalar(c: Cursor, type: GgufValueType, path: string): string | number | bigint | boolean {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.FLOAT64:
      return c.f64();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.string();
    case GgufValueType.UINT64:
      return c.u64();
    case GgufValueType.INT64:
      return c.i64();
    default:
      throw new DepError("DEP_GGUF_CORRUPT", `${path}: unknown GGUF value type ${type} at byte ${c.pos}`);
  }
}

/** Parses the header, metadata and tensor infos of a GGUF file. */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new DepError("DEP_GGUF_OPEN", `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const c = new Cursor(fd, fstatSync(fd).size, path);
    if (c.u32() !== GGUF_MAGIC)
      throw new DepError("DEP_GGUF_CORRUPT", `${path} is not a GGUF file (bad magic)`);
    const version = c.u32();
    if (version < 2 || version > 3)
      throw new DepError("DEP_GGUF_CORRUPT", `${path}: unsupported GGUF version ${version}`);
    const nTensors = Number(c.u64());
    const nKv = Number(c.u64());
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string();
      const type = c.u32() as GgufValueType;
      if (type === GgufValueType.ARRAY) {
        const itemType = c.u32() as GgufValueType;
        const n = Number(c.u64());
        const value: Array<string | number | bigint | boolean> = new Array(n);
        for (let j = 0; j < n; j++) value[j] = readScalar(c, itemType, path);
        metadata.set(key, { type, itemType, value });
      } else {
        metadata.set(key, { type, value: readScalar(c, type, path) } as GgufValue);
      }
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.string();
      const nDims = c.u32();
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(Number(c.u64()));
      const type = c.u32();
      const offset = c.u64();
      tensors.push({ name, dims, type, offset });
    }
    const align = metadata.get("general.alignment");
    const alignment = align && typeof align.value === "number" ? align.value : GGUF_DEFAULT_ALIGNMENT;
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    return { version, metadata, tensors, dataOffset };
  } finally {
    closeSync(fd);
  }
}
