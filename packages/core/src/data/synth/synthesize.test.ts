import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectDataset } from "../inspect.js";
import { loadDataset } from "../load.js";
import { prepareReference, type RawMeta, type RawReview } from "../prepareReference.js";
import { type Dataset, SPLITS } from "../types.js";
import { synthesize, type UserTraits } from "./synthesize.js";

let dir: string;
let ds: Dataset;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-synth-"));
  await synthesize({ users: 40, seed: 5, outDir: join(dir, "a"), raw: true });
  ds = await loadDataset({ dir: join(dir, "a") });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function digest(root: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else h.update(e.name).update(await readFile(p));
    }
  };
  await walk(root);
  return h.digest("hex");
}

const lines = async (p: string) =>
  (await readFile(p, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("synthesize", () => {
  it("is deterministic per seed", async () => {
    await synthesize({ users: 20, seed: 11, outDir: join(dir, "s1") });
    await synthesize({ users: 20, seed: 11, outDir: join(dir, "s2") });
    await synthesize({ users: 20, seed: 12, outDir: join(dir, "s3") });
    expect(await digest(join(dir, "s1"))).toBe(await digest(join(dir, "s2")));
    expect(await digest(join(dir, "s1"))).not.toBe(await digest(join(dir, "s3")));
  });

  it("honours --items within the limits that keep every item at >= 8 reviewers", async () => {
    const base = await synthesize({ users: 60, seed: 3, outDir: join(dir, "items0") });
    const r = await synthesize({ users: 60, items: 40, seed: 3, outDir: join(dir, "items") });
    expect(r.items).toBeLessThan(base.items); // fewer, down to the floor that keeps every user's items distinct
    const big = await synthesize({ users: 30, items: 100000, seed: 3, outDir: join(dir, "items2") });
    expect(big.items).toBeLessThan(200); // clamped: each item keeps >= 8 reviewers
    const rep = await inspectDataset(join(dir, "items2"));
    expect(rep.reviewersPerItem.min).toBeGreaterThanOrEqual(2);
  });

  it("refuses an existing output folder and too few users", async () => {
    await expect(synthesize({ users: 20, seed: 1, outDir: join(dir, "s1") })).rejects.toMatchObject({
      code: "DEP_OUTPUT_EXISTS",
    });
    await expect(synthesize({ users: 5, outDir: join(dir, "x") })).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
    });
  });

  it("writes DPL rows with the §1.6 split structure and realistic text", async () => {
    const report = await inspectDataset(join(dir, "a"));
    expect(report.categories.length).toBe(3);
    for (const c of report.categories) {
      const n = report.users[c]!;
      expect(report.rows[c]).toEqual({ train: 8 * n, val: n, test: n });
    }
    expect(report.reviewLength.min).toBeGreaterThanOrEqual(200);
    expect(report.itemsWithPeers).toBe(1);
    expect(report.reviewersPerItem.min).toBeGreaterThanOrEqual(2);
    for (const it of ds.items.values()) {
      expect(it.description.length).toBeGreaterThanOrEqual(100);
      expect(it.description.length).toBeLessThanOrEqual(2000);
    }
    const test = ds.rows.filter((r) => r.split === "test");
    for (const r of test) {
      expect(r.profile.length).toBeGreaterThanOrEqual(17);
      for (const rev of [...r.profile, r.data]) {
        expect(rev.text).toMatch(/^[A-Z].*[.!]$/s);
        expect(rev.text).not.toMatch(/\s\s|lorem/i);
      }
    }
    // rows of a user are prefixes of each other
    const byUser = new Map(test.map((r) => [r.userId, r]));
    for (const r of ds.rows) {
      const t = byUser.get(r.userId)!;
      expect(t.profile.slice(0, r.profile.length)).toEqual(r.profile);
    }
  });

  it("makes ratings follow the latent traits", async () => {
    const traits: UserTraits[] = await lines(join(dir, "a", "traits.jsonl"));
    expect(traits.length).toBe(40);
    const test = new Map(ds.rows.filter((r) => r.split === "test").map((r) => [r.userId, r]));
    const xs: number[] = [];
    const ys: number[] = [];
    let topBeatsBottom = 0;
    let topAtLeastBottom = 0;
    for (const t of traits) {
      const row = test.get(t.user_id)!;
      const all = [...row.profile, row.data];
      xs.push(t.rating_bias);
      ys.push(all.reduce((a, r) => a + r.rating, 0) / all.length);
      const ranked = Object.entries(t.aspect_weights).sort((a, b) => b[1] - a[1]);
      const mentions = (noun: string) =>
        all.filter((r) => r.text.toLowerCase().includes(`the ${noun}`)).length;
      const top = mentions(ranked[0]![0]);
      const bottom = mentions(ranked[ranked.length - 1]![0]);
      if (top > bottom) topBeatsBottom++;
      if (top >= bottom) topAtLeastBottom++;
    }
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    xs.forEach((x, i) => {
      sxy += (x - mx) * (ys[i]! - my);
      sxx += (x - mx) ** 2;
      syy += (ys[i]! - my) ** 2;
    });
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.5);
    // users with long reviews mention every aspect (ties); otherwise the preferred aspect wins
    expect(topBeatsBottom / traits.length).toBeGreaterThan(0.6);
    expect(topAtLeastBottom / traits.length).toBeGreaterThan(0.9);
  });

  it("passes SPEC §1 unchanged: preparing the raw export reproduces the DPL rows", async () => {
    for (const c of ds.categories) {
      const reviews: RawReview[] = await lines(join(dir, "a", "raw", c, "reviews.jsonl"));
      const meta: RawMeta[] = await lines(join(dir, "a", "raw", c, "meta.jsonl"));
      const ref = prepareReference(reviews, meta, c);
      expect(ref.stats.step3Iterations).toBe(1);
      expect(ref.stats.step5Iterations).toBe(1);
      const mine = ds.rows
        .filter((r) => r.category === c)
        .sort(
          (a, b) =>
            (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0) ||
            SPLITS.indexOf(a.split) - SPLITS.indexOf(b.split),
        );
      expect(ref.rows.map((r) => [r.userId, r.split, r.profile, r.data])).toEqual(
        mine.map((r) => [r.userId, r.split, r.profile, r.data]),
      );
      expect(ref.items.length).toBe([...ds.items.values()].filter((i) => i.category === c).length);
    }
  });
});
