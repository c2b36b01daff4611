import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateByGroup, evaluatePredictions, parsePredictions } from "./evaluate.js";
import type { TokenEncoder } from "./metrics/bertscore.js";
import { bleu } from "./metrics/bleu.js";
import { meteor } from "./metrics/meteor/meteor.js";
import { rouge } from "./metrics/rouge.js";
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
    const encoder: TokenEncoder = {
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
    const path = writeJsonl(RECORDS.map((r) => JSON.stringify(r)));
    const report = await evaluatePredictions(path, { punktDir: PUNKT_DIR, bertScoreEncoder: encoder });
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
