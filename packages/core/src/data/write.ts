// Writing a dataset folder in our layout:
//   DIR/dataset.json                               manifest (format, source, categories, row counts)
//   DIR/main/<Category>/{train,val,test}.jsonl     DPL-main rows: {user_id, category, profile: [review...], data: review}
//   DIR/meta/<Category>/meta.jsonl                 DPL-meta rows: {asin, title, description}
// review = {asin, rating, title, text, timestamp}. The loader reads this, the hub layout, and Parquet alike.
// Callers write into a temporary folder (see `writeDirAtomic`), so a failed run leaves nothing behind.
import { join } from "node:path";
import { AtomicLineWriter, writeJsonAtomic } from "../io/atomic.js";
import type { DatasetManifest } from "./load.js";
import type { DplRow, ItemMeta, Review, Split } from "./types.js";

export function reviewJson(r: Review): Record<string, unknown> {
  return { asin: r.asin, rating: r.rating, title: r.title, text: r.text, timestamp: r.timestamp };
}

export function mainRowJson(row: DplRow): string {
  return JSON.stringify({
    user_id: row.userId,
    category: row.category,
    profile: row.profile.map(reviewJson),
    data: reviewJson(row.data),
  });
}

export function metaRowJson(item: ItemMeta): string {
  return JSON.stringify({ asin: item.asin, title: item.title, description: item.description });
}

/** Streams rows and items into a dataset folder; `finish` writes the manifest and commits every file. */
export class DatasetWriter {
  readonly dir: string;
  #main = new Map<string, AtomicLineWriter>();
  #meta = new Map<string, AtomicLineWriter>();
  #counts: Record<string, Partial<Record<Split, number>>> = {};
  #items: Record<string, number> = {};

  constructor(dir: string) {
    this.dir = dir;
  }

  async addRow(row: DplRow): Promise<void> {
    const key = `${row.category}/${row.split}`;
    let w = this.#main.get(key);
    if (!w) {
      w = await AtomicLineWriter.create(join(this.dir, "main", row.category, `${row.split}.jsonl`));
      this.#main.set(key, w);
    }
    await w.write(mainRowJson(row));
    const c = this.#counts[row.category] ?? {};
    this.#counts[row.category] = c;
    c[row.split] = (c[row.split] ?? 0) + 1;
  }

  async addItem(item: ItemMeta): Promise<void> {
    let w = this.#meta.get(item.category);
    if (!w) {
      w = await AtomicLineWriter.create(join(this.dir, "meta", item.category, "meta.jsonl"));
      this.#meta.set(item.category, w);
    }
    await w.write(metaRowJson(item));
    this.#items[item.category] = (this.#items[item.category] ?? 0) + 1;
  }

  async finish(source: string, extra: Record<string, unknown> = {}): Promise<DatasetManifest> {
    for (const w of [...this.#main.values(), ...this.#meta.values()]) await w.commit();
    const categories = [...new Set([...Object.keys(this.#counts), ...Object.keys(this.#items)])].sort();
    const manifest: DatasetManifest = {
      format: "dep-dpl",
      version: 1,
      source,
      categories,
      counts: this.#counts,
      items: this.#items,
      ...extra,
    };
    await writeJsonAtomic(join(this.dir, "dataset.json"), manifest);
    return manifest;
  }

  async abort(): Promise<void> {
    for (const w of [...this.#main.values(), ...this.#meta.values()]) await w.abort();
  }
}

/** The DPL rows of one user from their final profile and 10 inputs (SPEC-DEP §1.6). */
export function splitRows(userId: string, category: string, profile: Review[], inputs: Review[]): DplRow[] {
  if (inputs.length !== 10) throw new Error(`splitRows: expected 10 inputs, got ${inputs.length}`);
  const rows: DplRow[] = [];
  for (let i = 0; i < 8; i++) {
    rows.push({
      userId,
      category,
      split: "train",
      profile: [...profile, ...inputs.slice(0, i)],
      data: inputs[i]!,
    });
  }
  rows.push({
    userId,
    category,
    split: "val",
    profile: [...profile, ...inputs.slice(0, 8)],
    data: inputs[8]!,
  });
  rows.push({
    userId,
    category,
    split: "test",
    profile: [...profile, ...inputs.slice(0, 9)],
    data: inputs[9]!,
  });
  return rows;
}
