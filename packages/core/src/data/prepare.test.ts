import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "./load.js";
import { prepareAmazon } from "./prepare.js";
import { itemDescription, normaliseWhitespace, prepareReference } from "./prepareReference.js";
import { type RawFixture, rawFixture } from "./testing/rawFixture.js";
import type { DplRow } from "./types.js";

let dir: string;
let fx: RawFixture;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-prep-"));
  fx = rawFixture(7, { heavy: true });
  const lines = (xs: unknown[]) => `${xs.map((x) => JSON.stringify(x)).join("\n")}\n`;
  const half = Math.floor(fx.reviews.length / 2);
  // reviews: half as .jsonl, half as .jsonl.gz; meta as parquet (written by DuckDB)
  await writeFile(join(dir, "reviews-a.jsonl"), lines(fx.reviews.slice(0, half)));
  await writeFile(join(dir, "reviews-b.jsonl.gz"), gzipSync(lines(fx.reviews.slice(half))));
  await writeFile(join(dir, "meta.jsonl"), lines(fx.meta));
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  await c.run(
    `COPY (SELECT * FROM read_json('${join(dir, "meta.jsonl")}', format='newline_delimited', columns={'parent_asin':'VARCHAR','title':'VARCHAR','description':'VARCHAR[]','categories':'VARCHAR[]','rating_number':'DOUBLE'})) TO '${join(dir, "meta.parquet")}' (FORMAT PARQUET)`,
  );
  c.closeSync();
  db.closeSync();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function strip(rows: DplRow[]) {
  return rows.map((r) => ({ u: r.userId, s: r.split, p: r.profile, d: r.data }));
}

describe("SPEC §1 reference transcription", () => {
  it("applies the description rule", () => {
    expect(itemDescription(["Product Description"])).toBe("");
    expect(itemDescription(["Product Description", "a", "b"])).toBe("a b");
    expect(itemDescription(["x", "Product Description"])).toBe("x Product Description");
    expect(itemDescription(null)).toBe("");
  });
  it("normalises whitespace like Python's \\s+", () => {
    expect(normaliseWhitespace(" a\t\n b\u00a0\u3000c\x1c d  ")).toBe("a b c d");
  });
  it("exercises every filter and both loops on the fixture", () => {
    const ref = prepareReference(fx.reviews, fx.meta, "Books");
    const s = ref.stats;
    expect(s.itemsAfterStep1).toBe(90 + 522);
    expect(s.reviewsAfterStep2).toBeLessThan(s.reviewsIn);
    expect(s.reviewsAfterDedup).toBeLessThan(s.reviewsAfterStep2);
    expect(s.step3Iterations).toBeGreaterThanOrEqual(3);
    expect(s.step5Iterations).toBeGreaterThanOrEqual(3);
    expect(s.users).toBeGreaterThan(5);
    const users = new Set(ref.rows.map((r) => r.userId));
    expect(users.has("H0")).toBe(false); // 501 reviews
    expect(users.has("H1")).toBe(true); // exactly 500
    const test = ref.rows.filter((r) => r.split === "test");
    for (const r of test) {
      const all = [...r.profile, r.data];
      expect(all.every((x) => x.text.length >= 199 && !/\s\s|^\s|\s$/.test(x.text))).toBe(true);
      expect(new Set(all.map((x) => x.asin)).size).toBe(all.length);
      expect(all.every((x, i) => i === 0 || all[i - 1]!.timestamp <= x.timestamp)).toBe(true);
    }
    // the greedy newest-first chain: A(I070) and C(I071) survive, B does not
    const u1 = test.find((r) => r.userId === "U001");
    if (u1) {
      const texts = [...u1.profile, u1.data].map((x) => x.text);
      expect(texts.some((t) => t.startsWith("chainA"))).toBe(true);
      expect([...u1.profile, u1.data].filter((x) => x.asin === "I071").length).toBe(1);
    }
    const i0 = ref.items.find((i) => i.asin === "I000");
    if (i0) expect(i0.description.startsWith("Product Description")).toBe(false);
  });
});

describe("prepareAmazon (DuckDB)", () => {
  it("matches the in-memory transcription exactly (jsonl + jsonl.gz + parquet inputs)", async () => {
    const out = join(dir, "out");
    const stages: string[] = [];
    const res = await prepareAmazon({
      reviews: [join(dir, "reviews-a.jsonl"), join(dir, "reviews-b.jsonl.gz")],
      meta: join(dir, "meta.parquet"),
      category: "Books",
      outDir: out,
      memoryLimit: "256MB",
      threads: 1,
      onProgress: (p) => stages.push(p.stage),
    });
    const ref = prepareReference(fx.reviews, fx.meta, "Books");
    expect(res.stats).toEqual(ref.stats);
    expect(stages).toContain("step5");
    const ds = await loadDataset({ dir: out });
    const order = { train: 0, val: 1, test: 2 };
    const got = [...ds.rows].sort(
      (a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0) || order[a.split] - order[b.split],
    );
    expect(strip(got)).toEqual(strip(ref.rows));
    expect([...ds.items.values()].map((i) => ({ ...i })).sort((a, b) => (a.asin < b.asin ? -1 : 1))).toEqual(
      ref.items,
    );
  });

  it("writes sharded parquet output (small memory limit) the loader reads back identically", async () => {
    const out = join(dir, "out-pq");
    await prepareAmazon({
      memoryLimit: "64MB",
      reviews: [join(dir, "reviews-a.jsonl"), join(dir, "reviews-b.jsonl.gz")],
      meta: join(dir, "meta.jsonl"),
      category: "Books",
      outDir: out,
      format: "parquet",
      threads: 1,
    });
    const shards = (await readdir(join(out, "main", "Books"))).filter((f) => f.startsWith("train-"));
    expect(shards.length).toBeGreaterThan(1);
    const a = await loadDataset({ dir: join(dir, "out") });
    const b = await loadDataset({ dir: out });
    expect(strip(b.rows)).toEqual(strip(a.rows));
  });

  it("names the file and line of malformed input and leaves no output", async () => {
    const bad = join(dir, "bad.jsonl");
    await writeFile(
      bad,
      '{"user_id":"u","parent_asin":"I000","title":"t","text":"x","rating":5,"timestamp":1}\n{"user_id": oops}\n',
    );
    const out = join(dir, "out-bad");
    const err = await prepareAmazon({
      reviews: bad,
      meta: join(dir, "meta.jsonl"),
      category: "Books",
      outDir: out,
      threads: 1,
    }).catch((e) => e);
    expect(err).toMatchObject({ code: "DEP_INPUT", message: expect.stringMatching(/bad\.jsonl.*line \d/s) });
    const { stat } = await import("node:fs/promises");
    await expect(stat(out)).rejects.toThrow();
  });
});
