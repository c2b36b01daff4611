import { describe, expect, it } from "vitest";
import { useTinyLlm } from "../testing/tinyLlm.js";
import { buildPrompt, type PromptInput, promptSegments } from "./index.js";

const tiny = useTinyLlm({ seed: 5, contextSize: 1024 });

const item = (i: number) => ({
  title: `Item number ${i}`,
  description: `A description of item ${i} that is long enough.`,
});
const input = (k: number): PromptInput => ({
  target: { item: item(0), rating: 4, title: "Great read" },
  history: Array.from({ length: k }, (_, i) => ({
    item: item(i + 1),
    rating: 5 - (i % 3),
    title: `Review title ${i}`,
    text: `This is the text of review ${i}; it says things about item ${i + 1}.`,
  })),
});

describe("buildPrompt", () => {
  it("places one his and one diff slot per history review, in order, inside the chat template", () => {
    const p = buildPrompt(tiny.llm, input(3));
    expect(p.nHistory).toBe(3);
    const rows = p.pieces.filter((x) => "softRow" in x).map((x) => ("softRow" in x ? x.softRow : -1));
    expect(rows).toEqual([0, 3, 1, 4, 2, 5]);
    const text = p.pieces.map((x) => ("text" in x ? x.text : "<SLOT>")).join("");
    expect(text).toContain("  - [Review Embedding]: <his_token_start><SLOT><his_token_end>\n");
    expect(text).toContain("  - [Review Difference Embedding]: <diff_token_start><SLOT><diff_token_end>\n");
    expect(text.indexOf("[Review 1]")).toBeLessThan(text.indexOf("[Review 2]"));
    expect(text).toContain("[Output Review Rating]: 4.0\n[Output Review Title]: Great read\n");
    expect(text).toContain("This is the text of review 2");
    // positions: tokens of every text piece plus one per slot, with -1 marking the slots
    expect(p.inputIds.length).toBe(p.nPositions);
    expect(Array.from(p.slotIndex).filter((s) => s >= 0)).toEqual(rows);
    for (const [i, s] of p.slotIndex.entries()) expect(p.inputIds[i] === -1).toBe(s >= 0);
    expect(p.inputIds[0]).toBe(tiny.llm.info.bos);
  });

  it("drops history reviews from the end until the prompt fits, down to one", () => {
    const full = buildPrompt(tiny.llm, input(6));
    const cut = buildPrompt(tiny.llm, input(6), { maxLength: full.nPositions - 1 });
    expect(cut.nHistory).toBe(5);
    expect(cut.nPositions).toBeLessThanOrEqual(full.nPositions - 1);
    const one = buildPrompt(tiny.llm, input(1));
    expect(() => buildPrompt(tiny.llm, input(6), { maxLength: one.nPositions - 1 })).toThrow(/budget/);
    expect(buildPrompt(tiny.llm, input(6), { maxLength: one.nPositions }).nHistory).toBe(1);
  });

  it("renders the no-soft and non-personalized variants", () => {
    const noSoft = buildPrompt(tiny.llm, input(2), { softSlots: false });
    expect(noSoft.pieces.every((x) => "text" in x)).toBe(true);
    expect(noSoft.pieces.map((x) => ("text" in x ? x.text : "")).join("")).toContain("[Review 2]");
    const none = buildPrompt(tiny.llm, input(2), { noHistory: true });
    expect(none.nHistory).toBe(0);
    expect(none.pieces.map((x) => ("text" in x ? x.text : "")).join("")).not.toContain(
      "[User's Past Reviews]",
    );
  });

  it("carries only his or only diff slots for the ablations, keeping the row numbering", () => {
    const his = buildPrompt(tiny.llm, input(3), { slotKinds: "his" });
    expect(his.pieces.filter((x) => "softRow" in x).map((x) => ("softRow" in x ? x.softRow : -1))).toEqual([
      0, 1, 2,
    ]);
    const diff = buildPrompt(tiny.llm, input(3), { slotKinds: "diff" });
    expect(diff.pieces.filter((x) => "softRow" in x).map((x) => ("softRow" in x ? x.softRow : -1))).toEqual([
      3, 4, 5,
    ]);
    expect(diff.pieces.map((x) => ("text" in x ? x.text : "")).join("")).not.toContain("<his_token_start>");
  });

  it("carries one user slot before the history for pplug-style", () => {
    const p = buildPrompt(tiny.llm, input(3), { slotKinds: "user" });
    expect(p.pieces.filter((x) => "softRow" in x).map((x) => ("softRow" in x ? x.softRow : -1))).toEqual([0]);
    expect(p.nSoftRows).toBe(1);
    const text = p.pieces.map((x) => ("text" in x ? x.text : "")).join("");
    expect(text.indexOf("[User Embedding]: <user_start>")).toBeLessThan(
      text.indexOf("[User's Past Reviews]"),
    );
    expect(text).not.toContain("<his_token_start>");
    expect(text).toContain("[Review 3]:");
    const width = tiny.llm.info.nEmbd;
    expect(promptSegments(p, new Float32Array(width), width).filter((s) => "embeddings" in s)).toHaveLength(
      1,
    );
    expect(() => promptSegments(p, new Float32Array(6 * width), width)).toThrow(/needs 1 rows/);
  });

  it("shows a profile summary (pag) on its own line before the past reviews, and nothing else changes", () => {
    const textOf = (p: ReturnType<typeof buildPrompt>) =>
      p.pieces.map((x) => ("text" in x ? x.text : "")).join("");
    const plain = textOf(buildPrompt(tiny.llm, input(2), { softSlots: false }));
    const summary = "Likes long reads; rates 4 or 5; writes briefly.";
    const withSummary = buildPrompt(tiny.llm, { ...input(2), profileSummary: summary }, { softSlots: false });
    expect(textOf(withSummary)).toBe(
      plain.replace("[User's Past Reviews]:", `[User Profile Summary]: ${summary}\n[User's Past Reviews]:`),
    );
    expect(textOf(withSummary).indexOf("[Item Description]")).toBeLessThan(
      textOf(withSummary).indexOf("[User Profile Summary]"),
    );
    // kept when descriptions are cut, and when the budget drops history reviews
    const options = { softSlots: false, maxDescriptionChars: 10 };
    const all = buildPrompt(tiny.llm, { ...input(6), profileSummary: summary }, options);
    const cut = buildPrompt(
      tiny.llm,
      { ...input(6), profileSummary: summary },
      { ...options, maxLength: all.nPositions - 1 },
    );
    expect(cut.nHistory).toBe(5);
    expect(textOf(cut)).toContain(`[User Profile Summary]: ${summary}\n[User's Past Reviews]:`);
  });

  it("can cut item descriptions at a word boundary", () => {
    const long = input(1);
    long.target.item.description = "word ".repeat(100).trim();
    const p = buildPrompt(tiny.llm, long, { maxDescriptionChars: 30 });
    const text = p.pieces.map((x) => ("text" in x ? x.text : "")).join("");
    expect(text).toContain("[Item Description]: word word word word word word...");
    expect(p.nPositions).toBeLessThan(buildPrompt(tiny.llm, long).nPositions);
  });

  it("turns a prompt and its soft rows into LLM segments, merging nothing across text", () => {
    const p = buildPrompt(tiny.llm, input(2));
    const width = tiny.llm.info.nEmbd;
    const rows = Float32Array.from({ length: 4 * width }, (_, i) => Math.floor(i / width)); // row r filled with r
    const segs = promptSegments(p, rows, width);
    const emb = segs.filter((s) => "embeddings" in s).map((s) => ("embeddings" in s ? s.embeddings[0] : -1));
    expect(emb).toEqual([0, 2, 1, 3]);
    expect(() => promptSegments(p, new Float32Array(3 * width), width)).toThrow(/needs 4 rows/);
  });

  it("feeds the LLM: the prompt runs end to end", async () => {
    const p = buildPrompt(tiny.llm, input(2));
    const width = tiny.llm.info.nEmbd;
    const res = await tiny.llm.complete(promptSegments(p, new Float32Array(4 * width).fill(0.01), width), {
      maxTokens: 4,
    });
    expect(res.promptPositions).toBe(p.nPositions);
  });
});
