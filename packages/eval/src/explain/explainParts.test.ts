import { Rng } from "@dep/core";
import { describe, expect, it } from "vitest";
import { crossValidatedBestUnit, rocAuc } from "./auc.js";
import { countWords, distinctiveWords, labelTokens } from "./logOdds.js";

describe("rocAuc", () => {
  it("is 1 for perfect separation, 0 for reversed, 0.5 for ties, NaN with one class", () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(rocAuc([1, 1, 1, 1], [false, true, false, true])).toBe(0.5);
    // one positive ranked above 2 of 3 negatives
    expect(rocAuc([0.5, 0.1, 0.2, 0.9], [true, false, false, false])).toBeCloseTo(2 / 3, 12);
    expect(rocAuc([1, 2], [true, true])).toBeNaN();
  });
});

describe("crossValidatedBestUnit", () => {
  // 60 users, 40 units of noise; unit 7 carries the trait (plus noise)
  const rng = new Rng(3);
  const n = 60;
  const h = 40;
  const labels = Array.from({ length: n }, (_, i) => i % 3 === 0);
  const values = new Float32Array(n * h);
  for (let u = 0; u < n; u++) for (let j = 0; j < h; j++) values[u * h + j] = rng.normal();
  for (let u = 0; u < n; u++) values[u * h + 7]! += labels[u] ? 2 : 0;

  it("finds the informative unit and scores it well on users it did not choose it on", () => {
    const r = crossValidatedBestUnit({ h, values }, labels, 42);
    expect(r.units.every((u) => u === 7)).toBe(true);
    expect(r.heldOutAuc).toBeGreaterThan(0.85);
  });

  it("stays near chance on pure noise although the in-sample best looks good", () => {
    const noise = Float32Array.from(values);
    for (let u = 0; u < n; u++) noise[u * h + 7] = rng.normal();
    const r = crossValidatedBestUnit({ h, values: noise }, labels, 42);
    expect(r.inSampleAuc).toBeGreaterThan(0.65);
    expect(Math.abs(r.heldOutAuc - 0.5)).toBeLessThan(0.2);
  });
});

describe("unit labels (weighted log-odds, informative Dirichlet prior)", () => {
  it("names the words over-represented in the chosen reviews, not the common ones", () => {
    const reviews = [
      "the prose is gorgeous and the prose sings",
      "gorgeous prose, the sentences sing",
      "the plot twists kept me guessing",
      "the plot was thin and the ending rushed",
      "the characters felt real and the plot moved",
      "the ending was the best part of the plot",
    ];
    const all = countWords(reviews);
    const label = distinctiveWords(countWords(reviews.slice(0, 2)), all, 3);
    expect(label.map((w) => w.word)).toEqual(["prose", "gorgeous"]);
    expect(label[0]!.z).toBeGreaterThan(0);
    expect(labelTokens("It's a GREAT read!")).toEqual(["it's", "great", "read"]);
  });
});
