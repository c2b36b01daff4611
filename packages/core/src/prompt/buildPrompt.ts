// Builds the chat prompt with soft slots under a token budget (SPEC §5): render with the chat template
// (see chatTemplate.ts), split at the slot marks, tokenize each text piece, and drop history reviews from the end
// until it fits (down to one).
import { DepError } from "@dep/native-cuda";
import { type ChatTemplateChoice, REFERENCE_CHAT_TEMPLATE, renderChat } from "./chatTemplate.js";
import {
  MARKERS,
  type MarkerMode,
  SLOT_PATTERN,
  type SlotKinds,
  type SoftSlotKinds,
  SYSTEM_TEXT,
  userMessage,
} from "./text.js";
import type { BuiltPrompt, PromptInput, PromptPiece, PromptTokenizer } from "./types.js";

export interface BuildPromptOptions {
  /** Max prompt positions (tokens + soft slots); SPEC default 3072. */
  maxLength?: number;
  /** Include the soft slots (false: the same prompt without soft rows, the no-soft baseline). */
  softSlots?: boolean;
  /** Which slots to include when softSlots is on (default both; "his"/"diff" for the ablations, "user" for pplug-style). */
  slotKinds?: SoftSlotKinds;
  /**
   * When even one history review does not fit: "error" (default; training skips such samples) or
   * "keep-one" (generation: use the one-review prompt and let the LLM's context decide).
   */
  overBudget?: "error" | "keep-one";
  /** Show no history at all (the non-personalized baseline). */
  noHistory?: boolean;
  systemText?: string;
  /**
   * Cut item descriptions to at most this many characters (at a word boundary, marked with "..."), so
   * that small-context LLMs keep more history; off by default (the reference shows them whole).
   */
  maxDescriptionChars?: number;
  /**
   * Soft-row pairs the slots index into (default: the history reviews shown). With more pairs than shown
   * reviews, his slot i is row i and diff slot i is row softPairs + i of [his; diff] (the reference runs
   * the SAE on all 2k rows and the prompt shows only what fits).
   */
  softPairs?: number;
  /** reference (default): the reference's hand-built Qwen2/Gemma-2 strings, else the GGUF's Jinja template */
  chatTemplate?: ChatTemplateChoice;
  /** marker tokens around the slots as one embedding row each ("rows", the reference) or as text (default) */
  markers?: MarkerMode;
}

export const DEFAULT_MAX_LENGTH = 3072;

export function buildPrompt(
  tok: PromptTokenizer,
  original: PromptInput,
  options: BuildPromptOptions = {},
): BuiltPrompt {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  const slots: SlotKinds = (options.softSlots ?? true) ? (options.slotKinds ?? "both") : "none";
  const input =
    options.maxDescriptionChars !== undefined
      ? shortenDescriptions(original, options.maxDescriptionChars)
      : original;
  const template = options.chatTemplate ?? REFERENCE_CHAT_TEMPLATE;
  const markers = options.markers ?? "text";
  const available = options.noHistory ? 0 : input.history.length;
  let last: BuiltPrompt | undefined;
  for (let k = available; k >= Math.min(1, available); k--) {
    last = render(
      tok,
      input,
      k,
      options.softPairs ?? k,
      slots,
      options.systemText ?? SYSTEM_TEXT,
      template,
      markers,
    );
    if (last.nPositions <= maxLength) return last;
  }
  if (options.overBudget === "keep-one" && last) return last;
  throw new DepError(
    "DEP_PROMPT_TOO_LONG",
    `the prompt needs ${last?.nPositions} positions even with ${Math.min(1, available)} history review(s); ` +
      `the budget is ${maxLength} (raise --max-length or shorten item descriptions)`,
  );
}

/** An item description cut to `max` characters at a word boundary, marked with "..." (--max-description-chars). */
export function shortenDescription(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}...`;
}

function shortenDescriptions(input: PromptInput, max: number): PromptInput {
  const item = (i: { title: string; description: string }) => ({
    ...i,
    description: shortenDescription(i.description, max),
  });
  return {
    ...input,
    target: { ...input.target, item: item(input.target.item) },
    history: input.history.map((r) => ({ ...r, item: item(r.item) })),
  };
}

function render(
  tok: PromptTokenizer,
  input: PromptInput,
  k: number,
  pairs: number,
  slotKinds: SlotKinds,
  system: string,
  template: ChatTemplateChoice,
  markers: MarkerMode,
): BuiltPrompt {
  const chat = renderChat(tok, system, userMessage(input, k, slotKinds, pairs, markers), template);
  const nSoftRows = slotKinds === "none" ? 0 : slotKinds === "user" ? (k > 0 ? 1 : 0) : 2 * pairs;
  return { ...splitSlots(tok, chat.text, nSoftRows, chat.addBos), renderer: chat.renderer, nHistory: k };
}

/**
 * Renders chat messages (dep serve's messages as given) with llama.cpp's template of the model, with
 * SLOT_MARK(row) in their text turned into soft positions (row `row` of the `nSoftRows` soft rows).
 * nHistory is 0: the caller knows what the rows are.
 */
export function renderMessages(
  tok: PromptTokenizer,
  messages: ReadonlyArray<{ role: string; content: string }>,
  nSoftRows: number,
): BuiltPrompt {
  const rendered = tok.applyChatTemplate(messages, { addAssistant: true });
  return { ...splitSlots(tok, rendered, nSoftRows, true), renderer: "llama.cpp", nHistory: 0 };
}

/**
 * Tokenizes rendered prompt text, with SLOT_MARK(row) in it turned into soft positions and marker marks into
 * marker positions; `addBos`: the model's BOS before the text (else BOS comes from the text, if at all).
 */
export function splitSlots(
  tok: PromptTokenizer,
  rendered: string,
  nSoftRows: number,
  addBos: boolean,
): Omit<BuiltPrompt, "renderer" | "nHistory"> {
  const pieces: PromptPiece[] = [];
  const ids: number[] = [];
  const slots: number[] = [];
  const markerAt: number[] = [];
  let rest = rendered;
  let first = true;
  for (;;) {
    const m = SLOT_PATTERN.exec(rest);
    const text = m ? rest.slice(0, m.index) : rest;
    if (text.length > 0) {
      pieces.push({ text });
      // special tokens parsed; BOS only at the very start and only when the renderer asks for it
      const t = tok.tokenize(text, { addSpecial: first && addBos, parseSpecial: true });
      for (const id of t) {
        ids.push(id);
        slots.push(-1);
        markerAt.push(-1);
      }
    }
    first = false;
    if (!m) break;
    if (m[2] !== undefined) {
      // a marker token: one position with its own (frozen) embedding row
      const marker = Number(m[2]);
      pieces.push({ marker, name: MARKERS[marker]! });
      ids.push(-2);
      slots.push(-1);
      markerAt.push(marker);
    } else {
      const row = Number(m[1]);
      pieces.push({ softRow: row });
      ids.push(-1);
      slots.push(row);
      markerAt.push(-1);
    }
    rest = rest.slice(m.index + m[0].length);
  }
  return {
    pieces,
    nSoftRows,
    nPositions: ids.length,
    inputIds: Int32Array.from(ids),
    slotIndex: Int32Array.from(slots),
    markerIndex: Int32Array.from(markerAt),
  };
}
