// The embedding store: one folder, documented so users can bring embeddings computed elsewhere.
//
//   EMBDIR/embeddings.safetensors   one tensor `embeddings` [N, d], F32, F16 or BF16
//   EMBDIR/keys.jsonl               line i: {"sha256": "<hex sha256 of the UTF-8 review text>"} for row i
//   EMBDIR/meta.json                {"format": "dep-embeddings", "version": 1, "embedder": id, "dim": d,
//                                    "normalized": bool, "dtype": "F32", "rows": N}
//   EMBDIR/parts/part-NNNNNN.safetensors   rows appended since the last compaction (same tensor, keys in the
//                                    header metadata `keys` as a JSON array); folded in by `compact()`
//
// Appendable and resumable: new rows go to part files, each written atomically, so an interrupted run keeps every
// finished part and a rerun skips texts already present. `compact()` rewrites the three main files (each by temp +
// rename) and then removes the parts. The main files only ever grow by appending, so if a crash lands between the
// renames the shorter of embeddings/keys is a valid prefix: the store uses min(rows, keys) rows when that equals
// meta.json's `rows` (the parts still hold the rest), and refuses anything else as inconsistent.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { AtomicLineWriter, writeJsonAtomic } from "../io/atomic.js";
import {
  type Dtype,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsWriter,
  type TensorData,
  type TensorInfo,
  toFloat32,
  writeSafetensors,
} from "../io/safetensors.js";

export type EmbeddingDtype = "F32" | "F16" | "BF16";

export interface StoreMeta {
  format: "dep-embeddings";
  version: 1;
  embedder: string;
  dim: number;
  normalized: boolean;
  dtype: EmbeddingDtype;
  rows: number;
}

/** sha256 hex of the UTF-8 text: the key of a review text in every store. */
export function textKey(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

const HEX64 = /^[0-9a-f]{64}$/;

function encode(v: Float32Array, dtype: EmbeddingDtype): Float32Array | Uint16Array {
  return dtype === "F32" ? v : dtype === "F16" ? f32ToF16(v) : f32ToBf16(v);
}

/** Index of the first NaN or infinity, or -1 (x - x is 0 exactly for finite x). */
function firstNonFinite(a: Float32Array): number {
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const v = a[i] as number;
    if (v - v !== 0) return i;
  }
  return -1;
}

function missingMeta(metaPath: string): DepError {
  return new DepError(
    "DEP_INPUT",
    `${metaPath}: missing. An embedding store needs meta.json ({"embedder", "dim", "normalized"}) beside ` +
      "embeddings.safetensors and keys.jsonl; create it, or run `dep embed` to build the store",
  );
}

/** Parses meta.json and checks the fields every reader relies on; fills the optional ones. */
function parseMeta(metaPath: string, text: string): StoreMeta {
  let meta: StoreMeta;
  try {
    meta = JSON.parse(text) as StoreMeta;
  } catch (err) {
    throw new DepError("DEP_INPUT", `${metaPath}: not valid JSON (${(err as Error).message})`);
  }
  if (!Number.isInteger(meta.dim) || meta.dim <= 0 || typeof meta.embedder !== "string") {
    throw new DepError("DEP_INPUT", `${metaPath}: needs a string "embedder" and a positive integer "dim"`);
  }
  meta.dtype ??= "F32";
  meta.rows ??= -1;
  meta.normalized ??= false;
  return meta;
}

/** The header of the main embeddings file, checked against meta.json; null when the store has none yet. */
async function mainHeader(embPath: string, meta: StoreMeta): Promise<TensorInfo | null> {
  if (!(await stat(embPath).catch(() => null))) return null;
  const header = await readSafetensorsHeader(embPath);
  const info = header.tensors.get("embeddings");
  if (!info) throw new DepError("DEP_INPUT", `${embPath}: no tensor named "embeddings"`);
  if (info.shape.length !== 2 || info.shape[1] !== meta.dim) {
    throw new DepError(
      "DEP_INPUT",
      `${embPath}: tensor embeddings has shape [${info.shape}], expected [N, ${meta.dim}] (meta.json dim); ` +
        "fix meta.json or re-embed",
    );
  }
  if (!["F32", "F16", "BF16"].includes(info.dtype)) {
    throw new DepError("DEP_INPUT", `${embPath}: embeddings must be F32, F16 or BF16, not ${info.dtype}`);
  }
  return info;
}

/** A store's meta.json, checked against its embeddings file's header; cheap (reads no rows). */
export async function readStoreMeta(dir: string): Promise<StoreMeta> {
  const metaPath = join(dir, "meta.json");
  const text = await readFile(metaPath, "utf8").catch(() => null);
  if (text === null) throw missingMeta(metaPath);
  const meta = parseMeta(metaPath, text);
  await mainHeader(join(dir, "embeddings.safetensors"), meta);
  return meta;
}

export class EmbeddingStore {
  readonly dir: string;
  readonly meta: StoreMeta;
  #index = new Map<string, number>();
  #keys: string[] = [];
  /** rows in order: chunks of F32 data (decoded), concatenated lazily */
  #chunks: Float32Array[] = [];
  #mainRows = 0;
  #parts: string[] = [];
  #nextPart = 1;

  private constructor(dir: string, meta: StoreMeta) {
    this.dir = dir;
    this.meta = meta;
  }

  get size(): number {
    return this.#keys.length;
  }

  get dim(): number {
    return this.meta.dim;
  }

  has(key: string): boolean {
    return this.#index.has(key);
  }

  /** Row of a text key, or undefined. */
  rowOf(key: string): number | undefined {
    return this.#index.get(key);
  }

  /**
   * Opens a store. With `create`, a missing store is created empty (and an existing one must match its embedder
   * and dim); without it, the folder must hold a valid store. Every row is checked: finite values, right dim.
   */
  static async open(
    dir: string,
    options: { create?: Omit<StoreMeta, "format" | "version" | "rows"> } = {},
  ): Promise<EmbeddingStore> {
    const metaPath = join(dir, "meta.json");
    const metaText = await readFile(metaPath, "utf8").catch(() => null);
    let meta: StoreMeta;
    if (metaText === null) {
      const hasMain = await stat(join(dir, "embeddings.safetensors")).catch(() => null);
      if (!options.create || hasMain) throw missingMeta(metaPath);
      meta = { format: "dep-embeddings", version: 1, rows: 0, ...options.create };
      await mkdir(dir, { recursive: true });
      await writeJsonAtomic(metaPath, meta);
    } else {
      meta = parseMeta(metaPath, metaText);
      if (options.create && (options.create.embedder !== meta.embedder || options.create.dim !== meta.dim)) {
        throw new DepError(
          "DEP_EMBED_MISMATCH",
          `${dir} holds embeddings from ${meta.embedder} (dim ${meta.dim}), not ${options.create.embedder} ` +
            `(dim ${options.create.dim}); use another --out folder or the same embedder`,
        );
      }
    }
    const store = new EmbeddingStore(dir, meta);
    await store.#load();
    return store;
  }

  async #load(): Promise<void> {
    const { dir, meta } = this;
    const embPath = join(dir, "embeddings.safetensors");
    const keysPath = join(dir, "keys.jsonl");
    const info = await mainHeader(embPath, meta);
    if (info) {
      const keysText = await readFile(keysPath, "utf8").catch(() => {
        throw new DepError(
          "DEP_INPUT",
          `${keysPath}: missing; every store needs keys.jsonl beside the embeddings`,
        );
      });
      const lines = keysText.split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      const rowsE = info.shape[0]!;
      const n = Math.min(rowsE, lines.length);
      if (rowsE !== lines.length && n !== meta.rows) {
        throw new DepError(
          "DEP_INPUT",
          `${dir}: embeddings.safetensors has ${rowsE} rows but keys.jsonl has ${lines.length} lines; they must match`,
        );
      }
      const keys: string[] = [];
      for (let i = 0; i < n; i++) {
        let k: unknown;
        try {
          k = (JSON.parse(lines[i]!) as { sha256?: unknown }).sha256;
        } catch {
          k = undefined;
        }
        if (typeof k !== "string" || !HEX64.test(k)) {
          throw new DepError(
            "DEP_INPUT",
            `${keysPath}:${i + 1}: field sha256: expected {"sha256": "<64 lowercase hex digits>"}`,
          );
        }
        keys.push(k);
      }
      const { tensors } = await readSafetensors(embPath, {
        names: ["embeddings"],
        rows: { start: 0, end: n },
      });
      this.#addRows(keys, toFloat32(tensors.get("embeddings")!), embPath);
      this.#mainRows = n;
    }
    const partsDir = join(dir, "parts");
    const parts = (await readdir(partsDir).catch(() => [] as string[]))
      .filter((f) => /^part-\d{6}\.safetensors$/.test(f))
      .sort();
    for (const p of parts) {
      const path = join(partsDir, p);
      const { metadata, tensors } = await readSafetensors(path);
      const t = tensors.get("embeddings");
      let keys: unknown;
      try {
        keys = JSON.parse(metadata.keys ?? "null");
      } catch {
        keys = null;
      }
      if (!t || !Array.isArray(keys) || t.shape[0] !== keys.length || t.shape[1] !== this.meta.dim) {
        throw new DepError("DEP_INPUT", `${path}: not a valid part file of this store; delete it and rerun`);
      }
      this.#addRows(keys as string[], toFloat32(t), path);
      this.#parts.push(path);
      this.#nextPart = Math.max(this.#nextPart, Number(p.slice(5, 11)) + 1);
    }
  }

  #addRows(keys: string[], data: Float32Array, where: string): void {
    const d = this.meta.dim;
    const i = firstNonFinite(data);
    if (i >= 0) {
      const row = Math.floor(i / d);
      throw new DepError(
        "DEP_INPUT",
        `${where}: row ${row} (sha256 ${keys[row]}) column ${i % d} is not finite; re-embed or fix the file`,
      );
    }
    const keep: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (this.#index.has(keys[i]!)) continue; // a duplicate key keeps its first row
      this.#index.set(keys[i]!, this.#keys.length);
      this.#keys.push(keys[i]!);
      keep.push(i);
    }
    if (keep.length === keys.length) this.#chunks.push(data);
    else {
      const out = new Float32Array(keep.length * d);
      keep.forEach((src, j) => {
        out.set(data.subarray(src * d, (src + 1) * d), j * d);
      });
      this.#chunks.push(out);
    }
  }

  /** Appends rows (texts' keys and their vectors, [n*dim]) as one atomically written part file. */
  async append(keys: readonly string[], vectors: Float32Array): Promise<void> {
    if (keys.length === 0) return;
    const d = this.meta.dim;
    if (vectors.length !== keys.length * d) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `append: ${keys.length} keys need ${keys.length * d} values (dim ${d}), got ${vectors.length}`,
      );
    }
    for (const k of keys) {
      if (!HEX64.test(k))
        throw new DepError("DEP_INVALID_ARGUMENT", `append: key ${k} is not a sha256 hex digest`);
    }
    const path = join(this.dir, "parts", `part-${String(this.#nextPart++).padStart(6, "0")}.safetensors`);
    await mkdir(join(this.dir, "parts"), { recursive: true });
    const data = encode(vectors, this.meta.dtype);
    await writeSafetensors(
      path,
      { embeddings: { dtype: this.meta.dtype, shape: [keys.length, d], data } },
      { keys: JSON.stringify(keys) },
    );
    // keep what a reader of the file would see (after rounding to the storage dtype)
    const stored: TensorData = {
      dtype: this.meta.dtype,
      shape: [keys.length, d],
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
    this.#addRows([...keys], Float32Array.from(toFloat32(stored)), path);
    this.#parts.push(path);
  }

  /** Folds the part files into the main files (temp + rename each), then removes the parts. */
  async compact(): Promise<void> {
    if (this.#parts.length === 0 && this.meta.rows === this.size) return;
    const d = this.meta.dim;
    const n = this.size;
    const embPath = join(this.dir, "embeddings.safetensors");
    const w = await SafetensorsWriter.create(
      embPath,
      [{ name: "embeddings", dtype: this.meta.dtype, shape: [n, d] }],
      {
        embedder: this.meta.embedder,
      },
    );
    const kw = await AtomicLineWriter.create(join(this.dir, "keys.jsonl"));
    try {
      for (const chunk of this.#chunks) {
        if (chunk.length > 0) await w.write("embeddings", encode(chunk, this.meta.dtype));
      }
      for (const k of this.#keys) await kw.write(JSON.stringify({ sha256: k }));
      // keys first, then the embeddings: a crash in between leaves a longer keys.jsonl, whose prefix is valid
      await kw.commit();
      await w.close();
    } catch (err) {
      await w.abort();
      await kw.abort();
      throw err;
    }
    this.meta.rows = n;
    await writeJsonAtomic(join(this.dir, "meta.json"), this.meta);
    for (const p of this.#parts) await rm(p, { force: true });
    await rm(join(this.dir, "parts"), { recursive: true, force: true });
    this.#parts = [];
    this.#mainRows = n;
  }

  /** All rows as one F32 matrix [size, dim] in row order. */
  matrix(): Float32Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    const out = new Float32Array(this.size * this.meta.dim);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    this.#chunks = [out];
    return out;
  }

  /** Vectors for texts' keys, [keys.length * dim]; throws DEP_EMBED_MISSING naming the first key not covered. */
  gather(keys: readonly string[], describe?: (i: number) => string): Float32Array {
    const d = this.meta.dim;
    const m = this.matrix();
    const out = new Float32Array(keys.length * d);
    for (let i = 0; i < keys.length; i++) {
      const r = this.#index.get(keys[i]!);
      if (r === undefined) {
        throw new DepError(
          "DEP_EMBED_MISSING",
          `${this.dir}: no embedding for ${describe ? describe(i) : `text sha256 ${keys[i]}`}; the store does not ` +
            "cover the data: run `dep embed` on this dataset into the store (it only embeds what is missing)",
        );
      }
      out.set(m.subarray(r * d, (r + 1) * d), i * d);
    }
    return out;
  }

  /** Rows in the main files (the rest are in parts). */
  get compactedRows(): number {
    return this.#mainRows;
  }
}

export type { Dtype };
