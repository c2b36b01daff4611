// Row sources: JSONL, JSONL.gz and Parquet files, and folders of them as users keep them: our layout, the
// Hugging Face hub layouts (`<Category>/<split>-00000-of-00003.parquet`, `data/<split>-...parquet`,
// `<config>/<split>/0000.parquet`) and the Hugging Face cache (symbolic links into `blobs/`). Every row comes with its file and 1-based line/row number
// so validation errors can say exactly where the problem is.
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { lstat, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
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

/** A split name as DPL, `push_to_hub` and the parquet converter spell it (`validation`, `partial-train`). */
function splitFromWord(word: string): Split | null {
  const name = word.toLowerCase().replace(/^partial-/, "");
  if (name === "train") return "train";
  if (name === "val" || name === "valid" || name === "validation" || name === "dev") return "val";
  if (name === "test") return "test";
  return null;
}

/**
 * The split named by a file name, e.g. `train-00000-of-00002.parquet` -> train (also with the fingerprint
 * older `push_to_hub` versions appended: `train-00000-of-00002-6c8f3a.parquet`), `validation.jsonl` -> val.
 */
export function splitFromName(path: string): Split | null {
  const name = basename(path)
    .replace(/\.(jsonl|json|ndjson|parquet)(\.gz)?$/i, "")
    .replace(/-\d{5}-of-\d{5}(-[0-9a-f]+)?$/i, "");
  return splitFromWord(name);
}

/** Folder names that hold data without naming a category: `push_to_hub`'s `data/` and the `default` config. */
const NO_CATEGORY = new Set(["data", "default"]);
/** Metadata files of Hugging Face `datasets` that share the data's extensions. */
const HF_METADATA = new Set(["dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"]);

export const EXPECTED_LAYOUTS =
  "expected .jsonl, .jsonl.gz or .parquet files named by split, in one of the layouts " +
  "<Category>/<split>.jsonl, <Category>/<split>-00000-of-00001.parquet, data/<split>-00000-of-00001.parquet " +
  "(push_to_hub) or <config>/<split>/0000.parquet (the parquet converter)";

interface Walked {
  root: string;
  files: string[];
  /** what else was there (for the error when nothing is found) */
  seen: string[];
}

/** Lists data files below `dir`, following symbolic links (the Hugging Face cache links into `blobs/`). */
async function walk(dir: string, out: Walked, ancestors: Set<string>): Promise<void> {
  const real = await realpath(dir);
  if (ancestors.has(real)) {
    throw new DepError("DEP_INPUT", `${dir}: a symbolic link to a folder above it (a loop); remove the link`);
  }
  ancestors.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    const st = e.isSymbolicLink() ? await stat(p).catch(() => null) : e;
    if (!st) {
      const target = await readlink(p).catch(() => "?");
      throw new DepError(
        "DEP_INPUT",
        `${p}: a symbolic link to ${target}, which does not exist; restore its target or remove the link`,
      );
    }
    if (st.isDirectory()) {
      await walk(p, out, ancestors);
      continue;
    }
    if (!fileKind(p) || HF_METADATA.has(e.name.toLowerCase())) {
      if (out.seen.length < 12) out.seen.push(relative(out.root, p));
      continue;
    }
    if (!st.isFile()) {
      throw new DepError(
        "DEP_INPUT",
        `${p}: not a regular file (a FIFO, socket or device); expected a data file there, or remove it`,
      );
    }
    out.files.push(p);
  }
  ancestors.delete(real);
}

/**
 * A Hugging Face cache folder of one repository (`datasets--owner--name` with `refs/`, `snapshots/`, `blobs/`)
 * stands for its snapshot: the one `refs/main` names, else the only one.
 */
async function resolveHubCacheRepo(dir: string): Promise<string> {
  const snapshots = join(dir, "snapshots");
  if (!(await stat(join(dir, "blobs")).catch(() => null))?.isDirectory()) return dir;
  if (!(await stat(snapshots).catch(() => null))?.isDirectory()) return dir;
  const ref = (await readFile(join(dir, "refs", "main"), "utf8").catch(() => "")).trim();
  if (ref && (await stat(join(snapshots, ref)).catch(() => null))) return join(snapshots, ref);
  const all = (await readdir(snapshots)).filter((n) => !n.startsWith("."));
  if (all.length === 1) return join(snapshots, all[0]!);
  throw new DepError(
    "DEP_INPUT",
    `${dir}: a Hugging Face cache folder with ${all.length === 0 ? "no snapshots" : `${all.length} snapshots (${all.join(", ")})`} ` +
      "and no refs/main naming one; pass the snapshot folder (…/snapshots/<revision>) instead",
  );
}

/** Category and split of a file from its place below a root folder (see EXPECTED_LAYOUTS). */
function placeOf(root: string, file: string): { category: string | null; split: Split | null } {
  const folders = relative(root, file).split(sep).slice(0, -1);
  const splitFolder = folders.length > 0 ? splitFromWord(folders[folders.length - 1]!) : null;
  const first = folders[0];
  const category =
    first !== undefined && !splitFromWord(first) && !NO_CATEGORY.has(first.toLowerCase()) ? first : null;
  return { category, split: splitFromName(file) ?? splitFolder };
}

/**
 * Expands files and folders into source files (sorted, hidden files skipped, symbolic links followed). A
 * folder's direct sub-folder names the category of the files below it (the hub layout), a folder named by a
 * split names their split (the parquet converter's layout). A folder with no data file is an error that says
 * what was there.
 */
export async function discoverFiles(paths: string | readonly string[]): Promise<SourceFile[]> {
  const list = typeof paths === "string" ? [paths] : paths;
  const out: SourceFile[] = [];
  for (const given of list) {
    const st = await stat(given).catch(() => null);
    if (!st) {
      const dangling = await lstat(given).catch(() => null);
      throw new DepError(
        "DEP_INPUT",
        dangling?.isSymbolicLink()
          ? `${given}: a symbolic link to ${await readlink(given).catch(() => "?")}, which does not exist`
          : `${given}: no such file or folder`,
      );
    }
    if (st.isDirectory()) {
      const p = await resolveHubCacheRepo(given);
      const walked: Walked = { root: p, files: [], seen: [] };
      await walk(p, walked, new Set());
      if (walked.files.length === 0) {
        throw new DepError(
          "DEP_INPUT",
          `${p}: no data files found (saw ${walked.seen.length ? walked.seen.join(", ") : "nothing"}); ${EXPECTED_LAYOUTS}`,
        );
      }
      for (const f of walked.files) out.push({ path: f, kind: fileKind(f)!, ...placeOf(p, f) });
    } else {
      const kind = fileKind(given);
      if (!kind) {
        throw new DepError(
          "DEP_INPUT",
          `${given}: unknown file type; expected .jsonl, .jsonl.gz, .json (one object per line) or .parquet`,
        );
      }
      if (!st.isFile())
        throw new DepError("DEP_INPUT", `${given}: not a regular file (a FIFO, socket or device)`);
      out.push({ path: given, kind, category: null, split: splitFromName(given) });
    }
  }
  for (const f of out) {
    if ((await stat(f.path)).size === 0) {
      throw new DepError(
        "DEP_INPUT",
        `${f.path}: empty file; expected DPL rows (remove it or restore its data)`,
      );
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
  // lines are split as latin1 (one char per byte, so "\n" and "\r" are found exactly) and then decoded as
  // UTF-8: a line that is not valid UTF-8 is read with U+FFFD replacement characters, counted and reported
  input.setEncoding("latin1");
  // CRLF line ends are read as LF (crlfDelay)
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  const badUtf8: number[] = [];
  try {
    for await (const raw of rl) {
      line++;
      const bytes = Buffer.from(raw, "latin1");
      if (!isUtf8(bytes)) badUtf8.push(line);
      let text = bytes.toString("utf8");
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark
      if (text.trim() === "") continue;
      try {
        yield { file: file.path, line, value: JSON.parse(text) };
      } catch (err) {
        yield { file: file.path, line, value: null, error: `not valid JSON (${(err as Error).message})` };
      }
    }
  } catch (err) {
    if (err instanceof DepError) throw err;
    throw new DepError(
      "DEP_INPUT",
      `${file.path}: cannot read after line ${line}: ${(err as Error).message}` +
        (file.kind === "jsonl.gz" ? " (is the file a complete gzip archive?)" : ""),
      { cause: err },
    );
  }
  if (badUtf8.length > 0) warnInvalidUtf8(file.path, badUtf8);
}

/** Says, once per file, which lines were not valid UTF-8 (their bad bytes became U+FFFD). */
export function warnInvalidUtf8(path: string, lines: readonly number[]): void {
  process.emitWarning(
    `${path}: ${lines.length} line(s) are not valid UTF-8 (line${lines.length > 1 ? "s" : ""} ${lines.slice(0, 5).join(", ")}${lines.length > 5 ? ", ..." : ""}); ` +
      "their invalid bytes were read as U+FFFD replacement characters",
    { code: "DEP_INVALID_UTF8" },
  );
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
