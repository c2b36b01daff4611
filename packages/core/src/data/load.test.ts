import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverFiles, splitFromName } from "./files.js";
import { loadDataset } from "./load.js";
import { synthesize } from "./synth/synthesize.js";
import type { Dataset, DplRow } from "./types.js";

let dir: string;
let ref: Dataset;
const strip = (rows: DplRow[]) =>
  rows.map((r) => JSON.stringify([r.category, r.userId, r.split, r.profile, r.data])).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-load-"));
  await synthesize({ users: 20, seed: 2, outDir: join(dir, "syn") });
  ref = await loadDataset({ dir: join(dir, "syn") });
  // the hub layout: DPL-main/<Category>/<split>-00000-of-00001.parquet, DPL-meta/<Category>/full-...parquet,
  // written by DuckDB with nested list<struct> columns and no category column
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  for (const codec of ["SNAPPY", "GZIP", "ZSTD"]) {
    const root = join(dir, `hub-${codec}`);
    for (const cat of ref.categories) {
      await mkdir(join(root, "DPL-main", cat), { recursive: true });
      await mkdir(join(root, "DPL-meta", cat), { recursive: true });
      for (const split of ["train", "val", "test"]) {
        await c.run(
          `COPY (SELECT user_id, profile, data FROM read_json('${join(dir, "syn", "main", cat, `${split}.jsonl`)}', format='newline_delimited')) TO '${join(root, "DPL-main", cat, `${split}-00000-of-00001.parquet`)}' (FORMAT PARQUET, COMPRESSION ${codec})`,
        );
      }
      await c.run(
        `COPY (SELECT * FROM read_json('${join(dir, "syn", "meta", cat, "meta.jsonl")}', format='newline_delimited')) TO '${join(root, "DPL-meta", cat, "full-00000-of-00001.parquet")}' (FORMAT PARQUET, COMPRESSION ${codec})`,
      );
    }
  }
  c.closeSync();
  db.closeSync();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function badDataset(name: string, mutate: (lines: string[]) => string[]): Promise<string> {
  const d = join(dir, name);
  await cp(join(dir, "syn"), d, { recursive: true });
  const p = join(d, "main", "Books", "test.jsonl");
  const lines = (await readFile(p, "utf8")).split("\n").filter(Boolean);
  await writeFile(p, `${mutate(lines).join("\n")}\n`);
  return d;
}

describe("file discovery", () => {
  it("reads splits from hub and plain names", () => {
    expect(splitFromName("x/train-00000-of-00003.parquet")).toBe("train");
    expect(splitFromName("validation.jsonl.gz")).toBe("val");
    expect(splitFromName("test.jsonl")).toBe("test");
    expect(splitFromName("full-00000-of-00001.parquet")).toBeNull();
  });
  it("takes the category from the folder below the root", async () => {
    const files = await discoverFiles(join(dir, "hub-SNAPPY", "DPL-main"));
    expect(files.length).toBe(3 * ref.categories.length);
    expect(new Set(files.map((f) => f.category))).toEqual(new Set(ref.categories));
  });
});

describe("loadDataset", () => {
  for (const codec of ["SNAPPY", "GZIP", "ZSTD"]) {
    it(`loads the hub layout (parquet ${codec}, nested list<struct>) like our JSONL`, async () => {
      const root = join(dir, `hub-${codec}`);
      const hub = await loadDataset({ main: join(root, "DPL-main"), meta: join(root, "DPL-meta") });
      expect(strip(hub.rows)).toEqual(strip(ref.rows));
      expect(hub.items.size).toBe(ref.items.size);
    });
  }

  it("loads .jsonl.gz and shares repeated reviews between rows", async () => {
    const d = join(dir, "gz");
    await cp(join(dir, "syn"), d, { recursive: true });
    for (const cat of ref.categories) {
      for (const s of ["train", "val", "test"]) {
        const p = join(d, "main", cat, `${s}.jsonl`);
        await writeFile(`${p}.gz`, gzipSync(await readFile(p)));
        await rm(p);
      }
    }
    const gz = await loadDataset({ dir: d });
    expect(strip(gz.rows)).toEqual(strip(ref.rows));
    const u = gz.rows.filter((r) => r.userId === gz.rows[0]!.userId);
    const a = u.find((r) => r.split === "test")!;
    const b = u.find((r) => r.split === "val")!;
    expect(a.profile[0]).toBe(b.profile[0]); // the same object
  });

  it("loads only the splits asked for", async () => {
    const t = await loadDataset({ dir: join(dir, "syn"), splits: ["test"] });
    expect(t.rows.every((r) => r.split === "test")).toBe(true);
    expect(t.rows.length).toBe(20);
  });

  const cases: Array<[string, (l: string[]) => string[], RegExp]> = [
    ["malformed JSON", (l) => [l[0]!, "{not json", ...l.slice(1)], /test\.jsonl:2: not valid JSON/],
    [
      "missing field",
      (l) => {
        const o = JSON.parse(l[1]!);
        delete o.data;
        return [l[0]!, JSON.stringify(o), ...l.slice(2)];
      },
      /test\.jsonl:2: DPL-main row: field data: /,
    ],
    [
      "wrong type",
      (l) => {
        const o = JSON.parse(l[0]!);
        o.profile[3].rating = "great";
        return [JSON.stringify(o), ...l.slice(1)];
      },
      /test\.jsonl:1: DPL-main row: field profile\[3\]\.rating/,
    ],
    [
      "item missing from meta",
      (l) => {
        const o = JSON.parse(l[2]!);
        o.profile[0].asin = "NOPE";
        return [...l.slice(0, 2), JSON.stringify(o), ...l.slice(3)];
      },
      /test\.jsonl:3: field profile\[0\]\.asin: item NOPE is missing from DPL-meta/,
    ],
    [
      "duplicate review in a row",
      (l) => {
        const o = JSON.parse(l[0]!);
        o.profile[1] = o.profile[0];
        return [JSON.stringify(o), ...l.slice(1)];
      },
      /test\.jsonl:1: field profile\[1\]\.asin: item \S+ is reviewed twice/,
    ],
    ["duplicate row", (l) => [...l, l[0]!], /duplicate row/],
  ];
  for (const [name, mutate, msg] of cases) {
    it(`reports ${name} with file, line and field; --skip-bad counts it`, async () => {
      const d = await badDataset(name.replace(/\W+/g, "-"), mutate);
      const err = await loadDataset({ dir: d }).catch((e) => e);
      expect(err).toMatchObject({ code: "DEP_INPUT", message: expect.stringMatching(msg) });
      expect(err.message).toMatch(/--skip-bad/);
      const skipped: string[] = [];
      const ok = await loadDataset({ dir: d, skipBad: true, onSkip: (m) => skipped.push(m) });
      expect(ok.skipped.count).toBe(1);
      expect(skipped[0]).toMatch(msg);
    });
  }

  it("reports a missing folder", async () => {
    await expect(loadDataset({ dir: join(dir, "nope") })).rejects.toMatchObject({ code: "DEP_INPUT" });
  });
});
