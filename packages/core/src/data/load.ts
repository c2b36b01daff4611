// Loading DPL-main and DPL-meta (JSONL, JSONL.gz, Parquet; our layout or the Hugging Face hub layout) into a
// validated in-memory Dataset. Reviews repeated across a user's rows (DPL repeats the whole history in every
// row) are kept once.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { discoverFiles, EXPECTED_LAYOUTS, readRows, type SourceFile } from "./files.js";
import {
  type Dataset,
  type DplRow,
  describeZodError,
  type ItemMeta,
  itemKey,
  mainRowSchema,
  metaRowSchema,
  type Review,
  type SkipReport,
  SPLITS,
  type Split,
  sampleId,
} from "./types.js";

export interface LoadDatasetOptions {
  /** A dataset folder in our layout (`DIR/main/...`, `DIR/meta/...`, `DIR/dataset.json`); or give `main`/`meta`. */
  dir?: string;
  /** DPL-main files or folders (hub layout: a folder per category holding `<split>-NNNNN-of-NNNNN.parquet`). */
  main?: string | readonly string[];
  /** DPL-meta files or folders. */
  meta?: string | readonly string[];
  /** Category for rows whose file path and row do not name one (default: dataset.json's, else "default"). */
  category?: string;
  /** Load only these splits (default: all). */
  splits?: readonly Split[];
  /** Load only these categories (default: all). */
  categories?: readonly string[];
  /** Turn row-level problems (bad JSON, missing/mistyped fields, duplicates, unknown items) into counted skips. */
  skipBad?: boolean;
  /** Called with each skip's message when `skipBad` is set (e.g. to log it). */
  onSkip?: (message: string) => void;
  /** Called after each file with the rows read so far. */
  onProgress?: (p: { file: string; rows: number }) => void;
}

export interface DatasetManifest {
  format: "dep-dpl";
  version: 1;
  source: string;
  categories: string[];
  counts: Record<string, Partial<Record<Split, number>>>;
  [key: string]: unknown;
}

export async function readManifest(dir: string): Promise<DatasetManifest | null> {
  const p = join(dir, "dataset.json");
  const text = await readFile(p, "utf8").catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text) as DatasetManifest;
  } catch (err) {
    throw new DepError("DEP_INPUT", `${p}: not valid JSON (${(err as Error).message}); fix or delete it`);
  }
}

class Problems {
  readonly report: SkipReport = { count: 0, examples: [] };
  constructor(
    readonly skipBad: boolean,
    readonly onSkip?: (message: string) => void,
  ) {}
  bad(message: string): void {
    if (!this.skipBad) {
      throw new DepError("DEP_INPUT", `${message}. Fix the row, or pass --skip-bad to skip bad rows.`);
    }
    this.report.count++;
    if (this.report.examples.length < 20) this.report.examples.push(message);
    this.onSkip?.(message);
  }
}

/** Loads and validates a DPL dataset. Throws DepError(DEP_INPUT) naming file, line and field on bad input. */
export async function loadDataset(options: LoadDatasetOptions): Promise<Dataset> {
  let mainPaths = options.main;
  let metaPaths = options.meta;
  let defaultCategory = options.category;
  let manifest: DatasetManifest | null = null;
  if (options.dir) {
    if (!(await stat(options.dir).catch(() => null))) {
      throw new DepError(
        "DEP_INPUT",
        `${options.dir}: no such dataset folder; pass a folder written by dep data synth or dep data prepare`,
      );
    }
    manifest = await readManifest(options.dir);
    if (!mainPaths && !metaPaths) await assertDatasetFolder(options.dir);
    else manifest = null; // the manifest describes the folder's own main/ and meta/
    mainPaths ??= join(options.dir, "main");
    metaPaths ??= join(options.dir, "meta");
    if (!defaultCategory && manifest?.categories.length === 1) defaultCategory = manifest.categories[0];
  }
  if (!mainPaths || !metaPaths) {
    throw new DepError("DEP_INVALID_ARGUMENT", "loadDataset: give `dir`, or both `main` and `meta`");
  }
  for (const p of [mainPaths, metaPaths].flat()) {
    if (!(await stat(p).catch(() => null))) {
      throw new DepError("DEP_INPUT", `${p}: not found; expected DPL-main and DPL-meta files or folders`);
    }
  }
  defaultCategory ??= "default";
  const problems = new Problems(options.skipBad ?? false, options.onSkip);
  const wantSplit = options.splits ? new Set(options.splits) : null;
  const wantCat = options.categories ? new Set(options.categories) : null;

  // ---- meta ----
  const items = new Map<string, ItemMeta>();
  const metaFiles = await discoverFiles(metaPaths);
  let nRows = 0;
  for (const f of metaFiles) {
    for await (const raw of readRows(f)) {
      const where = `${raw.file}:${raw.line}`;
      if (raw.error) {
        problems.bad(`${where}: ${raw.error}`);
        continue;
      }
      const parsed = metaRowSchema.safeParse(raw.value);
      if (!parsed.success) {
        problems.bad(`${where}: DPL-meta row: ${describeZodError(parsed.error)}`);
        continue;
      }
      const category = parsed.data.category ?? f.category ?? defaultCategory;
      if (wantCat && !wantCat.has(category)) continue;
      const key = itemKey(category, parsed.data.asin);
      if (items.has(key)) {
        problems.bad(`${where}: field asin: duplicate item ${parsed.data.asin} in category ${category}`);
        continue;
      }
      items.set(key, {
        asin: parsed.data.asin,
        title: parsed.data.title,
        description: parsed.data.description,
        category,
      });
      nRows++;
    }
    options.onProgress?.({ file: f.path, rows: nRows });
  }

  // ---- main ----
  const rows: DplRow[] = [];
  const seenIds = new Set<string>();
  // per user, reviews already seen (so repeated histories share objects)
  const interned = new Map<string, Map<string, Review>>();
  const intern = (userKey: string, r: Review): Review => {
    let m = interned.get(userKey);
    if (!m) {
      m = new Map();
      interned.set(userKey, m);
    }
    const k = `${r.asin}\u0000${r.timestamp}`;
    const hit = m.get(k);
    if (hit && hit.text === r.text && hit.title === r.title && hit.rating === r.rating) return hit;
    if (!hit) m.set(k, r);
    return r;
  };
  const mainFiles = await discoverFiles(mainPaths);
  const fileRows = new Map<string, number>();
  for (const f of mainFiles) {
    fileRows.set(f.path, await loadMainFile(f));
    options.onProgress?.({ file: f.path, rows: rows.length });
  }

  /** Reads one file's rows into `rows`; returns how many rows the file holds. */
  async function loadMainFile(f: SourceFile): Promise<number> {
    let n = 0;
    for await (const raw of readRows(f)) {
      n++;
      const where = `${raw.file}:${raw.line}`;
      if (raw.error) {
        problems.bad(`${where}: ${raw.error}`);
        continue;
      }
      const value = raw.value as Record<string, unknown> | null;
      const split = f.split ?? normaliseSplit(value?.split);
      if (!split) {
        throw new DepError(
          "DEP_INPUT",
          `${f.path}: cannot tell which split this file holds; name it train/val/test (e.g. train.jsonl or ` +
            "train-00000-of-00001.parquet) or give each row a `split` field",
        );
      }
      if (wantSplit && !wantSplit.has(split)) continue;
      // the common, already-clean row skips zod; anything else goes through the schema (coercions, messages)
      let d = fastMainRow(value);
      if (!d) {
        const parsed = mainRowSchema.safeParse(value);
        if (!parsed.success) {
          problems.bad(`${where}: DPL-main row: ${describeZodError(parsed.error)}`);
          continue;
        }
        d = parsed.data;
      }
      const category = d.category ?? f.category ?? defaultCategory!;
      if (wantCat && !wantCat.has(category)) continue;
      const userKey = `${category}\u0000${d.user_id}`;
      // duplicates and unknown items
      const asins = new Set<string>();
      let problem: string | null = null;
      const all = [...d.profile, d.data];
      for (let i = 0; i < all.length && !problem; i++) {
        const r = all[i]!;
        const field = i < d.profile.length ? `profile[${i}]` : "data";
        if (asins.has(r.asin)) problem = `field ${field}.asin: item ${r.asin} is reviewed twice in this row`;
        asins.add(r.asin);
        if (!problem && !items.has(itemKey(category, r.asin))) {
          problem = `field ${field}.asin: item ${r.asin} is missing from DPL-meta (category ${category}); add it to the meta files`;
        }
      }
      if (problem) {
        problems.bad(`${where}: ${problem}`);
        continue;
      }
      const row: DplRow = {
        userId: d.user_id,
        category,
        split,
        profile: d.profile.map((r) => intern(userKey, r)),
        data: intern(userKey, d.data),
      };
      const id = sampleId(row);
      if (seenIds.has(id)) {
        problems.bad(`${where}: duplicate row ${id} (same user, split and history length as an earlier row)`);
        continue;
      }
      seenIds.add(id);
      rows.push(row);
    }
    return n;
  }

  const scope = { splits: wantSplit, categories: wantCat };
  if (rows.length === 0) throw noRowsError(mainFiles, fileRows, scope, problems.report.count);
  if (manifest && problems.report.count === 0) checkManifest(options.dir!, manifest, rows, scope);
  const categories = [...new Set(rows.map((r) => r.category))].sort();
  return { rows, items, categories, skipped: problems.report };
}

type Scope = { splits: Set<Split> | null; categories: Set<string> | null };

/** `--data DIR` must hold main/ and meta/; a folder of another layout gets a message saying what to pass. */
async function assertDatasetFolder(dir: string): Promise<void> {
  const has = async (name: string) => (await stat(join(dir, name)).catch(() => null))?.isDirectory() ?? false;
  const [main, meta] = [await has("main"), await has("meta")];
  if (main && meta) return;
  const seen = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => !n.startsWith("."))
    .slice(0, 12);
  throw new DepError(
    "DEP_INPUT",
    `${dir}: not a dataset folder: it has no ${main ? "meta/" : meta ? "main/" : "main/ and meta/"} folder ` +
      `(saw ${seen.length ? seen.join(", ") : "nothing"}); pass a folder written by dep data synth | prepare, ` +
      "or give DPL-main and DPL-meta as --main DIR --meta DIR (e.g. two Hugging Face snapshot folders)",
  );
}

/** No row survived: say which files were read, what each held, and what was asked for. */
function noRowsError(
  files: SourceFile[],
  fileRows: Map<string, number>,
  scope: Scope,
  skipped: number,
): DepError {
  const list = files
    .slice(0, 8)
    .map(
      (f) =>
        `${f.path} (${fileRows.get(f.path) ?? 0} rows, split ${f.split ?? "from rows"}, category ${f.category ?? "from rows"})`,
    )
    .join(", ");
  const wanted = [
    scope.splits ? `split ${[...scope.splits].join("/")}` : "",
    scope.categories ? `category ${[...scope.categories].join("/")}` : "",
  ].filter(Boolean);
  return new DepError(
    "DEP_NO_ROWS",
    `no DPL-main rows${wanted.length ? ` of ${wanted.join(", ")}` : ""}${skipped ? ` (${skipped} bad rows skipped)` : ""}; ` +
      `read ${list}${files.length > 8 ? `, and ${files.length - 8} more` : ""}; ${EXPECTED_LAYOUTS}`,
  );
}

/** Every category and split that dataset.json lists must be found with its row count. */
function checkManifest(dir: string, manifest: DatasetManifest, rows: DplRow[], scope: Scope): void {
  const found = new Map<string, number>();
  for (const r of rows)
    found.set(`${r.category}/${r.split}`, (found.get(`${r.category}/${r.split}`) ?? 0) + 1);
  for (const category of manifest.categories ?? []) {
    if (scope.categories && !scope.categories.has(category)) continue;
    for (const split of SPLITS) {
      if (scope.splits && !scope.splits.has(split)) continue;
      const want = manifest.counts?.[category]?.[split] ?? 0;
      const got = found.get(`${category}/${split}`) ?? 0;
      if (want !== got) {
        throw new DepError(
          "DEP_INPUT",
          `${join(dir, "dataset.json")} lists ${want} ${category}/${split} rows but ${join(dir, "main")} holds ${got}; ` +
            `restore ${join(dir, "main", category)} (a missing or unreadable category folder or split file?) or rewrite the dataset`,
        );
      }
    }
  }
}

function isCleanReview(r: unknown): r is Review {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    typeof o.asin === "string" &&
    o.asin.length > 0 &&
    typeof o.rating === "number" &&
    Number.isFinite(o.rating) &&
    typeof o.title === "string" &&
    typeof o.text === "string" &&
    typeof o.timestamp === "number" &&
    Number.isInteger(o.timestamp) &&
    o.timestamp >= 0
  );
}

/** A row that already has exactly the schema's output types, or null (then zod decides). */
function fastMainRow(
  v: Record<string, unknown> | null,
): { user_id: string; profile: Review[]; data: Review; category?: string | null } | null {
  if (!v || typeof v.user_id !== "string" || v.user_id.length === 0) return null;
  if (
    v.category !== undefined &&
    v.category !== null &&
    (typeof v.category !== "string" || v.category === "")
  ) {
    return null;
  }
  if (!Array.isArray(v.profile) || !isCleanReview(v.data)) return null;
  for (const r of v.profile) if (!isCleanReview(r)) return null;
  const pick = (r: Review): Review => ({
    asin: r.asin,
    rating: r.rating,
    title: r.title,
    text: r.text,
    timestamp: r.timestamp,
  });
  return {
    user_id: v.user_id,
    profile: (v.profile as Review[]).map(pick),
    data: pick(v.data as Review),
    category: v.category as string | null | undefined,
  };
}

function normaliseSplit(v: unknown): Split | null {
  if (v === "train" || v === "val" || v === "test") return v;
  if (v === "validation" || v === "valid" || v === "dev") return "val";
  return null;
}
