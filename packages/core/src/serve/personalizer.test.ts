// The Personalizer on the synthetic fixture (bag-of-words store, tiny GGUF, an untrained model): its prompt
// is dep generate's, an added review reaches the user's and their peers' soft rows at once (the cache is
// invalidated exactly where it must be), and a fresh load replays it to the same state.
import { readFileSync } from "node:fs";
import type { Llm, Segment } from "@dep/native-cuda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DepModel } from "../model/DepModel.js";
import { bagOfWordsEmbedder, type TrainFixture, trainFixture } from "../testing/fixtures.js";
import { runInitialParams } from "../train/trainer.js";
import { Personalizer } from "./personalizer.js";

let fx: TrainFixture;
let llm: Llm;
let model: DepModel;

beforeAll(async () => {
  fx = await trainFixture(12, 5);
  llm = await fx.loadLlm();
  const dims = { d: 32, h: 16, H: llm.info.nEmbd };
  model = new DepModel(dims, runInitialParams(dims, 42), { threads: 1, backend: "cpu" });
}, 300_000);
afterAll(async () => {
  await llm?.dispose();
  fx?.cleanup();
});

const load = () =>
  Personalizer.load({
    llm,
    model,
    dataDir: fx.dataDir,
    embDir: fx.embDir,
    embedder: bagOfWordsEmbedder(),
    maxLength: 1200,
  });

const softRows = (segments: Segment[]) =>
  segments.flatMap((s) => ("embeddings" in s ? Array.from(s.embeddings) : []));

describe("Personalizer", () => {
  it("updates the user and their peers at once, and replays the update on load", async () => {
    const p = await load();
    const rows = readFileSync(`${fx.dataDir}/main/Books/test.jsonl`, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { user_id: string; profile: Array<{ asin: string }> });
    // user A reviews an item that peer B has in one of B's soft slots (and A has not reviewed)
    const [a, ...others] = rows;
    const mine = new Set(a!.profile.map((r) => r.asin));
    let peer: (typeof rows)[number] | undefined;
    let asin = "";
    for (const r of others) {
      const shown = (await p.prompt({ user: r.user_id, item: { asin: r.profile[0]!.asin } })).history;
      const hit = shown.find((h) => !mine.has(h.asin));
      if (hit) {
        peer = r;
        asin = hit.asin;
        break;
      }
    }
    expect(peer).toBeDefined();
    const request = (user: string) => ({ user, item: { asin }, rating: 4, title: "T" });
    const beforeA = await p.prompt(request(a!.user_id));
    const beforeB = await p.prompt(request(peer!.user_id));
    expect((await p.prompt(request(peer!.user_id))).softCacheHit).toBe(true);
    // a third user with no item in common with A keeps its cached rows
    const aItems = new Set([...mine, asin]);
    const far = others.find((r) => r !== peer && r.profile.every((x) => !aItems.has(x.asin)));
    if (far) await p.prompt(request(far.user_id));

    const text = "A fresh review about brave zebras and quiet rivers, written for this test.";
    const summary = await p.addReview(a!.user_id, {
      asin,
      rating: 5,
      title: "Zebras",
      text,
      timestamp: 9e12,
    });
    expect(summary).toMatchObject({ added_reviews: 1, history_length: a!.profile.length + 1 });
    await expect(p.addReview(a!.user_id, { asin, rating: 5, title: "x", text: "y" })).rejects.toMatchObject({
      code: "DEP_SERVE_CONFLICT",
    });
    await expect(
      p.addReview(a!.user_id, { asin: "NOPE", rating: 5, title: "x", text: "y" }),
    ).rejects.toMatchObject({
      code: "DEP_SERVE_UNKNOWN_ITEM",
    });

    const afterA = await p.prompt(request(a!.user_id));
    const afterB = await p.prompt(request(peer!.user_id));
    expect(afterA.history[0]).toEqual({ asin, title: "Zebras" });
    expect(afterA.prompt.pieces.some((x) => "text" in x && x.text.includes(text))).toBe(true);
    expect(softRows(afterA.segments)).not.toEqual(softRows(beforeA.segments));
    // B's difference embedding of that item now has A among its reviewers' means: recomputed, not cached
    expect(afterB.softCacheHit).toBe(false);
    expect(softRows(afterB.segments)).not.toEqual(softRows(beforeB.segments));
    if (far) expect((await p.prompt(request(far.user_id))).softCacheHit).toBe(true);

    // a fresh load replays the review to exactly the same prompts and soft rows
    const q = await load();
    for (const user of [a!.user_id, peer!.user_id]) {
      const live = await p.prompt(request(user));
      const replayed = await q.prompt(request(user));
      expect(replayed.prompt.inputIds).toEqual(live.prompt.inputIds);
      expect(softRows(replayed.segments)).toEqual(softRows(live.segments));
    }
    expect(q.summary(q.resolveUser(a!.user_id))).toMatchObject({ added_reviews: 1 });
  }, 120_000);

  it("names unknown users and items, and refuses methods it does not serve", async () => {
    const p = await load();
    const user = p.dataset.rows[0]!.userId;
    await expect(p.prompt({ user: "nobody", item: { asin: "x" } })).rejects.toMatchObject({
      code: "DEP_SERVE_UNKNOWN_USER",
    });
    await expect(p.prompt({ user, item: { asin: "NOPE" } })).rejects.toMatchObject({
      code: "DEP_SERVE_UNKNOWN_ITEM",
    });
    await expect(p.prompt({ user, item: { asin: "x" }, method: "pag" })).rejects.toMatchObject({
      code: "DEP_USAGE",
    });
    const adHoc = await p.prompt({
      user,
      item: { title: "A new book", description: "About rivers." },
      method: "rag",
    });
    expect(adHoc.prompt.pieces.some((x) => "text" in x && x.text.includes("A new book"))).toBe(true);
    const marked = await p.messagesPrompt({
      user,
      messages: [{ role: "user", content: "hint [[dep:diff:1]]" }],
    });
    expect(marked.prompt.slotIndex.filter((s) => s >= 0)).toHaveLength(1);
  }, 60_000);
});
