import { describe, expect, it } from "vitest";
import { bleu, sentenceBleu, tokenize13a } from "./bleu.js";

// Vectors from METRICS.md (sacreBLEU's own test corpus and docs).
const HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
const REFS1 = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."];
const REFS2 = ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."];

describe("bleu (sacreBLEU 2.x corpus_bleu, 13a, exp)", () => {
  it("reproduces the sacreBLEU test corpus with two reference streams", () => {
    const r = bleu(HYPS, [REFS1, REFS2]);
    expect(Math.abs(r.score - 48.530827009929865)).toBeLessThan(1e-9);
    expect(r.signature).toBe("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.x");
    expect(r.sysLen).toBe(17);
  });

  it("scores a one-word substitution", () => {
    const r = bleu(["this is a fest"], ["this is a test"]);
    expect(Math.abs(r.score - 59.460355750136046)).toBeLessThan(1e-9);
    expect(r.counts).toEqual([3, 2, 1, 0]);
    expect(r.totals).toEqual([4, 3, 2, 1]);
    expect(r.signature.startsWith("nrefs:1|")).toBe(true);
  });

  it("accepts references as a single stream or a list of streams", () => {
    expect(bleu(HYPS, REFS1).score).toBe(bleu(HYPS, [REFS1]).score);
  });

  it("is zero without any matching n-gram and uses the brevity penalty", () => {
    expect(bleu(["abc"], ["xyz"]).score).toBe(0);
    const r = bleu(["the cat"], ["the cat sat on the mat"]);
    expect(r.bp).toBeCloseTo(Math.exp(1 - 6 / 2), 15);
  });

  it("skips empty references of a stream but rejects a segment without any, as sacreBLEU does", () => {
    const r = bleu(
      ["the cat sat", "a dog"],
      [
        ["the cat sat", "a dog"],
        ["the cat", ""],
      ],
    );
    expect(r.signature).toContain("nrefs:var");
    expect(() => bleu(["a b c"], [""])).toThrow(/segment 1 has no non-empty reference/);
  });

  it("is case-sensitive unless lowercase is set", () => {
    expect(bleu(["THE CAT SAT"], ["the cat sat"]).score).toBe(0);
    expect(bleu(["THE CAT SAT"], ["the cat sat"], { lowercase: true }).signature).toContain("case:lc");
  });
});

describe("tokenize13a", () => {
  it("splits punctuation but keeps decimals and inner hyphens of numbers", () => {
    expect(tokenize13a("Hello, world! It costs $3.50 (approx).")).toEqual([
      "Hello",
      ",",
      "world",
      "!",
      "It",
      "costs",
      "$",
      "3.50",
      "(",
      "approx",
      ")",
      ".",
    ]);
    expect(tokenize13a("1-2 a-b")).toEqual(["1", "-", "2", "a-b"]);
    expect(tokenize13a("a &amp; b &lt;c&gt;")).toEqual(["a", "&", "b", "<", "c", ">"]);
  });

  it("splits on whitespace as Python's str.split does", () => {
    // \x1c-\x1f and \x85 are whitespace for Python; U+200B and U+FEFF are not
    expect(tokenize13a("a\x1cb\x85c")).toEqual(["a", "b", "c"]);
    expect(tokenize13a("a\u200bb\ufeffc")).toEqual(["a\u200bb\ufeffc"]);
  });
});

describe("sentenceBleu (sacreBLEU 2.x sentence_bleu: 13a, exp, effective order)", () => {
  it("equals the one-segment corpus BLEU when every n-gram order has n-grams", () => {
    expect(sentenceBleu("this is a fest", ["this is a test"])).toBe(
      bleu(["this is a fest"], ["this is a test"]).score,
    );
    expect(Math.abs(sentenceBleu("this is a fest", ["this is a test"]) - 59.460355750136046)).toBeLessThan(
      1e-9,
    );
    expect(sentenceBleu("The dog bit the man.", ["The dog bit the man."])).toBeCloseTo(100, 12);
  });

  it("averages only over the orders a short hypothesis has (where corpus BLEU is 0)", () => {
    // "test" vs "a test": p1 = 1/1, no 2-grams, so eff. order 1 and BP = exp(1 - 2/1) (sacreBLEU's own test case)
    expect(Math.abs(sentenceBleu("test", ["a test"]) - 100 * 0.3678794411714425)).toBeLessThan(1e-9);
    expect(bleu(["test"], ["a test"]).score).toBe(0);
    // "a little test" vs "a test": p1 = 2/3, p2 = 100/(2*2), p3 = 100/(4*1) with exp smoothing, order 3, BP = 1
    const expected = Math.exp((Math.log(200 / 3) + Math.log(25) + Math.log(25)) / 3);
    expect(Math.abs(sentenceBleu("a little test", ["a test"]) - expected)).toBeLessThan(1e-9);
  });

  it("is 0 without a matching unigram, takes several references, and rejects none", () => {
    expect(sentenceBleu("abc", ["xyz"])).toBe(0);
    expect(sentenceBleu("the cat sat on the mat", ["a dog", "the cat sat on the mat"])).toBeCloseTo(100, 12);
    expect(() => sentenceBleu("a", [""])).toThrow(/at least one non-empty reference/);
  });
});
