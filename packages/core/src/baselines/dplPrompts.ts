// The three prompts of the DPL baseline, as DPL's model-infer.py and utils/preprocess.py write them:
//   1. difference (one per difference item): DIFF_SYSTEM + the item, the user's review and the
//      representative other users' reviews;
//   2. summary (one per sample): summarySystem(n) + per difference item its title, description and the
//      stage-1 output, then the past reviews; the LLM answers "[Summary]: <summary>";
//   3. review: REVIEW_SYSTEM + the target item, the past reviews, the summary (its "[Summary]:" prefix cut),
//      the output rating and title; the LLM answers "[Review]: <review>" and the prefix is cut.
// Ratings print as Python prints DPL's floats ("5.0"). DPL renders every stage with its Qwen2 template
// (utils/templates.py: no newline after the system turn); with --chat-template reference that is used for
// qwen2 models and the model's own Jinja template for the others (llama.cpp's heuristic without one).
// DPL shows everything whatever its length (its LLM has a 32k context); here a prompt over the --max-length
// budget drops its last entries (others, differences and past reviews, past reviews) until it fits, down to
// one, and --max-description-chars cuts item descriptions as in the other methods.
import type { Review } from "../data/types.js";
import { shortenDescription } from "../prompt/buildPrompt.js";
import { type ChatTemplateChoice, REFERENCE_CHAT_TEMPLATE, renderChat } from "../prompt/chatTemplate.js";
import { pythonFloat } from "../prompt/text.js";
import type { PromptItem, PromptTokenizer } from "../prompt/types.js";

export const DPL_DIFF_SYSTEM =
  "Given the title and description of an item, along with the current user's review and 4 other users' " +
  "reviews for the same item, analyze and output the differences between the current user and other users " +
  "by considering the following aspects:\n" +
  "[Writing Style]: word choice and sentence structure.\n" +
  "[Emotional Style]: sentiment tone (positive, negative, or neutral).\n" +
  "[Semantic Style]: information density and contextual coherence.\n";

/** The summary stage's system text for `n` difference items ("an item" for one). */
export function dplSummarySystem(n: number): string {
  return (
    `Given titles and descriptions of ${n === 1 ? "an item" : `${n} items`}, along with the differences in ` +
    "writing style, emotional style, and semantic style between the current user's review and other users' " +
    "reviews for each item, and the current user's past reviews, generate a profile summary of the current " +
    "user.\nThe summary should be formatted as follows:\n[Summary]: <summary>"
  );
}

export const DPL_REVIEW_SYSTEM =
  "Given the title and description of an item, along with the current user's past reviews and profile " +
  "summary, and the output review rating and review title, generate a personalized item review for the " +
  "current user.\nThe review should be formatted as follows:\n[Review]: <review>";

/** A review with the item it is about. */
export interface DplShownReview {
  item: PromptItem;
  review: Pick<Review, "rating" | "title" | "text">;
}

/** Stage 1's user message (create_diff_inp). */
export function dplDiffMessage(
  item: PromptItem,
  own: DplShownReview["review"],
  others: DplShownReview["review"][],
) {
  const block = (head: string, r: DplShownReview["review"]) =>
    `\n[${head}]:\n- [User's Rating]: ${pythonFloat(r.rating)}\n- [Review Title]: ${r.title}\n- [Review Text]: ${r.text}\n`;
  return (
    `[Item Information]:\n- [Item Title]: ${item.title}\n- [Item Description]: ${item.description}\n` +
    block("Review by the current user", own) +
    others.map((r, i) => block(`Review by the other user ${i + 1}`, r)).join("")
  );
}

function pastReviews(past: readonly DplShownReview[]): string {
  return past
    .map(
      (p, i) =>
        `[Review ${i + 1}]:\n- [Item Title]: ${p.item.title}\n- [Item Description]: ${p.item.description}\n` +
        `- [Review Rating]: ${pythonFloat(p.review.rating)}\n- [Review Title]: ${p.review.title}\n` +
        `- [Review Text]: ${p.review.text}\n`,
    )
    .join("");
}

/** Stage 2's user message (create_summ_inp). */
export function dplSummaryMessage(
  differences: ReadonlyArray<{ item: PromptItem; difference: string }>,
  past: readonly DplShownReview[],
): string {
  const items = differences.map(
    (d) =>
      `[Item Title]: ${d.item.title}\n[Item Description]: ${d.item.description}\n` +
      `[Differences between the current user's review and the other user's reviews]:\n${d.difference}\n`,
  );
  return `${items.join("\n")}\n[User's Past Reviews]:\n${pastReviews(past)}\n`;
}

/** The summary as stage 3 shows it: DPL cuts a leading "[Summary]:" and strips. */
export function dplSummaryText(summary: string): string {
  const prefix = "[Summary]:";
  return summary.startsWith(prefix) ? summary.slice(prefix.length).trim() : summary;
}

/** The review as DPL keeps it (postprocess_output): a leading "[Review]:" cut. */
export function dplReviewText(output: string): string {
  const prefix = "[Review]:";
  return output.startsWith(prefix) ? output.slice(prefix.length).trim() : output;
}

/** Stage 3's user message (create_inp). */
export function dplReviewMessage(
  target: { item: PromptItem; rating: number | string; title: string },
  past: readonly DplShownReview[],
  summary: string,
): string {
  return (
    `[Item Title]: ${target.item.title}\n[Item Description]: ${target.item.description}\n` +
    `[User's Past Reviews]:\n${pastReviews(past)}\n[User's Profile Summary]:\n${dplSummaryText(summary)}\n` +
    `[Output Review Rating]: ${pythonFloat(target.rating)}\n[Output Review Title]: ${target.title}\n`
  );
}

/** A rendered stage prompt. */
export interface DplStagePrompt {
  text: string;
  tokens: Int32Array;
  /** entries shown (others, difference items or past reviews) after the budget cut */
  shown: number;
  renderer: string;
}

export interface DplRenderSettings {
  maxLength: number;
  chatTemplate?: ChatTemplateChoice;
}

/** Renders system + user in the stage template and tokenizes as vLLM does (the tokenizer's own BOS rule). */
export function dplRender(
  tok: PromptTokenizer,
  system: string,
  user: string,
  choice: ChatTemplateChoice = REFERENCE_CHAT_TEMPLATE,
): Omit<DplStagePrompt, "shown"> {
  // DPL's hand-built template is Qwen2's; other models get their own template
  const c = choice.kind === "reference" && tok.info.arch !== "qwen2" ? ({ kind: "jinja" } as const) : choice;
  const r = renderChat(tok, system, user, c);
  const tokens = tok.tokenize(r.text, { addSpecial: tok.info.addBos, parseSpecial: true });
  return { text: r.text, tokens, renderer: r.renderer };
}

/** The prompt with the most entries (of `most`) that fits `maxLength` tokens, at least one. */
export function dplFit(
  most: number,
  maxLength: number,
  render: (n: number) => Omit<DplStagePrompt, "shown">,
): DplStagePrompt {
  const whole = { ...render(most), shown: most };
  if (whole.tokens.length <= maxLength || most <= 1) return whole;
  let best = { ...render(1), shown: 1 };
  let lo = 2;
  let hi = most - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = { ...render(mid), shown: mid };
    if (p.tokens.length <= maxLength) {
      best = p;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** Item metadata with the description cut as --max-description-chars asks. */
export function dplItem(item: PromptItem | undefined, maxDescriptionChars?: number): PromptItem {
  const description = item?.description ?? "";
  return {
    title: item?.title ?? "",
    description:
      maxDescriptionChars === undefined ? description : shortenDescription(description, maxDescriptionChars),
  };
}
