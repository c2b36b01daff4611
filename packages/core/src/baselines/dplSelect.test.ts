import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DplRow, Review } from "../data/types.js";
import { dplSelect, dplSplitIndex, dplTopN, pythonSplit, representativePeers } from "./dplSelect.js";
import { kmeans } from "./kmeans.js";

interface KMeansCase {
  dim: number;
  x: number[];
  labels: number[];
  centers: number[];
  picks: number[];
}

// written by testdata/dpl_kmeans.py: DPL's get_others_by_kmeans on scikit-learn (set to DPL's version's
// defaults), over unit-normalised float32 vectors of 5 to 30 points
const fixture: { sklearn: string; cases: KMeansCase[] } = JSON.parse(
  readFileSync(new URL("./testdata/dpl_kmeans.json", import.meta.url), "utf8"),
);

describe("DPL's k-means peer step", () => {
  it("matches scikit-learn's KMeans(n_clusters=5, random_state=42) and DPL's pick of the closest reviews", () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(6);
    let ties = 0;
    let picked = 0;
    for (const c of fixture.cases) {
      const x = Float32Array.from(c.x);
      const r = kmeans(x, c.dim, 5, { seed: 42 });
      // labels exactly; centres within float32 rounding (scikit-learn averages in float32)
      expect(Array.from(r.labels)).toEqual(c.labels);
      for (const [i, v] of c.centers.entries()) expect(Math.abs(r.centers[i]! - v)).toBeLessThan(1e-6);
      // picks exactly, except between reviews equally close to their centre within 1e-6 (relative): the
      // two members of a two-review cluster are equidistant from its mean, and DPL's float32 norms decide
      const picks = representativePeers(x, c.dim, 42);
      expect(picks).toHaveLength(c.picks.length);
      const dist = (other: number) => {
        const p = other + 1;
        const k = r.labels[p]!;
        let d = 0;
        for (let j = 0; j < c.dim; j++) d += (x[p * c.dim + j]! - r.centers[k * c.dim + j]!) ** 2;
        return { k, d: Math.sqrt(d) };
      };
      for (const [i, pick] of picks.entries()) {
        if (pick === c.picks[i]) continue;
        ties++;
        const ours = dist(pick);
        const theirs = dist(c.picks[i]!);
        expect(ours.k).toBe(theirs.k);
        expect(Math.abs(ours.d - theirs.d)).toBeLessThanOrEqual(1e-6 * theirs.d);
      }
      picked += picks.length;
    }
    expect(ties).toBeLessThanOrEqual(2);
    expect(picked).toBeGreaterThan(15);
  });

  it("is deterministic for a seed and depends on it", () => {
    const big = fixture.cases.at(-1)!;
    const x = Float32Array.from(big.x);
    expect(representativePeers(x, big.dim, 42)).toEqual(representativePeers(x, big.dim, 42));
    const inits = new Set(
      [1, 2, 3, 4, 5, 6].map((seed) => kmeans(x, big.dim, 5, { seed }).initIndices.join()),
    );
    expect(inits.size).toBeGreaterThan(1);
  });

  it("keeps every other review when there are fewer points than clusters", () => {
    expect(
      representativePeers(
        new Float32Array(4 * 2).map((_, i) => i),
        2,
        42,
      ),
    ).toEqual([0, 1, 2]);
  });
});

describe("DPL's retrieval", () => {
  it("tokenises as Python's str.split()", () => {
    expect(pythonSplit("  Great\tbook,\u00a0Loved\u2003it \n")).toEqual(["Great", "book,", "Loved", "it"]);
    expect(pythonSplit("")).toEqual([]);
  });

  it("ranks with BM25Okapi best first, the later document first on ties (np.argsort reversed)", () => {
    const docs = [["a", "x"], ["b", "y"], ["a", "x"], ["c"], ["d"]];
    expect(dplTopN(docs, ["a"], 3)).toEqual([2, 0, 4]);
    expect(dplTopN([], ["a"], 3)).toEqual([]);
  });

  const review = (asin: string, title: string, text = `${title} text`): Review => ({
    asin,
    rating: 4,
    title,
    text,
    timestamp: 0,
  });
  const row = (userId: string, profile: Review[], data = review("T", "target")): DplRow => ({
    userId,
    category: "Books",
    split: "test",
    profile,
    data,
  });

  it("picks past reviews by review title + item description, and difference items with >= 4 other reviewers", () => {
    const desc: Record<string, string> = {
      A: "dragons fly",
      B: "cooking pasta",
      C: "dragons",
      T: "dragons quest",
    };
    const me = row("u0", [review("A", "Fun"), review("B", "Tasty"), review("C", "Epic")]);
    const others = ["u4", "u2", "u3", "u1"].map((u) =>
      row(u, [review("A", `${u} on A`), review("B", `${u} on B`)]),
    );
    // u5 reviewed C only in an earlier row: its last row does not have it (DPL's dict keeps the last row)
    const early = row("u5", [review("C", "u5 early")]);
    const late = row("u5", [review("B", "u5 on B")]);
    const index = dplSplitIndex([me, ...others, early, late]);
    const sel = dplSelect(index, me, 2, (asin) => desc[asin] ?? "");
    expect(sel.past.map((r) => r.asin)).toEqual(["C", "A"]);
    // A has 4 others, B 5, C only u5: A and B qualify, ranked by the same BM25 query, where "dragons" (in
    // one of two documents) has idf log(1.5 / 1.5) = 0: a tie, the later document first
    expect(sel.diffItems.map((d) => d.review.asin)).toEqual(["B", "A"]);
    expect(sel.diffItems[1]!.others.map((r) => r.title)).toEqual([
      "u1 on A",
      "u2 on A",
      "u3 on A",
      "u4 on A",
    ]);
    expect(sel.diffItems[0]!.others.map((r) => r.title)).toEqual([
      "u1 on B",
      "u2 on B",
      "u3 on B",
      "u4 on B",
      "u5 on B",
    ]);
  });
});
