import { describe, expect, it } from "vitest";
import { MT19937 } from "./mt19937.js";
import { rouge, rougePair, rougeTokenize } from "./rouge.js";

describe("rouge per pair (rouge_score 0.1.2)", () => {
  it("matches the rouge_score README vectors", () => {
    const a = rougePair("testing", "testing one two");
    expect(a.rouge1.precision).toBe(1);
    expect(a.rouge1.recall).toBe(1 / 3);
    expect(a.rouge1.fmeasure).toBe(0.5);
    const b = rougePair("testing one", "testing one two");
    expect(b.rouge2.fmeasure).toBe(2 / 3);
    expect(b.rougeL.fmeasure).toBe(0.8);
  });

  it("tokenizes like rouge_score's default tokenizer", () => {
    expect(rougeTokenize("Hello, World! it's 3.5 café")).toEqual([
      "hello",
      "world",
      "it",
      "s",
      "3",
      "5",
      "caf",
    ]);
  });

  it("computes summary-level LCS when texts contain newlines", () => {
    const s = rougePair("the cat\nsat on the mat", "the cat sat\non the mat");
    // rouge_score's backtrack keeps one LCS per sentence pair, so "sat" is not recovered: 5 hits of 6
    expect(s.rougeLsum.fmeasure).toBeCloseTo(5 / 6, 15);
    expect(s.rougeL.fmeasure).toBe(1);
    const t = rougePair("a b c\nd e", "c d\na b");
    expect(t.rougeLsum.fmeasure).not.toBe(t.rougeL.fmeasure);
  });
});

describe("rouge corpus (HF evaluate bootstrap, seed 42)", () => {
  const preds = [
    "the cat sat on the mat",
    "a quick brown fox",
    "hello world",
    "I loved this book, truly great!",
    "Terrible CD.",
  ];
  const refs = [
    "the cat is on the mat",
    "the quick brown dog jumps",
    "goodbye world",
    "This book was great; I loved it.",
    "Great CD, loved every song.",
  ];

  it("reproduces HF evaluate's numbers exactly", () => {
    const r = rouge(preds, refs);
    expect(r.rouge1.hf).toBe(0.5665445665445665);
    expect(r.rougeL.hf).toBe(0.49731379731379743);
    expect(r.rougeL.mean).toBe(0.505006105006105);
  });

  it("depends on the seed", () => {
    const many = Array.from({ length: 60 }, (_, i) => `${"x ".repeat(i % 9)}common`);
    const manyRefs = many.map(() => "common ground");
    expect(rouge(many, manyRefs, { seed: 7 }).rouge1.hf).not.toBe(rouge(many, manyRefs).rouge1.hf);
  });
});

describe("MT19937", () => {
  it("matches the reference genrand_int32 outputs for init_genrand(5489)", () => {
    const mt = new MT19937(5489);
    expect([mt.nextUint32(), mt.nextUint32(), mt.nextUint32()]).toEqual([3499211612, 581869302, 3890346734]);
  });
});
