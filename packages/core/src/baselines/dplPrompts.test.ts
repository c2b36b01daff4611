// The DPL stage prompts for a fixed sample, against strings written out by hand from DPL's model-infer.py
// (system prompts), utils/preprocess.py (create_diff_inp, create_summ_inp, create_inp) and
// utils/templates.py (Qwen2PromptTemplate with a system prompt: no newline after the system turn).
import { describe, expect, it } from "vitest";
import type { Dataset, DplRow } from "../data/types.js";
import type { PromptTokenizer } from "../prompt/types.js";
import { type DplPlan, dplReviewPrompt, dplSummaryPrompt } from "./dpl.js";
import {
  DPL_DIFF_SYSTEM,
  dplDiffMessage,
  dplFit,
  dplRender,
  dplReviewText,
  dplSummarySystem,
} from "./dplPrompts.js";

/** A Qwen2 tokenizer double: one id per character (the text is what is checked here). */
const qwen: PromptTokenizer = {
  info: { addBos: false, arch: "qwen2", chatTemplate: null },
  tokenize: (text) => Int32Array.from(text, (c) => c.charCodeAt(0)),
  applyChatTemplate: () => {
    throw new Error("not used for qwen2");
  },
};

const dune = { title: "Dune", description: "A desert planet." };
const emma = { title: "Emma", description: "A matchmaker." };
const row: DplRow = {
  userId: "U1",
  category: "Books",
  split: "test",
  profile: [],
  data: { asin: "D", rating: 5, title: "Loved it", text: "", timestamp: 0 },
};
const dataset = { items: new Map([["Books\u0000D", { ...dune, asin: "D", category: "Books" }]]) } as Dataset;
const past = [
  { item: emma, review: { rating: 4, title: "Witty", text: "Sharp and funny." } },
  {
    item: { title: "Ulysses", description: "One day." },
    review: { rating: 2.5, title: "Hard", text: "Dense." },
  },
];
const plan = (nDiffs: number): DplPlan => ({
  row,
  past,
  diffs: [emma, { title: "Ulysses", description: "One day." }].slice(0, nDiffs).map((item, i) => ({
    key: `k${i}`,
    asin: `A${i}`,
    item,
    peers: 1,
    prompt: { text: "", tokens: new Int32Array(), shown: 1, renderer: "" },
  })),
});
const qwenChat = (system: string, user: string) =>
  `<|im_start|>system\n${system}<|im_end|><|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
const settings = { maxLength: 100_000 };

describe("DPL's stage prompts", () => {
  it("stage 1: the item, the user's review and the others', under the difference system prompt", () => {
    const user = dplDiffMessage(emma, past[0]!.review, [
      { rating: 1, title: "Dull", text: "Boring." },
      { rating: 5, title: "Classic", text: "A joy." },
    ]);
    const p = dplRender(qwen, DPL_DIFF_SYSTEM, user);
    expect(p.text).toBe(
      "<|im_start|>system\nGiven the title and description of an item, along with the current user's review and 4 other users' reviews for the same item, analyze and output the differences between the current user and other users by considering the following aspects:\n" +
        "[Writing Style]: word choice and sentence structure.\n" +
        "[Emotional Style]: sentiment tone (positive, negative, or neutral).\n" +
        "[Semantic Style]: information density and contextual coherence.\n" +
        "<|im_end|><|im_start|>user\n" +
        "[Item Information]:\n- [Item Title]: Emma\n- [Item Description]: A matchmaker.\n" +
        "\n[Review by the current user]:\n- [User's Rating]: 4.0\n- [Review Title]: Witty\n- [Review Text]: Sharp and funny.\n" +
        "\n[Review by the other user 1]:\n- [User's Rating]: 1.0\n- [Review Title]: Dull\n- [Review Text]: Boring.\n" +
        "\n[Review by the other user 2]:\n- [User's Rating]: 5.0\n- [Review Title]: Classic\n- [Review Text]: A joy.\n" +
        "<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(p.renderer).toBe("reference-qwen2");
    expect(p.tokens.length).toBe(p.text.length);
  });

  it("stage 2: each item's differences, then the past reviews, under the summary system prompt", () => {
    const p = dplSummaryPrompt(qwen, plan(2), ["Terser.", "More upbeat."], settings);
    const system =
      "Given titles and descriptions of 2 items, along with the differences in writing style, emotional style, and semantic style between the current user's review and other users' reviews for each item, and the current user's past reviews, generate a profile summary of the current user.\n" +
      "The summary should be formatted as follows:\n[Summary]: <summary>";
    const user =
      "[Item Title]: Emma\n[Item Description]: A matchmaker.\n[Differences between the current user's review and the other user's reviews]:\nTerser.\n" +
      "\n" +
      "[Item Title]: Ulysses\n[Item Description]: One day.\n[Differences between the current user's review and the other user's reviews]:\nMore upbeat.\n" +
      "\n[User's Past Reviews]:\n" +
      "[Review 1]:\n- [Item Title]: Emma\n- [Item Description]: A matchmaker.\n- [Review Rating]: 4.0\n- [Review Title]: Witty\n- [Review Text]: Sharp and funny.\n" +
      "[Review 2]:\n- [Item Title]: Ulysses\n- [Item Description]: One day.\n- [Review Rating]: 2.5\n- [Review Title]: Hard\n- [Review Text]: Dense.\n" +
      "\n";
    expect(p.text).toBe(qwenChat(system, user));
    expect(p.shown).toBe(2);
    expect(dplSummarySystem(1)).toContain("Given titles and descriptions of an item, along");
  });

  it("stage 3: the target, the past reviews and the summary without its [Summary]: prefix", () => {
    const p = dplReviewPrompt(qwen, plan(1), "[Summary]:  Terse, upbeat.", settings, dataset);
    const system =
      "Given the title and description of an item, along with the current user's past reviews and profile summary, and the output review rating and review title, generate a personalized item review for the current user.\n" +
      "The review should be formatted as follows:\n[Review]: <review>";
    const user =
      "[Item Title]: Dune\n[Item Description]: A desert planet.\n[User's Past Reviews]:\n" +
      "[Review 1]:\n- [Item Title]: Emma\n- [Item Description]: A matchmaker.\n- [Review Rating]: 4.0\n- [Review Title]: Witty\n- [Review Text]: Sharp and funny.\n" +
      "[Review 2]:\n- [Item Title]: Ulysses\n- [Item Description]: One day.\n- [Review Rating]: 2.5\n- [Review Title]: Hard\n- [Review Text]: Dense.\n" +
      "\n[User's Profile Summary]:\nTerse, upbeat.\n[Output Review Rating]: 5.0\n[Output Review Title]: Loved it\n";
    expect(p.text).toBe(qwenChat(system, user));
    expect(dplReviewText("[Review]: Great book.")).toBe("Great book.");
    expect(dplReviewText(" [Review]: kept")).toBe(" [Review]: kept");
  });

  it("drops entries from the end until a prompt fits the budget, down to one", () => {
    const whole = dplReviewPrompt(qwen, plan(1), "S", settings, dataset);
    const one = dplReviewPrompt(qwen, plan(1), "S", { maxLength: whole.tokens.length - 1 }, dataset);
    expect(one.shown).toBe(1);
    expect(one.text).not.toContain("[Review 2]");
    expect(dplReviewPrompt(qwen, plan(1), "S", { maxLength: 10 }, dataset).shown).toBe(1);
    const fit = dplFit(8, 50, (n) => {
      return { text: "", tokens: new Int32Array(n * 10), renderer: "" };
    });
    expect(fit.shown).toBe(5);
  });

  it("uses the model's own template for models other than qwen2", () => {
    const llama: PromptTokenizer = {
      ...qwen,
      info: {
        addBos: true,
        arch: "llama",
        chatTemplate: "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}",
      },
    };
    const p = dplRender(llama, "SYS", "USER");
    expect(p.renderer).toBe("jinja");
    expect(p.text).toBe("<system>SYS<user>USER");
  });
});
