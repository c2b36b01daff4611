import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
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

/** Moves every file below `dir` into `repo/blobs/<n>` and leaves a relative symlink, as the Hugging Face cache does. */
async function toHubCache(dir: string, repo: string, revision: string): Promise<string> {
  const snapshot = join(repo, "snapshots", revision);
  await mkdir(join(repo, "blobs"), { recursive: true });
  await mkdir(join(repo, "refs"), { recursive: true });
  await writeFile(join(repo, "refs", "main"), revision);
  let n = 0;
  const move = async (from: string, to: string) => {
    for (const e of await readdir(from, { withFileTypes: true })) {
      if (e.isDirectory()) await move(join(from, e.name), join(to, e.name));
      else {
        const blob = join(repo, "blobs", `blob${n++}`);
        await rename(join(from, e.name), blob);
        await mkdir(to, { recursive: true });
        await symlink(relative(to, blob), join(to, e.name));
      }
    }
  };
  await move(dir, snapshot);
  await writeFile(join(snapshot, "README.md"), "---\nconfigs: []\n---\n");
  return snapshot;
}

describe("data where users keep it", () => {
  const books = () => strip(ref.rows.filter((r) => r.category === "Books"));

  it("a Hugging Face cache: symlinked snapshots, given as the repo folder or the snapshot", async () => {
    const hub = join(dir, "hf-cache");
    await cp(join(dir, "hub-SNAPPY", "DPL-main"), join(hub, "main-src"), { recursive: true });
    await cp(join(dir, "hub-SNAPPY", "DPL-meta"), join(hub, "meta-src"), { recursive: true });
    const mainRepo = join(hub, "datasets--someone--DPL-main");
    await toHubCache(join(hub, "main-src"), mainRepo, "0123abcd");
    const metaSnapshot = await toHubCache(
      join(hub, "meta-src"),
      join(hub, "datasets--someone--DPL-meta"),
      "4567ef",
    );
    const files = await discoverFiles(mainRepo);
    expect(files.length).toBe(3 * ref.categories.length);
    expect(new Set(files.map((f) => f.category))).toEqual(new Set(ref.categories));
    const ds = await loadDataset({ main: mainRepo, meta: metaSnapshot });
    expect(strip(ds.rows)).toEqual(strip(ref.rows));
  });

  it("push_to_hub's data/<split>-NNNNN-of-NNNNN.parquet (also with a fingerprint)", async () => {
    const root = join(dir, "pth");
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    await mkdir(join(root, "main", "data"), { recursive: true });
    await mkdir(join(root, "meta", "data"), { recursive: true });
    for (const split of ["train", "val", "test"]) {
      const name =
        split === "val" ? "validation-00000-of-00001-6c8f3a.parquet" : `${split}-00000-of-00001.parquet`;
      await c.run(
        `COPY (SELECT user_id, profile, data FROM read_json('${join(dir, "syn", "main", "Books", `${split}.jsonl`)}', format='newline_delimited')) TO '${join(root, "main", "data", name)}' (FORMAT PARQUET)`,
      );
    }
    await c.run(
      `COPY (SELECT * FROM read_json('${join(dir, "syn", "meta", "Books", "meta.jsonl")}', format='newline_delimited')) TO '${join(root, "meta", "data", "train-00000-of-00001.parquet")}' (FORMAT PARQUET)`,
    );
    c.closeSync();
    db.closeSync();
    const ds = await loadDataset({ main: join(root, "main"), meta: join(root, "meta"), category: "Books" });
    expect(strip(ds.rows)).toEqual(books());
  });

  it("the parquet converter's <config>/<split>/NNNN.parquet (and partial-<split>)", async () => {
    const root = join(dir, "converter");
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    for (const cat of ref.categories) {
      for (const split of ["train", "val", "test"]) {
        const folder = join(
          root,
          "main",
          cat,
          split === "train" ? "partial-train" : split === "val" ? "validation" : split,
        );
        await mkdir(folder, { recursive: true });
        await c.run(
          `COPY (SELECT user_id, profile, data FROM read_json('${join(dir, "syn", "main", cat, `${split}.jsonl`)}', format='newline_delimited')) TO '${join(folder, "0000.parquet")}' (FORMAT PARQUET)`,
        );
      }
      await mkdir(join(root, "meta", cat, "train"), { recursive: true });
      await c.run(
        `COPY (SELECT * FROM read_json('${join(dir, "syn", "meta", cat, "meta.jsonl")}', format='newline_delimited')) TO '${join(root, "meta", cat, "train", "0000.parquet")}' (FORMAT PARQUET)`,
      );
    }
    c.closeSync();
    db.closeSync();
    const ds = await loadDataset({ main: join(root, "main"), meta: join(root, "meta") });
    expect(strip(ds.rows)).toEqual(strip(ref.rows));
  });

  it("a symlinked category folder is read, and dataset.json's categories and splits must all be found", async () => {
    const d = join(dir, "linked");
    await cp(join(dir, "syn"), d, { recursive: true });
    await rm(join(d, "main", "Books"), { recursive: true });
    await symlink(join(dir, "syn", "main", "Books"), join(d, "main", "Books"));
    expect(strip((await loadDataset({ dir: d })).rows)).toEqual(strip(ref.rows));
    await rm(join(d, "main", "Books"));
    await expect(loadDataset({ dir: d })).rejects.toThrow(
      /dataset\.json lists \d+ Books\/train rows but .* holds 0/,
    );
  });

  it("dangling links, FIFOs, empty split files and folders without data are errors naming the path", async () => {
    const d = join(dir, "broken");
    await cp(join(dir, "syn"), d, { recursive: true });
    const p = join(d, "main", "Books", "val.jsonl");
    await rm(p);
    await symlink(join(dir, "nowhere.jsonl"), p);
    await expect(loadDataset({ dir: d })).rejects.toThrow(
      /val\.jsonl: a symbolic link to .*nowhere\.jsonl, which does not exist/,
    );
    await rm(p);
    execFileSync("mkfifo", [p]);
    await expect(loadDataset({ dir: d })).rejects.toThrow(/val\.jsonl: not a regular file/);
    await rm(p);
    await writeFile(p, "");
    await expect(loadDataset({ dir: d })).rejects.toThrow(/val\.jsonl: empty file/);
    const empty = join(dir, "no-data");
    await mkdir(join(empty, "Books"), { recursive: true });
    await writeFile(join(empty, "Books", "notes.txt"), "x");
    await expect(discoverFiles(empty)).rejects.toThrow(
      /no data files found \(saw Books\/notes\.txt\); expected .jsonl/,
    );
  });

  it("no rows at all is an error listing the files read and what was asked for", async () => {
    const d = join(dir, "blank");
    await cp(join(dir, "syn"), d, { recursive: true });
    for (const cat of ref.categories)
      for (const s of ["train", "val", "test"]) await writeFile(join(d, "main", cat, `${s}.jsonl`), "\n");
    const err = await loadDataset({ main: join(d, "main"), meta: join(d, "meta"), splits: ["test"] }).catch(
      (e) => e,
    );
    expect(err).toMatchObject({ code: "DEP_NO_ROWS" });
    expect(err.message).toMatch(
      /no DPL-main rows of split test; read .*Books\/test\.jsonl \(0 rows, split test, category Books\)/,
    );
  });

  it("a folder that is not a dataset folder says to give --main and --meta", async () => {
    await expect(loadDataset({ dir: join(dir, "hub-SNAPPY") })).rejects.toThrow(
      /not a dataset folder: it has no main\/ and meta\/ folder \(saw DPL-main, DPL-meta\).*--main DIR --meta DIR/,
    );
  });
});
