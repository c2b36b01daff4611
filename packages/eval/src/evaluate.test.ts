import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  evaluateByGroup,
  evaluatePerSample,
  evaluatePredictions,
  evaluateRecords,
  parsePredictions,
} from "./evaluate.js";
import type { TokenEncoder } from "./metrics/bertscore.js";
import { bertScore } from "./metrics/bertscore.js";
import { bleu, sentenceBleu } from "./metrics/bleu.js";
import { meteor, punktTokenizer, singleMeteorScore } from "./metrics/meteor/meteor.js";
import { wordTokenize } from "./metrics/meteor/wordTokenize.js";
import { rouge, rougePair } from "./metrics/rouge.js";
import { formatGroupTable, formatReport, formatTable } from "./table.js";
import { PUNKT_DIR } from "./testPaths.js";

const RECORDS = [
  {
    prediction: "the cat sat on the mat",
    reference: "the cat is on the mat",
    category: "pets",
    user_id: "u1",
  },
  {
    prediction: "a quick brown fox",
    reference: "the quick brown dog jumps",
    category: "pets",
    user_id: "u2",
  },
  { prediction: "hello world", reference: "goodbye world", category: "misc", user_id: "u1" },
  {
    prediction: "I loved this book, truly great!",
    reference: "This book was great; I loved it.",
    category: "books",
  },
  { prediction: "Terrible CD.", reference: "Great CD, loved every song.", category: "music" },
];

/** A toy per-token encoder: one one-hot vector per letter. */
const LETTERS: TokenEncoder = {
  id: "letters",
  encode: async (texts) =>
    texts.map((t) => {
      const chars = [...t.toLowerCase().replace(/[^a-z]/g, "")];
      const vectors = new Float32Array(chars.length * 26);
      chars.forEach((c, i) => {
        vectors[i * 26 + c.charCodeAt(0) - 97] = 1;
      });
      return {
        vectors,
        dim: 26,
        ids: Int32Array.from(chars, (c) => c.charCodeAt(0)),
        specialMask: new Uint8Array(chars.length),
      };
    }),
};

function writeJsonl(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "dep-eval-"));
  const path = join(dir, "preds.jsonl");
  writeFileSync(path, lines.join("\n"));
  return path;
}

describe("evaluatePredictions", () => {
  it("returns exactly the dep eval --json object", async () => {
    const path = writeJsonl([...RECORDS.map((r) => JSON.stringify(r)), ""]);
    const report = await evaluatePredictions(path, { punktDir: PUNKT_DIR });
    expect(Object.keys(report)).toEqual([
      "n",
      "bleu",
      "rouge1",
      "rouge2",
      "rougeL",
      "rougeLsum",
      "meteor",
      "bertscore",
    ]);
    expect(Object.keys(report.bleu)).toEqual(["score", "signature"]);
    expect(Object.keys(report.rouge1)).toEqual(["hf", "mean"]);
    expect(Object.keys(report.meteor)).toEqual(["score", "signature"]);
    expect(report.n).toBe(5);
    expect(report.bertscore).toBeNull();
    const preds = RECORDS.map((r) => r.prediction);
    const refs = RECORDS.map((r) => r.reference);
    expect(report.rouge1.hf).toBe(0.5665445665445665);
    expect(report.rougeL.hf).toBe(0.49731379731379743);
    expect(report.bleu.score).toBe(bleu(preds, refs).score);
    expect(report.rouge2).toEqual({ hf: rouge(preds, refs).rouge2.hf, mean: rouge(preds, refs).rouge2.mean });
    expect(report.meteor.score).toBe(meteor(preds, refs, { punktDir: PUNKT_DIR }).score);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("adds BERTScore when an encoder is given", async () => {
    const path = writeJsonl(RECORDS.map((r) => JSON.stringify(r)));
    const report = await evaluatePredictions(path, { punktDir: PUNKT_DIR, bertScoreEncoder: LETTERS });
    expect(report.bertscore?.signature).toBe("bertscore|encoder:letters|idf:no|rescaled:no");
    expect(report.bertscore?.p).toBeGreaterThan(0);
  });

  it("reports every malformed line with file and line number", async () => {
    const path = writeJsonl([
      JSON.stringify(RECORDS[0]),
      "{not json",
      "",
      JSON.stringify({ prediction: "x" }),
      "[1, 2]",
      JSON.stringify({ prediction: 3, reference: "y" }),
    ]);
    const err = await evaluatePredictions(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DEP_INPUT", name: "DepError" });
    const msg = (err as Error).message;
    expect(msg).toContain("4 malformed line(s)");
    expect(msg).toContain(`${path}:2: not valid JSON`);
    expect(msg).toContain(`${path}:4: field "reference" missing`);
    expect(msg).toContain(`${path}:5: expected a JSON object`);
    expect(msg).toContain(`${path}:6: field "prediction" missing or not a string`);
    expect(msg).not.toContain(`${path}:1:`);
    expect(msg).not.toContain(`${path}:3:`);
  });

  it("rejects empty and missing files", async () => {
    await expect(evaluatePredictions(writeJsonl(["", "  "]))).rejects.toMatchObject({ code: "DEP_INPUT" });
    await expect(evaluatePredictions("/nonexistent/preds.jsonl")).rejects.toMatchObject({
      code: "DEP_INPUT",
    });
  });

  it("keeps extra fields and breaks down by group", async () => {
    const records = parsePredictions(RECORDS.map((r) => JSON.stringify(r)).join("\r\n"));
    expect(records[0]!.user_id).toBe("u1");
    const groups = await evaluateByGroup(records, "user_id", { punktDir: PUNKT_DIR });
    expect(groups.map((g) => [g.group, g.report.n])).toEqual([
      ["(none)", 2],
      ["u1", 2],
      ["u2", 1],
    ]);
    const table = formatGroupTable("user_id", groups);
    expect(table.split("\n")).toHaveLength(5);
    expect(table).toContain("R-1");
  });
});

describe("evaluatePerSample", () => {
  const withIds = RECORDS.map((r, i) => ({ ...r, sample_id: `s${i}` }));

  it("leaves the corpus numbers exactly as evaluateRecords gives them", async () => {
    const opts = { punktDir: PUNKT_DIR, bertScoreEncoder: LETTERS };
    const per = await evaluatePerSample(withIds, opts);
    expect(per.corpus).toEqual(await evaluateRecords(withIds, opts));
    expect(per.format).toBe("dep-per-sample/1");
  });

  it("scores each sample as the single-pair metric implementations do, keyed by sample id", async () => {
    const per = await evaluatePerSample(withIds, { punktDir: PUNKT_DIR, bertScoreEncoder: LETTERS });
    expect(Object.keys(per.samples)).toEqual(["s0", "s1", "s2", "s3", "s4"]);
    const punkt = punktTokenizer(PUNKT_DIR);
    for (const [i, r] of withIds.entries()) {
      const s = per.samples[`s${i}`]!;
      expect(s.bleu).toBe(sentenceBleu(r.prediction, [r.reference]));
      const pair = rougePair(r.prediction, r.reference);
      expect(s.rouge1).toBe(pair.rouge1.fmeasure);
      expect(s.rougeL).toBe(pair.rougeL.fmeasure);
      expect(s.meteor).toBe(
        singleMeteorScore(wordTokenize(r.reference, punkt), wordTokenize(r.prediction, punkt)),
      );
      const one = await bertScore([r.prediction], [r.reference], LETTERS);
      expect(s.bertscore).toBeCloseTo(one.f, 12);
    }
    // the corpus values that are plain means are the means of the per-sample values
    const mean = (k: "meteor" | "rouge1" | "bertscore") =>
      Object.values(per.samples).reduce((a, s) => a + s[k]!, 0) / withIds.length;
    expect(mean("meteor")).toBeCloseTo(per.corpus.meteor.score, 12);
    expect(mean("rouge1")).toBeCloseTo(per.corpus.rouge1.mean, 12);
    expect(mean("bertscore")).toBeCloseTo(per.corpus.bertscore!.f, 12);
    // "hello world" vs "goodbye world": only a unigram matches, which sentence BLEU's effective order credits
    expect(per.samples.s2!.bleu).toBeGreaterThan(0);
    expect(bleu([RECORDS[2]!.prediction], [RECORDS[2]!.reference]).score).toBe(0);
    expect(per.signatures.bleu).toContain("eff:yes");
  });

  it("keys records without ids by line, has null BERTScore without an encoder, and rejects duplicate ids", async () => {
    const per = await evaluatePerSample(RECORDS, { punktDir: PUNKT_DIR });
    expect(Object.keys(per.samples)[0]).toBe("line 1");
    expect(per.samples["line 1"]!.bertscore).toBeNull();
    expect(per.signatures.bertscore).toBeNull();
    const dup = [withIds[0]!, { ...withIds[1]!, sample_id: "s0" }];
    await expect(evaluatePerSample(dup, {}, "p.jsonl")).rejects.toThrow(
      /p\.jsonl: sample id "s0" appears on records 1 and 2/,
    );
  });
});

describe("tables", () => {
  it("aligns columns and right-aligns numbers", () => {
    expect(
      formatTable([
        ["name", "x"],
        ["a", "1.5"],
        ["long", "10.25"],
      ]),
    ).toBe(["name  x", "----  -----", "a       1.5", "long  10.25"].join("\n"));
  });

  it("prints a report with its signatures", async () => {
    const report = await evaluatePredictions(writeJsonl(RECORDS.map((r) => JSON.stringify(r))), {
      punktDir: PUNKT_DIR,
    });
    const text = formatReport(report);
    expect(text).toContain("0.5665");
    expect(text).toContain("tok:13a");
    expect(text).toContain("nltk:3.10");
  });
});
