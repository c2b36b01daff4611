import { describe, expect, it } from "vitest";
import { bertScore, type TokenEmbeddings, type TokenEncoder } from "./bertscore.js";

// A toy encoder: whitespace tokens mapped to fixed 2-D vectors, wrapped in BOS/EOS.
const VOCAB: Record<string, [number, number]> = {
  "<s>": [0, -1],
  "</s>": [-1, 0],
  a: [1, 0],
  b: [0, 1],
  c: [2, 2], // not unit length: the metric normalises
  d: [0, -3],
};
const IDS: Record<string, number> = { "<s>": 0, "</s>": 1, a: 2, b: 3, c: 4, d: 5 };

const toyEncoder: TokenEncoder = {
  id: "toy-2d",
  async encode(texts: string[]): Promise<TokenEmbeddings[]> {
    return texts.map((t) => {
      const toks = ["<s>", ...t.split(" ").filter(Boolean), "</s>"];
      const vectors = new Float32Array(toks.length * 2);
      for (const [i, tok] of toks.entries()) vectors.set(VOCAB[tok]!, i * 2);
      return {
        vectors,
        dim: 2,
        ids: Int32Array.from(toks, (tok) => IDS[tok]!),
        specialMask: Uint8Array.from(toks, (tok) => (tok.startsWith("<") ? 1 : 0)),
      };
    });
  },
};

const S = Math.SQRT1_2;

describe("bertScore", () => {
  it("greedy-matches cosines with BOS/EOS weighted 0 (idf off)", async () => {
    const r = await bertScore(["a b"], ["a c"], toyEncoder);
    // P: a->a = 1, b->c = 1/sqrt2; R: a->a = 1, c->{a,b} = 1/sqrt2
    expect(r.perPair[0]!.p).toBeCloseTo((1 + S) / 2, 12);
    expect(r.perPair[0]!.r).toBeCloseTo((1 + S) / 2, 12);
    expect(r.f).toBeCloseTo((1 + S) / 2, 12);
    expect(r.signature).toBe("bertscore|encoder:toy-2d|idf:no|rescaled:no");
  });

  it("lets special tokens of the other side win the max, as bert_score does", async () => {
    // d = (0,-1) direction equals <s>: P = 1; a is orthogonal or opposite to every candidate token: R = 0
    const r = await bertScore(["d"], ["a"], toyEncoder);
    expect(r.perPair[0]).toEqual({ p: 1, r: 0, f: 0 });
  });

  it("weights by idf log((M+1)/(df+1)) over the references", async () => {
    const r = await bertScore(["a b", "c"], ["a c", "a a b"], toyEncoder, { idf: true });
    // df(a) = 2 -> weight log(3/3) = 0, so only b (pair 1) and c / b count: every value is 1/sqrt2
    expect(r.perPair[0]!.p).toBeCloseTo(S, 12);
    expect(r.perPair[0]!.r).toBeCloseTo(S, 12);
    expect(r.perPair[1]!.p).toBeCloseTo(S, 12);
    expect(r.perPair[1]!.r).toBeCloseTo(S, 12);
    expect(r.signature).toContain("idf:yes");
  });

  it("rescales with a baseline", async () => {
    const r = await bertScore(["a b"], ["a c"], toyEncoder, { baseline: { p: 0.5, r: 0.25, f: 0.5 } });
    expect(r.perPair[0]!.p).toBeCloseTo(((1 + S) / 2 - 0.5) / 0.5, 12);
    expect(r.perPair[0]!.r).toBeCloseTo(((1 + S) / 2 - 0.25) / 0.75, 12);
    expect(r.signature).toContain("rescaled:yes(0.5,0.25,0.5)");
  });

  it("rejects mismatched inputs and inconsistent encoders", async () => {
    await expect(bertScore(["a"], [], toyEncoder)).rejects.toMatchObject({ code: "DEP_INPUT" });
    const bad: TokenEncoder = {
      id: "bad",
      encode: async (texts) =>
        texts.map(() => ({
          vectors: new Float32Array(3),
          dim: 2,
          ids: new Int32Array(2),
          specialMask: new Uint8Array(2),
        })),
    };
    await expect(bertScore(["a"], ["a"], bad)).rejects.toMatchObject({ code: "DEP_ENCODER" });
  });
});
