// Vectors generated with NLTK (Debian's 3.8, patched at run time to 3.10 behaviour) and numpy 1.24;
// see test-vectors/README.md for how.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { itWithPunkt, PUNKT_DIR, VECTORS_DIR } from "../../testPaths.js";
import { numpyMean } from "../pyText.js";
import { bootstrapMedians } from "../rouge.js";
import { meteor, punktTokenizer } from "./meteor.js";
import { porterStem } from "./porter.js";
import type { PunktSentenceTokenizer } from "./punkt.js";
import { sharedWordNet } from "./wordnet.js";
import { wordTokenize } from "./wordTokenize.js";

interface Vectors {
  porter: Record<string, string>;
  punkt: Array<{ text: string; sentences: string[] }>;
  wordTokenize: Array<{ text: string; tokens: string[] }>;
  synonyms: Record<string, string[]>;
  meteor: { pairs: Array<{ prediction: string; reference: string; score: number }>; mean: number };
  hfBootstrap: Array<{ seed: number; columns: number[][]; medians: number[] }>;
  numpyMean: Array<{ values: number[]; mean: number }>;
}

const vectors = JSON.parse(readFileSync(join(VECTORS_DIR, "nltk310-emulated.json"), "utf8")) as Vectors;

describe("against NLTK-generated vectors", () => {
  let punkt: PunktSentenceTokenizer | null = null;
  beforeAll(() => {
    if (PUNKT_DIR) punkt = punktTokenizer(PUNKT_DIR);
  });

  it("Porter stems every word like NLTK", () => {
    const wrong = Object.entries(vectors.porter).filter(([w, s]) => porterStem(w) !== s);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(Object.keys(vectors.porter).length).toBeGreaterThan(5000);
  });

  itWithPunkt("splits sentences like Punkt", () => {
    for (const v of vectors.punkt) expect(punkt?.tokenize(v.text), v.text).toEqual(v.sentences);
  });

  itWithPunkt("tokenizes words like word_tokenize", () => {
    for (const v of vectors.wordTokenize) expect(wordTokenize(v.text, punkt), v.text).toEqual(v.tokens);
  });

  it("finds the same WordNet synonyms", () => {
    const wn = sharedWordNet();
    for (const [w, syns] of Object.entries(vectors.synonyms)) {
      expect([...wn.synonyms(w)].sort(), w).toEqual([...syns].sort());
    }
  });

  itWithPunkt("scores METEOR per pair and on average within 1e-9", () => {
    const preds = vectors.meteor.pairs.map((p) => p.prediction);
    const refs = vectors.meteor.pairs.map((p) => p.reference);
    const r = meteor(preds, refs, { punktDir: PUNKT_DIR });
    vectors.meteor.pairs.forEach((p, i) => {
      expect(Math.abs(r.perPair[i]! - p.score), `${p.prediction} | ${p.reference}`).toBeLessThan(1e-9);
    });
    expect(Math.abs(r.score - vectors.meteor.mean)).toBeLessThan(1e-9);
  });

  it("reproduces HF rouge's bootstrap median bit for bit", () => {
    for (const v of vectors.hfBootstrap) {
      const cols = v.columns.map((c) => Float64Array.from(c));
      expect(bootstrapMedians(cols, v.seed)).toEqual(v.medians);
    }
  });

  it("reproduces np.mean bit for bit", () => {
    for (const v of vectors.numpyMean) expect(numpyMean(v.values)).toBe(v.mean);
  });
});
