import type { ChatModel } from "./chatTemplate.js";

/** What the prompt builder needs to know about an item. */
export interface PromptItem {
  title: string;
  description: string;
}

/** One history review shown in the prompt; its soft slots are his row `slot` and diff row `slot`. */
export interface PromptHistoryReview {
  item: PromptItem;
  rating: number | string;
  title: string;
  text: string;
}

export interface PromptInput {
  /** The item to review, with the output rating and title the user gave (SPEC §5). */
  target: { item: PromptItem; rating: number | string; title: string };
  /**
   * History reviews in slot order: entry i is labelled `[Review i+1]` and carries soft rows his[i] and
   * diff[i]. With reference alignment the caller passes the first k profile reviews instead (SPEC §3).
   */
  history: readonly PromptHistoryReview[];
  /** An LLM-written summary of the user, shown before the past reviews (the pag baseline). */
  profileSummary?: string;
}

/**
 * A prompt piece: literal text, one input position filled with soft row `row` of [his; diff], or one
 * position holding marker row `marker` (MARKERS[marker], with --markers rows).
 */
export type PromptPiece = { text: string } | { softRow: number } | { marker: number; name: string };

export interface BuiltPrompt {
  pieces: PromptPiece[];
  /** which chat renderer produced the text (see renderChat) */
  renderer: string;
  /** History reviews kept after the budget cut (a prefix of the input's history). */
  nHistory: number;
  /** Soft rows the prompt's slots index: 2k ([his; diff], also with one kind of slot), 1 (user), 0 (none). */
  nSoftRows: number;
  /** Prompt length in model positions (tokens + soft slots). */
  nPositions: number;
  /** Token ids per position, -1 at soft slots, -2 at marker rows (the dump-grads `input_ids` layout). */
  inputIds: Int32Array;
  /** Soft row per position, -1 elsewhere: his rows are 0..k-1, diff rows k..2k-1. */
  slotIndex: Int32Array;
  /** Marker row per position (0..3, MARKERS order), -1 elsewhere. */
  markerIndex: Int32Array;
}

/** The part of the LLM the prompt builder uses (structurally satisfied by `Llm`). */
export interface PromptTokenizer extends ChatModel {
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
}
