// The pag baseline (after Richardson et al. 2023, "Integrating summarization and retrieval for enhanced
// personalization via LLMs"). Nothing is trained: the frozen LLM first writes a short profile of each user
// from their history reviews, and the review prompt is the rag prompt (the ragK history reviews most relevant
// to the target item, as text) with that profile added as a `[User Profile Summary]: ...` line.
//
// The summary prompt, in the LLM's own chat template:
//   system: SUMMARY_SYSTEM_TEXT (below)
//   user:   [User's Past Reviews] (newest first):
//           - [Review 1]:
//             [Item Title]: <title of the reviewed item>
//             [Review Rating]: <rating>
//             [Review Title]: <review title>
//             [Review Text]: <review text>
//           - [Review 2]: ...
//           SUMMARY_REQUEST (below)
// It shows the user's history reviews newest first, as many as fit the token budget (at least one).
// One summary per (category, user): every sample of a user shares it. It is made from the history of the
// user's sample with the shortest history, so it never shows a review written after one of that user's
// targets. Summaries are kept in a JSONL file beside the predictions (one line per user, appended per
// batch), so an interrupted run resumes without writing them again.
import { createHash } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { DepError } from "@dep/native-cuda";
import type { Dataset, DplRow } from "../data/types.js";
import { itemKey } from "../data/types.js";
import type { GeneratingLlm } from "../generate/generate.js";
import { readJsonLines } from "../io/jsonLines.js";
import type { PromptTokenizer } from "../prompt/types.js";

export const SUMMARY_SYSTEM_TEXT =
  "You write short profiles of reviewers. From a user's past reviews, describe in a few sentences what the " +
  "user likes and dislikes, what they praise and criticise, how they usually rate items, and how they write " +
  "(tone, length, recurring phrases). Write only the profile.";

export const SUMMARY_REQUEST =
  "Summarize this user: their preferences, what they praise and criticise, their rating habits and their " +
  "writing style.";

/** Default length of a summary in tokens. */
export const DEFAULT_SUMMARY_TOKENS = 128;

/** One line of the profiles file. */
export interface ProfileLine {
  category: string;
  user_id: string;
  /** the LLM's summary, whitespace runs folded to single spaces */
  summary: string;
  /** history reviews the summary prompt showed */
  history_reviews: number;
  prompt_tokens: number;
  generated_tokens: number;
  /** sha256 of the summary prompt and sampling settings: a rerun with other ones is refused */
  prompt_sha256: string;
}

/** The profiles file of a predictions file. */
export function profilesPathFor(outFile: string): string {
  return `${outFile}.profiles.jsonl`;
}

const userKey = (category: string, userId: string) => `${category}\u0000${userId}`;

export interface SummaryPrompt {
  /** the whole prompt, chat template applied (one text segment) */
  text: string;
  nReviews: number;
  nTokens: number;
}

function summaryUserMessage(ds: Dataset, row: DplRow, n: number): string {
  const parts = ["[User's Past Reviews] (newest first):"];
  for (let i = 0; i < n; i++) {
    const r = row.profile[row.profile.length - 1 - i]!;
    parts.push(
      `- [Review ${i + 1}]:`,
      `  [Item Title]: ${ds.items.get(itemKey(row.category, r.asin))?.title ?? ""}`,
      `  [Review Rating]: ${r.rating}`,
      `  [Review Title]: ${r.title}`,
      `  [Review Text]: ${r.text}`,
    );
  }
  parts.push(SUMMARY_REQUEST);
  return parts.join("\n");
}

/** The summary prompt for `row`'s history: as many reviews, newest first, as fit `maxLength` tokens. */
export function summaryPrompt(
  tok: PromptTokenizer,
  ds: Dataset,
  row: DplRow,
  maxLength: number,
): SummaryPrompt {
  if (row.profile.length === 0) {
    throw new DepError(
      "DEP_INPUT",
      `user ${row.userId} (${row.category}) has no history reviews to summarize`,
    );
  }
  const render = (n: number): SummaryPrompt => {
    const text = tok.applyChatTemplate(
      [
        { role: "system", content: SUMMARY_SYSTEM_TEXT },
        { role: "user", content: summaryUserMessage(ds, row, n) },
      ],
      { addAssistant: true },
    );
    const nTokens = tok.tokenize(text, { addSpecial: tok.info.addBos, parseSpecial: true }).length;
    return { text, nReviews: n, nTokens };
  };
  // binary search for the most reviews that fit; one is shown even when it does not
  let best = render(1);
  let lo = 2;
  let hi = row.profile.length;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = render(mid);
    if (p.nTokens <= maxLength) {
      best = p;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

export interface SummarySettings {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  parallel: number;
  /** budget of the summary prompt in tokens */
  maxLength: number;
}

/**
 * The user summaries of one generation run: read from the profiles file where it has them, else written
 * by the LLM (one batch for the users of a chunk) and appended to it.
 */
export class UserProfiles {
  readonly path: string;
  readonly #llm: GeneratingLlm;
  readonly #ds: Dataset;
  readonly #settings: SummarySettings;
  readonly #lines: Map<string, ProfileLine>;
  /** per user, the row whose history is summarised */
  readonly #sources = new Map<string, DplRow>();

  /** `rows`: the rows of every sample of the split (not only those generated now). */
  constructor(o: {
    llm: GeneratingLlm;
    dataset: Dataset;
    rows: readonly DplRow[];
    path: string;
    settings: SummarySettings;
  }) {
    this.path = o.path;
    this.#llm = o.llm;
    this.#ds = o.dataset;
    this.#settings = o.settings;
    for (const row of o.rows) {
      const key = userKey(row.category, row.userId);
      const seen = this.#sources.get(key);
      if (!seen || row.profile.length < seen.profile.length) this.#sources.set(key, row);
    }
    const lines = readJsonLines(o.path, "a profiles line", checkProfileLine);
    this.#lines = new Map(lines.map((l) => [userKey(l.category, l.user_id), l]));
  }

  /**
   * The summary for each of `rows` (its user's), in order; users not in the file yet are summarised
   * together and appended. Null when `signal` aborts (nothing is appended then).
   */
  async summariesFor(rows: readonly DplRow[], signal?: AbortSignal): Promise<string[] | null> {
    const keys = rows.map((row) => userKey(row.category, row.userId));
    const missing: Array<{ key: string; source: DplRow; prompt: SummaryPrompt; sha: string }> = [];
    for (const key of new Set(keys)) {
      const source = this.#sources.get(key);
      if (!source) throw new DepError("DEP_INVALID_ARGUMENT", `${key}: not a user of this split`);
      const prompt = summaryPrompt(this.#llm, this.#ds, source, this.#settings.maxLength);
      const sha = this.#promptSha(prompt);
      const line = this.#lines.get(key);
      if (!line) {
        missing.push({ key, source, prompt, sha });
      } else if (line.prompt_sha256 !== sha) {
        throw new DepError(
          "DEP_USAGE",
          `${this.path}: the summary of user ${source.userId} (${source.category}) was written from another ` +
            "prompt or with other settings (model, data, --max-length, --pag-summary-tokens, sampling); " +
            "remove it and the predictions file to start over, or choose another --out",
        );
      }
    }
    if (missing.length > 0) {
      const s = this.#settings;
      const results = await this.#llm.generateBatch(
        missing.map((m) => [{ text: m.prompt.text }]),
        {
          maxTokens: s.maxTokens,
          temperature: s.temperature,
          topP: s.topP,
          seed: s.seed,
          parallel: s.parallel,
          ...(signal ? { signal } : {}),
        },
      );
      if (signal?.aborted) return null; // summaries cut short are not kept
      const lines = missing.map((m, j): ProfileLine => {
        const r = results[j]!;
        return {
          category: m.source.category,
          user_id: m.source.userId,
          summary: r.text.trim().replace(/\s+/g, " "),
          history_reviews: m.prompt.nReviews,
          prompt_tokens: m.prompt.nTokens,
          generated_tokens: r.tokens.length,
          prompt_sha256: m.sha,
        };
      });
      await appendFile(this.path, lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
      for (const [j, l] of lines.entries()) this.#lines.set(missing[j]!.key, l);
    }
    return keys.map((key) => this.#lines.get(key)!.summary);
  }

  #promptSha(prompt: SummaryPrompt): string {
    const { maxTokens, temperature, topP, seed } = this.#settings;
    return createHash("sha256")
      .update(JSON.stringify({ prompt: prompt.text, maxTokens, temperature, topP, seed }))
      .digest("hex");
  }
}

function checkProfileLine(row: unknown): ProfileLine {
  const l = row as ProfileLine | null;
  if (
    typeof l?.category !== "string" ||
    typeof l.user_id !== "string" ||
    typeof l.summary !== "string" ||
    typeof l.prompt_sha256 !== "string"
  ) {
    throw new Error("not a profiles line");
  }
  return l;
}
