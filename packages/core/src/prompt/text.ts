// The prompt's wording (SPEC §5). Slot markers are plain text: a frozen GGUF model cannot grow its vocabulary.
import type { PromptHistoryReview, PromptInput } from "./types.js";

export const SYSTEM_TEXT =
  "Given the title and description of an item, along with the user's past reviews (item title, item " +
  "description, review rating, review title, review text, review embedding, review difference embedding), " +
  "and the output review rating and review title, generate a personalized item review for the user. " +
  "[Review Embedding] is a soft prompt of the review text and [Review Difference Embedding] a soft prompt " +
  "of how it differs from other reviews of the same item; use them as hints.";

/** Stand-in for a soft slot inside rendered text; split out again after the chat template is applied. */
export const SLOT_MARK = (row: number) => `\uE000SLOT${row}\uE000`;
export const SLOT_PATTERN = /\uE000SLOT(\d+)\uE000/;

/**
 * Which soft slots a prompt carries: both (DEP), his only, diff only (ablations), one user token before
 * the history (pplug-style), or none.
 */
export type SlotKinds = "both" | "his" | "diff" | "user" | "none";
export type SoftSlotKinds = Exclude<SlotKinds, "none">;

function historyBlock(i: number, k: number, r: PromptHistoryReview, slots: SlotKinds): string {
  const lines = [
    `- [Review ${i + 1}]:`,
    `  [Item Title]: ${r.item.title}`,
    `  [Item Description]: ${r.item.description}`,
    `  [Review Rating]: ${r.rating}`,
    `  [Review Title]: ${r.title}`,
    `  [Review Text]: ${r.text}`,
  ];
  if (slots === "both" || slots === "his")
    lines.push(`  [Review Embedding]: <his_start>${SLOT_MARK(i)}<his_end>`);
  if (slots === "both" || slots === "diff") {
    lines.push(`  [Review Difference Embedding]: <diff_start>${SLOT_MARK(k + i)}<diff_end>`);
  }
  return lines.join("\n");
}

/** The user message for the first `k` history reviews; soft slots marked with SLOT_MARK. */
export function userMessage(input: PromptInput, k: number, slots: SlotKinds): string {
  const parts = [
    `[Item Title]: ${input.target.item.title}`,
    `[Item Description]: ${input.target.item.description}`,
  ];
  if (input.profileSummary !== undefined) parts.push(`[User Profile Summary]: ${input.profileSummary}`);
  if (k > 0) {
    if (slots === "user") parts.push(`[User Embedding]: <user_start>${SLOT_MARK(0)}<user_end>`);
    parts.push("[User's Past Reviews]:");
    for (let i = 0; i < k; i++) parts.push(historyBlock(i, k, input.history[i]!, slots));
  }
  parts.push(`[Output Review Rating]: ${input.target.rating}`);
  parts.push(`[Output Review Title]: ${input.target.title}`);
  return parts.join("\n");
}
