// The personalization state a server keeps (dep serve): the dataset's users with their histories, the
// peer structures and difference embeddings over them, the trained model, and a cache of each user's soft
// rows. Prompts come from the same builder as `dep generate` (methodPrompt), so a request for a test
// sample's user, item, rating and title gets exactly `dep generate`'s prompt.
//
// A user's history is the profile of their test row (the row `dep generate` writes for; its target review
// is not part of the history). Added reviews go into that profile in timestamp order, are persisted as one
// JSONL line each in the overlay file (a torn last line is dropped on replay) and their embeddings as a
// part file of the embedding store (written atomically), and are replayed at load.
import { appendFile } from "node:fs/promises";
import { DepError, type Llm, type Segment } from "@dep/native-cuda";
import { ragPromptInput } from "../baselines/rag.js";
import { loadDataset } from "../data/load.js";
import { normaliseWhitespace } from "../data/prepareReference.js";
import { type Dataset, type DplRow, itemKey, type Review } from "../data/types.js";
import type { Embedder } from "../embed/embedders.js";
import { EmbeddingStore, textKey } from "../embed/store.js";
import {
  assertMethodFits,
  type GenerationMethod,
  isTrainedMethod,
  promptForInput,
} from "../generate/generate.js";
import { readJsonLines } from "../io/jsonLines.js";
import type { DepModel } from "../model/DepModel.js";
import type { DiffWeighting } from "../peers/diff.js";
import { userKeyOf } from "../peers/peerIndex.js";
import { type DifferencePlan, materializeDifferences, planDifferences } from "../peers/samples.js";
import { renderMessages, splitSlots } from "../prompt/buildPrompt.js";
import type { ChatTemplateChoice } from "../prompt/chatTemplate.js";
import { promptSegments } from "../prompt/segments.js";
import { type MarkerMode, SLOT_MARK } from "../prompt/text.js";
import type { BuiltPrompt, PromptInput, PromptItem } from "../prompt/types.js";
import { promptInputFor, trimSampleX } from "../train/promptInput.js";

/** The methods a server can run per request (pag and dpl need LLM-written summaries, pplug-style item queries). */
export const SERVED_METHODS = [
  "dep",
  "his-only",
  "diff-only",
  "no-sae",
  "no-soft",
  "non-personalized",
  "rag",
] as const;

export interface PersonalizerOptions {
  llm: Pick<Llm, "tokenize" | "applyChatTemplate" | "info">;
  /** the trained model (null: only the untrained methods) */
  model: DepModel | null;
  dataDir: string;
  embDir: string;
  /** the embedder the store was made with: embeds added reviews */
  embedder: Embedder;
  /** added reviews (JSONL); default `<dataDir>.reviews.jsonl`, beside the dataset folder */
  overlayFile?: string;
  maxLength?: number;
  maxDescriptionChars?: number;
  weighting?: DiffWeighting;
  referencePromptAlignment?: boolean;
  /** marker tokens: rows (needs the model's marker rows) or text; default rows when the model has them */
  markers?: MarkerMode;
  /** default reference (see prompt/chatTemplate.ts) */
  chatTemplate?: ChatTemplateChoice;
  /** history reviews shown by rag (default 4) */
  ragK?: number;
}

export type ItemRef = { asin: string } | { title: string; description: string };

export interface ItemPromptRequest {
  user: string;
  /** needed only when the user id exists in several categories */
  category?: string;
  item: ItemRef;
  /** the output review rating (default: the user's mean rating, rounded) */
  rating?: number | string;
  /** the output review title (default empty) */
  title?: string;
  method?: GenerationMethod;
}

/**
 * Chat messages used as given; `[[dep:his:i]]` and `[[dep:diff:i]]` (i = 1..k, the user's qualifying
 * reviews newest first) in a message's text become one soft position each, filled with that row.
 */
export interface MessagesPromptRequest {
  user?: string;
  category?: string;
  /** chat messages, rendered with the model's template ... */
  messages?: ReadonlyArray<{ role: string; content: string }>;
  /** ... or a plain prompt, used as it is (BOS added when the model wants one) */
  text?: string;
}

export interface ServePrompt {
  segments: Segment[];
  prompt: BuiltPrompt;
  method: GenerationMethod | "messages";
  /** the user's key (`category/user_id`), or null for messages without a user */
  user: string | null;
  /** whether the soft rows came from the cache (null: the prompt has none) */
  softCacheHit: boolean | null;
  /** the history reviews the prompt shows, in order */
  history: Array<{ asin: string; title: string }>;
}

export interface UserSummary {
  user_id: string;
  category: string;
  /** reviews in the user's history (the test row's profile, plus added ones) */
  history_length: number;
  /** history reviews that qualify for soft rows (on an item with other reviewers; at most 8 are used) */
  qualifying_reviews: number;
  added_reviews: number;
  /** ISO time of the last added review, or null */
  last_update: string | null;
}

export interface NewReview {
  asin: string;
  rating: number;
  title: string;
  text: string;
  /** ms since the epoch (default: now) */
  timestamp?: number;
}

interface OverlayLine {
  user_id: string;
  category: string;
  review: Review;
  added_at: number;
}

export const MARKER_PATTERN = /\[\[dep:(his|diff):(\d+)\]\]/g;

interface UserState {
  row: DplRow;
  added: number;
  lastUpdate: number | null;
}

export class Personalizer {
  readonly dataset: Dataset;
  readonly store: EmbeddingStore;
  readonly overlayFile: string;
  readonly #o: PersonalizerOptions;
  readonly #users = new Map<string, UserState>();
  readonly #byId = new Map<string, string[]>();
  #plan!: DifferencePlan;
  /** user key -> index of the user's sample in the plan (absent: no qualifying review) */
  #sampleOf = new Map<string, number>();
  /** per user: X (the plan's [16, d] rows) and the soft rows computed from it, per history length */
  readonly #soft = new Map<string, { x: Float32Array; rows: Map<number, Float32Array> }>();
  /** item key -> users with that item anywhere in their history (whose soft rows an update can change) */
  readonly #itemUsers = new Map<string, Set<string>>();
  #version = 0;
  #updates: Promise<unknown> = Promise.resolve();
  /** the added reviews: in the peer structures at once (the dataset's held-out tail stays held out) */
  readonly #added = new Set<Review>();
  readonly cacheStats = { hits: 0, misses: 0 };

  private constructor(o: PersonalizerOptions, dataset: Dataset, store: EmbeddingStore) {
    this.#o = o;
    this.dataset = dataset;
    this.store = store;
    this.overlayFile = o.overlayFile ?? `${o.dataDir.replace(/\/+$/, "")}.reviews.jsonl`;
    for (const row of dataset.rows) {
      const key = userKeyOf(row);
      row.profile = [...row.profile]; // rows may share review arrays; this one grows
      this.#users.set(key, { row, added: 0, lastUpdate: null });
      for (const r of row.profile) this.#noteItem(key, row.category, r.asin);
      const ids = this.#byId.get(row.userId) ?? [];
      ids.push(key);
      this.#byId.set(row.userId, ids);
    }
  }

  /** Loads the test rows, the store, replays the overlay and plans the difference embeddings. */
  static async load(o: PersonalizerOptions): Promise<Personalizer> {
    const store = await EmbeddingStore.open(o.embDir);
    if (store.meta.embedder !== o.embedder.id || store.dim !== o.embedder.dim) {
      throw new DepError(
        "DEP_EMBED_MISMATCH",
        `${o.embDir} holds embeddings from ${store.meta.embedder} (dim ${store.dim}) but the embedder is ${o.embedder.id} (dim ${o.embedder.dim}): pass the embedder the store was made with`,
      );
    }
    const full = await loadDataset({ dir: o.dataDir, splits: ["test"] });
    const dataset: Dataset = { ...full, rows: full.rows.filter((r) => r.split === "test") };
    const p = new Personalizer(o, dataset, store);
    await p.#replay();
    await p.#replan();
    return p;
  }

  get users(): number {
    return this.#users.size;
  }

  /** The user's key for an id (and category when the id is in several). Throws DEP_SERVE_UNKNOWN_USER. */
  resolveUser(id: string, category?: string): string {
    const keys = this.#byId.get(id) ?? [];
    const matching = category === undefined ? keys : keys.filter((k) => k.startsWith(`${category}\u0000`));
    if (matching.length === 1) return matching[0]!;
    if (matching.length === 0) {
      throw new DepError(
        "DEP_SERVE_UNKNOWN_USER",
        `unknown user ${JSON.stringify(id)}${category !== undefined ? ` in category ${JSON.stringify(category)}` : ""}: the server knows the users of the dataset's test split`,
      );
    }
    throw new DepError(
      "DEP_SERVE_AMBIGUOUS_USER",
      `user ${JSON.stringify(id)} is in several categories (${matching.map((k) => k.split("\u0000")[0]).join(", ")}): give dep.category`,
    );
  }

  summary(key: string): UserSummary {
    const u = this.#state(key);
    const s = this.#sampleOf.get(key);
    return {
      user_id: u.row.userId,
      category: u.row.category,
      history_length: u.row.profile.length,
      qualifying_reviews: s === undefined ? 0 : this.#plan.samples[s]!.k,
      added_reviews: u.added,
      last_update: u.lastUpdate === null ? null : new Date(u.lastUpdate).toISOString(),
    };
  }

  /** The DEP prompt (or a baseline's) for a user and an item. */
  async prompt(r: ItemPromptRequest): Promise<ServePrompt> {
    const key = this.resolveUser(r.user, r.category);
    const { row } = this.#state(key);
    const method = r.method ?? this.defaultMethod;
    this.#checkMethod(method);
    const target = this.#item(row.category, r.item);
    const plan = this.#plan;
    const version = this.#version;
    const s = this.#sampleOf.get(key);
    const info = s === undefined ? null : plan.samples[s]!;
    const rating = r.rating ?? meanRating(row.profile);
    const title = r.title ?? "";
    const input: PromptInput =
      method === "rag"
        ? ragPromptInput(
            this.dataset,
            { ...row, data: targetReview(r.item, rating, title) },
            this.#o.ragK ?? 4,
            target,
          )
        : {
            target: { item: target, rating, title },
            history: info ? promptInputFor(this.dataset, row, info).history : [],
          };
    input.target = { item: target, rating, title };
    const x = info && isTrainedMethod(method) ? await this.#userX(key, plan, s!, version) : null;
    let hit: boolean | null = null;
    const model = this.#o.model;
    const prompt = promptForInput(this.#o.llm, input, {
      method,
      maxLength: this.#o.maxLength ?? 3072,
      ...(this.#o.maxDescriptionChars !== undefined
        ? { maxDescriptionChars: this.#o.maxDescriptionChars }
        : {}),
      // as dep generate: marker rows when the checkpoint carries them, else the markers as text
      markers: model?.markerRows ? (this.#o.markers ?? "rows") : "text",
      ...(this.#o.chatTemplate ? { chatTemplate: this.#o.chatTemplate } : {}),
    });
    let softRows: Float32Array | null = null;
    if (x) {
      const got = this.#rows(key, x, prompt.nHistory, plan.dim, version);
      hit = got.hit;
      softRows = got.rows;
    }
    const segments = promptSegments(prompt, softRows, this.#o.llm.info.nEmbd, model?.markerRows ?? null);
    const shown = method === "rag" ? [] : (info?.promptReviews ?? []).slice(0, prompt.nHistory);
    return {
      segments,
      prompt,
      method,
      user: displayKey(key),
      softCacheHit: prompt.nSoftRows > 0 ? hit : null,
      history: shown.map((j) => ({ asin: row.profile[j]!.asin, title: row.profile[j]!.title })),
    };
  }

  /** Chat messages as given, with the user's soft rows where the messages mark them. */
  async messagesPrompt(r: MessagesPromptRequest): Promise<ServePrompt> {
    const texts = r.text !== undefined ? [r.text] : (r.messages ?? []).map((m) => m.content);
    const marks = texts.flatMap((t) => [...t.matchAll(MARKER_PATTERN)]);
    const key = r.user !== undefined ? this.resolveUser(r.user, r.category) : null;
    let softRows: Float32Array | null = null;
    let hit: boolean | null = null;
    let k = 0;
    if (marks.length > 0) {
      if (!key)
        throw new DepError("DEP_USAGE", "the messages mark soft rows ([[dep:...]]) but name no `user`");
      if (!this.#o.model || this.#o.model.architecture === "pplug") {
        throw new DepError("DEP_USAGE", "soft-row marks need a DEP checkpoint (dep serve --checkpoint)");
      }
      const s = this.#sampleOf.get(key);
      k = s === undefined ? 0 : this.#plan.samples[s]!.k;
      for (const m of marks) {
        const i = Number(m[2]);
        if (i < 1 || i > k) {
          throw new DepError(
            "DEP_SERVE_BAD_MARK",
            `${m[0]}: user ${displayKey(key)} has ${k} qualifying review(s); mark rows 1..${k}`,
          );
        }
      }
      const plan = this.#plan;
      const version = this.#version;
      const got = this.#rows(key, await this.#userX(key, plan, s!, version), k, plan.dim, version);
      softRows = got.rows;
      hit = got.hit;
    }
    const mark = (t: string) =>
      t.replace(MARKER_PATTERN, (_, kind: string, i: string) =>
        SLOT_MARK(kind === "his" ? Number(i) - 1 : k + Number(i) - 1),
      );
    const prompt =
      r.text !== undefined
        ? { ...splitSlots(this.#o.llm, mark(r.text), 2 * k, true), renderer: "none", nHistory: 0 }
        : renderMessages(
            this.#o.llm,
            (r.messages ?? []).map((m) => ({ role: m.role, content: mark(m.content) })),
            2 * k,
          );
    return {
      segments: promptSegments(prompt, softRows, this.#o.llm.info.nEmbd),
      prompt,
      method: "messages",
      user: key ? displayKey(key) : null,
      softCacheHit: hit,
      history: [],
    };
  }

  /**
   * Adds a review to a user's history: embeds it (store part file), persists it (overlay line), updates
   * the peer structures and drops the cached soft rows of the user and of everyone sharing an item with
   * them. Updates run one at a time.
   */
  addReview(user: string, review: NewReview, category?: string): Promise<UserSummary> {
    const run = this.#updates
      .catch(() => undefined)
      .then(async () => {
        const key = this.resolveUser(user, category);
        const u = this.#state(key);
        const clean: Review = {
          asin: review.asin,
          rating: review.rating,
          title: normaliseWhitespace(review.title),
          text: normaliseWhitespace(review.text),
          timestamp: review.timestamp ?? Date.now(),
        };
        this.#item(u.row.category, { asin: clean.asin });
        if (clean.text.length === 0) throw new DepError("DEP_USAGE", "the review's text is empty");
        if (u.row.profile.some((r) => r.asin === clean.asin)) {
          throw new DepError(
            "DEP_SERVE_CONFLICT",
            `user ${displayKey(key)} already reviewed item ${clean.asin} (one review per item and user)`,
          );
        }
        await this.#ensureEmbedded([clean.text]);
        const line: OverlayLine = {
          user_id: u.row.userId,
          category: u.row.category,
          review: clean,
          added_at: Date.now(),
        };
        await appendFile(this.overlayFile, `${JSON.stringify(line)}\n`);
        this.#apply(key, clean, line.added_at);
        await this.#replan();
        this.#invalidate(key);
        return this.summary(key);
      });
    this.#updates = run;
    return run;
  }

  /** The method requests get when they name none: the checkpoint's variant, else no-soft. */
  get defaultMethod(): GenerationMethod {
    const arch = this.#o.model?.architecture;
    return arch === "dep" ? "dep" : arch === "no-sae" ? "no-sae" : "no-soft";
  }

  #checkMethod(method: GenerationMethod): void {
    if (!(SERVED_METHODS as readonly string[]).includes(method)) {
      throw new DepError(
        "DEP_USAGE",
        `method ${JSON.stringify(method)} is not served (one of ${SERVED_METHODS.join(", ")})`,
      );
    }
    assertMethodFits(method, this.#o.model);
  }

  #state(key: string): UserState {
    const u = this.#users.get(key);
    if (!u) throw new DepError("DEP_SERVE_UNKNOWN_USER", `unknown user ${displayKey(key)}`);
    return u;
  }

  #item(category: string, ref: ItemRef): PromptItem {
    if (!("asin" in ref)) return { title: ref.title, description: ref.description };
    const meta = this.dataset.items.get(itemKey(category, ref.asin));
    if (!meta) {
      throw new DepError(
        "DEP_SERVE_UNKNOWN_ITEM",
        `unknown item ${JSON.stringify(ref.asin)} in category ${JSON.stringify(category)}: give an asin of the dataset's item metadata, or {title, description}`,
      );
    }
    return { title: meta.title, description: meta.description };
  }

  /** The user's X from the plan (cached until an update invalidates the user). */
  async #userX(key: string, plan: DifferencePlan, s: number, version: number): Promise<Float32Array> {
    const cached = this.#soft.get(key);
    if (cached) return cached.x;
    const { x } = await materializeDifferences(plan, s, s + 1);
    if (version === this.#version && !this.#soft.has(key)) this.#soft.set(key, { x, rows: new Map() });
    return x;
  }

  /** The soft rows for the first k history reviews: the model's output on X, cached per user and k. */
  #rows(
    key: string,
    x: Float32Array,
    k: number,
    d: number,
    version: number,
  ): { rows: Float32Array; hit: boolean } {
    const entry = this.#soft.get(key);
    const cached = entry?.rows.get(k);
    if (cached) {
      this.cacheStats.hits++;
      return { rows: cached, hit: true };
    }
    this.cacheStats.misses++;
    const model = this.#o.model!;
    const rows = model.forward(trimSampleX(x, 0, k, d), Int32Array.of(k)).soft[0]!;
    if (entry && version === this.#version) entry.rows.set(k, rows);
    return { rows, hit: false };
  }

  async #ensureEmbedded(texts: string[]): Promise<void> {
    const missing = [...new Set(texts)].filter((t) => !this.store.has(textKey(t)));
    if (missing.length === 0) return;
    const vectors = await this.#o.embedder.embed(missing);
    await this.store.append(missing.map(textKey), vectors);
  }

  #apply(key: string, review: Review, at: number): void {
    const u = this.#state(key);
    const p = u.row.profile;
    let i = p.length;
    while (i > 0 && p[i - 1]!.timestamp > review.timestamp) i--;
    p.splice(i, 0, review);
    this.#added.add(review);
    this.#noteItem(key, u.row.category, review.asin);
    u.added++;
    u.lastUpdate = at;
  }

  async #replay(): Promise<void> {
    const lines = readJsonLines(this.overlayFile, "an added-review line", (row) => {
      const l = row as OverlayLine;
      if (typeof l?.user_id !== "string" || typeof l.review?.text !== "string") throw new Error("bad line");
      return l;
    });
    await this.#ensureEmbedded(lines.map((l) => l.review.text));
    for (const [i, l] of lines.entries()) {
      const key = `${l.category}\u0000${l.user_id}`;
      if (!this.#users.has(key)) {
        throw new DepError(
          "DEP_INPUT",
          `${this.overlayFile}:${i + 1}: user ${l.user_id} (${l.category}) is not in ${this.#o.dataDir}; use the dataset the reviews were added to`,
        );
      }
      this.#apply(key, l.review, l.added_at);
    }
  }

  async #replan(): Promise<void> {
    this.#plan = await planDifferences({
      dataset: this.dataset,
      store: this.store,
      split: "test",
      weighting: this.#o.weighting ?? "reference",
      // as dep generate by default: the reference's slot alignment (the k newest reviews, see train/trainer.ts)
      referencePromptAlignment: this.#o.referencePromptAlignment ?? true,
      alwaysPeers: this.#added,
    });
    this.#sampleOf = new Map(this.#plan.samples.map((s, i) => [`${s.category}\u0000${s.userId}`, i]));
    this.#version++;
  }

  #noteItem(key: string, category: string, asin: string): void {
    const k = itemKey(category, asin);
    const users = this.#itemUsers.get(k) ?? new Set<string>();
    users.add(key);
    this.#itemUsers.set(k, users);
  }

  /**
   * Drops the cached X and rows of the user and of every user who reviewed an item in the user's history:
   * the user's mean and reviewer entries enter their difference embeddings (and may make one qualify).
   */
  #invalidate(key: string): void {
    const { row } = this.#state(key);
    this.#soft.delete(key);
    for (const r of row.profile) {
      for (const other of this.#itemUsers.get(itemKey(row.category, r.asin)) ?? []) this.#soft.delete(other);
    }
  }
}

function displayKey(key: string): string {
  return key.replace("\u0000", "/");
}

/** A stand-in target review for the rag prompt (only its asin, rating and title are read). */
function targetReview(item: ItemRef, rating: number | string, title: string): Review {
  return {
    asin: "asin" in item ? item.asin : "",
    rating: Number(rating) || 0,
    title,
    text: "",
    timestamp: 0,
  };
}

function meanRating(profile: readonly Review[]): number {
  if (profile.length === 0) return 5;
  return Math.round(profile.reduce((a, r) => a + Number(r.rating), 0) / profile.length);
}
