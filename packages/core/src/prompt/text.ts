// The prompt's wording, exactly as the reference writes it (DEP data/personal_dataset.py): the system
// text, the field layout with `  - [Field]:` sub-bullets, ratings as Python prints the stored floats, and
// the marker tokens around each soft slot (text here; the reference added them as special tokens).
import type { PromptHistoryReview, PromptInput } from "./types.js";

export const SYSTEM_TEXT =
  "Given the title and description of an item, along with the user's past reviews (including item title, " +
  "item description, review rating, review title, review text, review embedding, review difference " +
  "embedding), and the output review rating and review title, generate a personalized item review for the " +
  "user.\nNote: [Review Embedding] denotes a soft prompt of the review text and [Review Difference " +
  "Embedding] denotes a soft prompt showing the difference between the review text and other reviews on " +
  "the same item. [Review Embedding] and [Review Difference Embedding] should serve as hints for " +
  "personalized review text generation.\n";

/** The reference's added marker tokens, in its order (create-dataset.py `new_tokens[16:20]`). */
export const MARKERS = [
  "<his_token_start>",
  "<his_token_end>",
  "<diff_token_start>",
  "<diff_token_end>",
] as const;

/**
 * How the markers reach the LLM: "rows" (default, the reference: each marker is one added token, i.e. one
 * input position with its own embedding row, frozen) or "text" (the marker names as plain text, tokenized
 * by the model; what a GGUF vocabulary allows without new rows).
 */
export type MarkerMode = "rows" | "text";

/** Stand-in for a marker row (index into MARKERS) inside rendered text, like SLOT_MARK. */
export const MARKER_MARK = (m: number) => `\uE001M${m}\uE001`;

function marker(m: number, mode: MarkerMode): string {
  return mode === "rows" ? MARKER_MARK(m) : MARKERS[m]!;
}

/** Stand-in for a soft slot inside rendered text; split out again after the chat template is applied. */
export const SLOT_MARK = (row: number) => `\uE000SLOT${row}\uE000`;
export const SLOT_PATTERN = /\uE000SLOT(\d+)\uE000|\uE001M(\d)\uE001/;

/**
 * Which soft slots a prompt carries: both (DEP), his only, diff only (ablations), one user token before
 * the history (pplug-style), or none.
 */
export type SlotKinds = "both" | "his" | "diff" | "user" | "none";
export type SoftSlotKinds = Exclude<SlotKinds, "none">;

/** A rating as the reference prints it: Python's str() of the stored float (5 -> "5.0"). */
export function pythonFloat(value: number | string): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return `${value}.0`;
  return String(value);
}

function historyBlock(
  i: number,
  pairs: number,
  r: PromptHistoryReview,
  slots: SlotKinds,
  markers: MarkerMode,
): string {
  let s =
    `- [Review ${i + 1}]:\n` +
    `  - [Item Title]: ${r.item.title}\n` +
    `  - [Item Description]: ${r.item.description}\n` +
    `  - [Review Rating]: ${pythonFloat(r.rating)}\n` +
    `  - [Review Title]: ${r.title}\n` +
    `  - [Review Text]: ${r.text}\n`;
  if (slots === "both" || slots === "his")
    s += `  - [Review Embedding]: ${marker(0, markers)}${SLOT_MARK(i)}${marker(1, markers)}\n`;
  if (slots === "both" || slots === "diff")
    s += `  - [Review Difference Embedding]: ${marker(2, markers)}${SLOT_MARK(pairs + i)}${marker(3, markers)}\n`;
  return s;
}

/**
 * The user message for the first `k` history reviews; soft slots marked with SLOT_MARK (his slot i is row
 * i, diff slot i is row pairs + i; pairs defaults to k).
 */
export function userMessage(
  input: PromptInput,
  k: number,
  slots: SlotKinds,
  pairs = k,
  markers: MarkerMode = "text",
): string {
  let s = `[Item Title]: ${input.target.item.title}\n[Item Description]: ${input.target.item.description}\n`;
  if (input.profileSummary !== undefined) s += `[User Profile Summary]: ${input.profileSummary}\n`;
  if (k > 0) {
    if (slots === "user") s += `[User Embedding]: <user_start>${SLOT_MARK(0)}<user_end>\n`;
    s += "[User's Past Reviews]:\n";
    for (let i = 0; i < k; i++) s += historyBlock(i, pairs, input.history[i]!, slots, markers);
  }
  s += `[Output Review Rating]: ${pythonFloat(input.target.rating)}\n`;
  s += `[Output Review Title]: ${input.target.title}\n`;
  return s;
}
