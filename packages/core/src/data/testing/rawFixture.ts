// A raw Amazon Reviews'23 fixture for tests: a random population with borderline counts (so both fixed-point
// loops of SPEC-DEP §1 iterate) plus hand-made cases for every filter. Written as JSONL, JSONL.gz and Parquet.
import { Rng } from "../../util/rng.js";
import type { RawMeta, RawReview } from "../prepareReference.js";

export interface RawFixture {
  reviews: Array<RawReview & Record<string, unknown>>;
  meta: Array<RawMeta & Record<string, unknown>>;
}

const WORDS =
  "the a story was quite good and I liked how it moved from one scene to another with care while some parts felt slow but overall worth reading again later this year because friends said so".split(
    " ",
  );

function sentence(rng: Rng, minLen: number): string {
  const parts: string[] = [];
  let len = 0;
  while (len < minLen) {
    const w = rng.pick(WORDS);
    parts.push(w);
    len += w.length + 1;
  }
  return `${parts.join(" ")}.`;
}

function text(rng: Rng, tag: string): string {
  // unique per call (tag), >= 200 code points, sometimes with whitespace runs of several kinds
  let t = `${tag} ${sentence(rng, 200 + rng.int(200))}`;
  if (rng.chance(0.3)) t = t.replace(" ", rng.pick(["  ", "\n\n", "\t", "\u00a0", " \u3000 ", "\r\n"]));
  return t;
}

function desc(rng: Rng, len: number): string[] {
  const s = sentence(rng, len).slice(0, len);
  // split into two list elements so the join adds one space: total = len
  const cut = Math.floor(len / 2);
  return [s.slice(0, cut), s.slice(cut + 1)].map((x, i) => (i === 1 ? x.padEnd(len - cut - 1, "x") : x));
}

/** Builds the fixture deterministically from `seed`. */
export function rawFixture(seed = 7, options: { heavy?: boolean } = {}): RawFixture {
  const rng = new Rng(seed);
  const meta: RawFixture["meta"] = [];
  const reviews: RawFixture["reviews"] = [];
  const item = (asin: string, d: string[] | null, extra: Partial<RawMeta> = {}) =>
    meta.push({
      parent_asin: asin,
      title: `Title ${asin}`,
      description: d,
      categories: ["Books", "Fiction"],
      rating_number: 10,
      main_category: "Books",
      ...extra,
    });
  const N_ITEMS = 90;
  for (let i = 0; i < N_ITEMS; i++) {
    const asin = `I${String(i).padStart(3, "0")}`;
    if (i === 0) item(asin, ["Product Description", ...desc(rng, 300)]);
    else if (i === 1) item(asin, desc(rng, 100));
    else if (i === 2) item(asin, desc(rng, 2000));
    else item(asin, desc(rng, 100 + rng.int(900)));
  }
  // items every step-1 filter removes (and reviews of them are removed in step 2)
  item("BAD_PD_ONLY", ["Product Description"]);
  item("BAD_SHORT", desc(rng, 99));
  item("BAD_LONG", desc(rng, 2001));
  item("BAD_EMPTY_TITLE", desc(rng, 300), { title: "" });
  item("BAD_NULL_TITLE", desc(rng, 300), { title: null });
  item("BAD_NO_CATS", desc(rng, 300), { categories: [] });
  item("BAD_NULL_CATS", desc(rng, 300), { categories: null });
  item("BAD_ZERO_RN", desc(rng, 300), { rating_number: 0 });
  item("BAD_NULL_RN", desc(rng, 300), { rating_number: null });
  item("BAD_NULL_DESC", null);
  // a duplicated meta row: one failing, one passing -> the item survives with the passing row
  item("I001", desc(rng, 50), { rating_number: 99 });
  const bad = meta.filter((m) => m.parent_asin.startsWith("BAD_")).map((m) => m.parent_asin);

  const weights = Array.from({ length: N_ITEMS }, (_, i) => 1 / (i + 4) ** 0.6);
  const N_USERS = 70;
  let tag = 0;
  for (let u = 0; u < N_USERS; u++) {
    const user = `U${String(u).padStart(3, "0")}`;
    const k = 12 + rng.int(22);
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(rng.weighted(weights));
    let ts = 1_500_000_000_000 + rng.int(1000) * 86_400_000;
    for (const i of chosen) {
      ts += rng.chance(0.1) ? 0 : rng.range(1, 30) * 86_400_000; // some equal timestamps
      reviews.push({
        user_id: user,
        parent_asin: `I${String(i).padStart(3, "0")}`,
        asin: `X${i}`,
        title: "Review title",
        text: text(rng, `t${tag++}`),
        rating: rng.range(1, 5),
        timestamp: ts,
        helpful_vote: 0,
        verified_purchase: true,
      });
    }
    const mine = reviews.filter((r) => r.user_id === user);
    const base = mine[mine.length - 1]!;
    // step-2 rejects
    if (u % 5 === 0) {
      const t199 = text(rng, `s${tag++}`).replace(/\s+/g, " ");
      reviews.push({
        ...base,
        parent_asin: "I050",
        text: t199.slice(0, 199).padEnd(199, "y"),
        timestamp: ts + 1,
      });
      reviews.push({
        ...base,
        parent_asin: "I051",
        rating: null,
        text: text(rng, `n${tag++}`),
        timestamp: ts + 2,
      });
      reviews.push({
        ...base,
        parent_asin: "I052",
        title: "",
        text: text(rng, `e${tag++}`),
        timestamp: ts + 3,
      });
      reviews.push({ ...base, parent_asin: "I053", timestamp: null, text: text(rng, `z${tag++}`) });
      reviews.push({ ...base, parent_asin: rng.pick(bad), text: text(rng, `b${tag++}`), timestamp: ts + 4 });
    }
    // dedup: a newer review of an item already reviewed, and an older copy of a text on another item
    if (u % 3 === 0) {
      const first = mine[0]!;
      reviews.push({
        ...first,
        text: text(rng, `d${tag++}`),
        timestamp: (base.timestamp as number) + 86_400_000,
      });
      reviews.push({ ...first, parent_asin: "I060", timestamp: (first.timestamp as number) - 1 });
    }
  }
  // the greedy chain (kept semantics): A(I070, tA) newest, B(I070, tB), C(I071, tB) oldest -> keep A and C
  const u0 = reviews.filter((r) => r.user_id === "U001");
  const tNew = Math.max(...u0.map((r) => (r.timestamp as number | null) ?? 0)) + 86_400_000;
  const tb = text(rng, `chainB${tag++}`);
  reviews.push({ ...u0[0]!, parent_asin: "I070", text: text(rng, `chainA${tag++}`), timestamp: tNew + 2 });
  reviews.push({ ...u0[0]!, parent_asin: "I070", text: tb, timestamp: tNew + 1 });
  reviews.push({ ...u0[0]!, parent_asin: "I071", text: tb, timestamp: tNew });

  if (options.heavy) {
    // > 500 reviews: H0 has 501 (dropped); H1..H9 have 498 H items + CA + CB = 500 each (kept)
    for (let i = 0; i < 520; i++) item(`H${String(i).padStart(3, "0")}`, desc(rng, 150));
    item("CA", desc(rng, 150));
    item("CB", desc(rng, 150));
    const hItem = (i: number) => `H${String(i).padStart(3, "0")}`;
    const review = (user: string, asin: string, ts: number) =>
      reviews.push({
        user_id: user,
        parent_asin: asin,
        title: "Heavy",
        text: `${user}-${asin} ${"steady reader notes ".repeat(11)}`,
        rating: 4,
        timestamp: ts,
      });
    for (let h = 0; h < 10; h++) {
      let ts = 1_400_000_000_000;
      for (let i = 0; i < 520; i++) {
        if (h === 0 ? i > 500 : i >= 22 * (h - 1) && i < 22 * h) continue;
        ts += 3_600_000;
        review(`H${h}`, hItem(i), ts);
      }
      if (h > 0) {
        review(`H${h}`, "CA", ts + 1);
        review(`H${h}`, "CB", ts + 2);
      }
    }
    // a step-5 cascade: CA has 4 profile users (V0..V3) -> dropped -> V0 falls to 7 -> dropped -> CB falls to 4
    // profile users (V1..V4) -> dropped -> V4 falls to 7 -> dropped: three passes
    const prof: Record<string, string[]> = {
      V0: [...Array.from({ length: 6 }, (_, i) => hItem(i)), "CA", "CB"],
      V1: [...Array.from({ length: 8 }, (_, i) => hItem(i)), "CA", "CB"],
      V2: [...Array.from({ length: 8 }, (_, i) => hItem(i + 1)), "CA", "CB"],
      V3: [...Array.from({ length: 8 }, (_, i) => hItem(i + 2)), "CA", "CB"],
      V4: [...Array.from({ length: 7 }, (_, i) => hItem(i + 3)), "CB"],
    };
    for (const [v, items] of Object.entries(prof)) {
      let ts = 1_300_000_000_000;
      for (const a of items) {
        ts += 3_600_000;
        review(v, a, ts);
      }
      for (let i = 0; i < 10; i++) {
        ts += 3_600_000;
        review(v, hItem(300 + i), ts + 1e11);
      }
    }
  }
  return { reviews, meta };
}
