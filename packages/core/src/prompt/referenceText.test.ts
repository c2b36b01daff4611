// The prompt text is the reference's (issue 14, row 6): system text, `  - [Field]:` sub-bullets, ratings
// as Python prints floats, the reference's marker names, the Qwen2 string. The expected string is written
// out by hand from DEP data/personal_dataset.py and utils/templates.py.
import { describe, expect, it } from "vitest";
import { buildPrompt } from "./buildPrompt.js";
import { promptSegmentsWithRows } from "./segments.js";
import { MARKERS, pythonFloat } from "./text.js";
import type { PromptInput, PromptTokenizer } from "./types.js";

/** A Qwen2 tokenizer double: one id per character (the text is what is checked here). */
const qwen: PromptTokenizer = {
  info: { addBos: false, arch: "qwen2", chatTemplate: null },
  tokenize: (text) => Int32Array.from(text, (c) => c.charCodeAt(0)),
  applyChatTemplate: () => {
    throw new Error("not used for qwen2");
  },
};

const input: PromptInput = {
  target: { item: { title: "Dune", description: "A desert planet." }, rating: 5, title: "Loved it" },
  history: [
    {
      item: { title: "Emma", description: "A matchmaker." },
      rating: 4,
      title: "Witty",
      text: "Sharp and funny.",
    },
    { item: { title: "Ulysses", description: "One day." }, rating: 2.5, title: "Hard", text: "Dense." },
  ],
};

/** Characters the text markers take in a one-id-per-character tokenization. */
const markerChars = (p: ReturnType<typeof buildPrompt>) =>
  p.pieces
    .filter((x) => "text" in x)
    .map((x) => ("text" in x ? x.text : ""))
    .join("")
    .split(/(<his_token_start>|<his_token_end>|<diff_token_start>|<diff_token_end>)/)
    .filter((t) => (MARKERS as readonly string[]).includes(t))
    .reduce((a, t) => a + t.length, 0);

describe("the reference prompt text", () => {
  it("renders exactly the reference's string, soft slots where [HIS_TOKEN_i] / [DIFF_TOKEN_i] stand", () => {
    const p = buildPrompt(qwen, input);
    const text = p.pieces
      .map((x) => ("text" in x ? x.text : "softRow" in x ? `{${x.softRow}}` : "?"))
      .join("");
    const system =
      "Given the title and description of an item, along with the user's past reviews (including item title, item description, review rating, review title, review text, review embedding, review difference embedding), and the output review rating and review title, generate a personalized item review for the user.\n" +
      "Note: [Review Embedding] denotes a soft prompt of the review text and [Review Difference Embedding] denotes a soft prompt showing the difference between the review text and other reviews on the same item. [Review Embedding] and [Review Difference Embedding] should serve as hints for personalized review text generation.\n";
    const user =
      "[Item Title]: Dune\n[Item Description]: A desert planet.\n[User's Past Reviews]:\n" +
      "- [Review 1]:\n  - [Item Title]: Emma\n  - [Item Description]: A matchmaker.\n  - [Review Rating]: 4.0\n" +
      "  - [Review Title]: Witty\n  - [Review Text]: Sharp and funny.\n" +
      "  - [Review Embedding]: <his_token_start>{0}<his_token_end>\n" +
      "  - [Review Difference Embedding]: <diff_token_start>{2}<diff_token_end>\n" +
      "- [Review 2]:\n  - [Item Title]: Ulysses\n  - [Item Description]: One day.\n  - [Review Rating]: 2.5\n" +
      "  - [Review Title]: Hard\n  - [Review Text]: Dense.\n" +
      "  - [Review Embedding]: <his_token_start>{1}<his_token_end>\n" +
      "  - [Review Difference Embedding]: <diff_token_start>{3}<diff_token_end>\n" +
      "[Output Review Rating]: 5.0\n[Output Review Title]: Loved it\n";
    expect(text).toBe(
      `<|im_start|>system\n${system}<|im_end|><|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`,
    );
    expect(p.renderer).toBe("reference-qwen2");
  });
  it("indexes diff slots past every soft pair the SAE saw (softPairs), not only the shown ones", () => {
    const p = buildPrompt(qwen, input, { softPairs: 8 });
    expect(p.pieces.filter((x) => "softRow" in x).map((x) => ("softRow" in x ? x.softRow : -1))).toEqual([
      0, 8, 1, 9,
    ]);
    expect(p.nSoftRows).toBe(16);
  });
  it("markers rows (row 8): each marker is one position fed its own frozen row, around the slot", () => {
    const p = buildPrompt(qwen, input, { markers: "rows" });
    const text = buildPrompt(qwen, input); // text markers: the same string, the names tokenized
    const shown = p.pieces
      .map((x) => ("text" in x ? x.text : "marker" in x ? x.name : `{${x.softRow}}`))
      .join("");
    expect(shown).toBe(
      text.pieces.map((x) => ("text" in x ? x.text : "softRow" in x ? `{${x.softRow}}` : "")).join(""),
    );
    const markers = Array.from(p.markerIndex).filter((m) => m >= 0);
    expect(markers).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    for (const [pos, m] of p.markerIndex.entries()) expect(p.inputIds[pos] === -2).toBe(m >= 0);
    expect(p.nPositions).toBe(text.nPositions - markerChars(text) + 8);
    const H = 3;
    const soft = Float32Array.from({ length: 4 * H }, (_, i) => 10 + Math.floor(i / H)); // soft row r = 10 + r
    const rows = Float32Array.from({ length: 4 * H }, (_, i) => -1 - Math.floor(i / H)); // marker m = -1 - m
    const { segments, embeddingRows } = promptSegmentsWithRows(p, soft, H, rows);
    expect(embeddingRows[0]).toEqual([-1, 0, -1]); // <his_token_start> his_0 <his_token_end>
    const first = segments.find((s) => "embeddings" in s) as { embeddings: Float32Array };
    expect(Array.from(first.embeddings)).toEqual([-1, -1, -1, 10, 10, 10, -2, -2, -2]);
    expect(() => promptSegmentsWithRows(p, soft, H, null)).toThrow(/marker rows/);
  });

  it("prints ratings as Python's str(float)", () => {
    expect([5, 4.5, 1, "3"].map(pythonFloat)).toEqual(["5.0", "4.5", "1.0", "3"]);
  });
});
