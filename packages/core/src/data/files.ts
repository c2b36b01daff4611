// Row sources: JSONL, JSONL.gz and Parquet files, and folders of them in the Hugging Face hub layout
// (`<root>/<Category>/<split>-00000-of-00003.parquet`). Every row comes with its file and 1-based line/row number
// so validation errors can say exactly where the problem is.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { createInterface } from "node:readline";
import { brotliDecompressSync, createGunzip, gunzipSync } from "node:zlib";
import { DepError } from "@dep/native-cuda";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import type { Split } from "./types.js";

export type FileKind = "jsonl" | "jsonl.gz" | "parquet";

export interface SourceFile {
  path: string;
  kind: FileKind;
  /** from the first folder below the root, when the file sits in one */
  category: string | null;
  /** from the file name (`train.jsonl`, `test-00000-of-00001.parquet`, `validation...`), when it names one */
  split: Split | null;
}

export interface RawRow {
  file: string;
  /** 1-based line (JSONL) or row (Parquet) number */
  line: number;
  /** `null` with `error` set when the line is not valid JSON */
  value: unknown;
  error?: string;
}

export function fileKind(path: string): FileKind | null {
  const p = path.toLowerCase();
  if (p.endsWith(".jsonl.gz") || p.endsWith(".json.gz") || p.endsWith(".ndjson.gz")) return "jsonl.gz";
  if (p.endsWith(".jsonl") || p.endsWith(".ndjson") || p.endsWith(".json")) return "jsonl";
  if (p.endsWith(".parquet")) return "parquet";
  return null;
}

/** The split named by a file name, e.g. `train-00000-of-00002.parquet` -> train, `validation.jsonl` -> val. */
export function splitFromName(path: string): Split | null {
  const name = basename(path)
    .toLowerCase()
    .replace(/\.(jsonl|json|ndjson|parquet)(\.gz)?$/, "")
    .replace(/-\d{5}-of-\d{5}$/, "");
  if (name === "train") return "train";
  if (name === "val" || name === "valid" || name === "validation" || name === "dev") return "val";
  if (name === "test") return "test";
  return null;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && fileKind(p)) out.push(p);
  }
  return out;
}

/**
 * Expands files and folders into source files (sorted, hidden files skipped). A folder's direct sub-folder
 * names the category of the files below it (the hub layout).
 */
export async function discoverFiles(paths: string | readonly string[]): Promise<SourceFile[]> {
  const list = typeof paths === "string" ? [paths] : paths;
  const out: SourceFile[] = [];
  for (const p of list) {
    const st = await stat(p).catch(() => null);
    if (!st) throw new DepError("DEP_INPUT", `${p}: no such file or folder`);
    if (st.isDirectory()) {
      const files = await walk(p);
      for (const f of files) {
        const parts = relative(p, f).split(sep);
        out.push({
          path: f,
          kind: fileKind(f)!,
          category: parts.length > 1 ? parts[0]! : null,
          split: splitFromName(f),
        });
      }
    } else {
      const kind = fileKind(p);
      if (!kind) {
        throw new DepError(
          "DEP_INPUT",
          `${p}: unknown file type; expected .jsonl, .jsonl.gz, .json (one object per line) or .parquet`,
        );
      }
      out.push({ path: p, kind, category: null, split: splitFromName(p) });
    }
  }
  return out;
}

/** Streams the rows of one file. JSON syntax errors are yielded as rows with `error` (the caller decides). */
export async function* readRows(file: SourceFile): AsyncGenerator<RawRow> {
  if (file.kind === "parquet") {
    yield* readParquetRows(file.path);
    return;
  }
  let input: NodeJS.ReadableStream = createReadStream(file.path);
  if (file.kind === "jsonl.gz") {
    const gunzip = createGunzip();
    input = input.pipe(gunzip);
  }
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      if (text.trim() === "") continue;
      try {
        yield { file: file.path, line, value: JSON.parse(text) };
      } catch (err) {
        yield { file: file.path, line, value: null, error: `not valid JSON (${(err as Error).message})` };
      }
    }
  } catch (err) {
    throw new DepError(
      "DEP_INPUT",
      `${file.path}: cannot read after line ${line}: ${(err as Error).message}` +
        (file.kind === "jsonl.gz" ? " (is the file a complete gzip archive?)" : ""),
      { cause: err },
    );
  }
}

const JS_CODECS = { UNCOMPRESSED: true, SNAPPY: true, GZIP: true, BROTLI: true };
const compressors = {
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input: Uint8Array) => new Uint8Array(brotliDecompressSync(input)),
};

async function* readParquetRowsDuckDB(path: string): AsyncGenerator<RawRow> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:", { threads: "1" });
  const c = await db.connect();
  try {
    const result = await c.stream(`SELECT * FROM read_parquet('${path.replace(/'/g, "''")}')`);
    let line = 0;
    for await (const rows of result.yieldRowObjectJs()) {
      for (const value of rows) yield { file: path, line: ++line, value };
    }
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: cannot read Parquet (${(err as Error).message})`, {
      cause: err,
    });
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

async function* readParquetRows(path: string): AsyncGenerator<RawRow> {
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  let meta: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    buffer = await asyncBufferFromFile(path);
    meta = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new DepError("DEP_INPUT", `${path}: not a readable Parquet file (${(err as Error).message})`, {
      cause: err,
    });
  }
  const codecs = new Set(
    meta.row_groups.flatMap((rg) => rg.columns.map((c) => c.meta_data?.codec ?? "UNCOMPRESSED")),
  );
  if ([...codecs].some((c) => !(c in JS_CODECS))) {
    // e.g. ZSTD or LZ4: DuckDB reads every codec
    yield* readParquetRowsDuckDB(path);
    return;
  }
  // one row group at a time keeps memory bounded by the largest row group
  let rowStart = 0;
  for (const rg of meta.row_groups) {
    const rowEnd = rowStart + Number(rg.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata: meta, rowStart, rowEnd, compressors });
    } catch (err) {
      throw new DepError(
        "DEP_INPUT",
        `${path}: cannot decode rows ${rowStart + 1}..${rowEnd} (${(err as Error).message})`,
        { cause: err },
      );
    }
    for (let i = 0; i < rows.length; i++) yield { file: path, line: rowStart + i + 1, value: rows[i] };
    rowStart = rowEnd;
  }
}
