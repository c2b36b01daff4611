import { describe, expect, it } from "vitest";
import { Bm25, bm25Tokens } from "./bm25.js";

describe("BM25 (rank_bm25 BM25Okapi)", () => {
  it("scores like BM25Okapi on its documented example", () => {
    const corpus = ["Hello there good man!", "It is quite windy in London", "How is the weather today?"].map(
      bm25Tokens,
    );
    const bm = new Bm25(corpus);
    const s = bm.scores(bm25Tokens("windy London"));
    // rank_bm25 0.2.2: BM25Okapi(corpus).get_scores(["windy", "london"]) -> [0, 0.93729472, 0]
    expect(s[0]).toBe(0);
    expect(s[2]).toBe(0);
    expect(s[1]).toBeCloseTo(0.93729472, 7);
    expect(bm.top(bm25Tokens("windy London"), 2)).toEqual([1, 0]);
  });

  it("replaces negative idf by epsilon times the mean idf, as rank_bm25 does (the mean may be negative)", () => {
    const corpus = [
      ["a", "b"],
      ["a", "c"],
      ["a", "d"],
    ];
    const s = new Bm25(corpus).scores(["a"]);
    const idfA = Math.log(0.5) - Math.log(3.5);
    const idfOther = Math.log(2.5) - Math.log(1.5);
    const floor = (0.25 * (idfA + 3 * idfOther)) / 4;
    // every document has length 2 = avgdl, tf 1: score = idf * (1 * 2.5) / (1 + 1.5)
    expect(s[0]).toBeCloseTo(floor, 12);
    expect(s[2]).toBeCloseTo(floor, 12);
  });
});
