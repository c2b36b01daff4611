// A direct, in-memory transcription of SPEC-DEP §1 (steps 1-6). It is the test oracle for the out-of-core
// DuckDB implementation (`prepareAmazon`), and handy for small inputs. Orders that the spec leaves open are
// fixed here and in the SQL alike:
// - a user's reviews are ordered by (timestamp, asin, text) ascending, comparing strings by code point (the
//   UTF-8 byte order DuckDB uses); "newest first" is the exact reverse of that order;
// - dedup keeps a review unless an already *kept* newer review of the same user has the same asin or the
//   exact same text (the greedy newest-first walk);
// - a parent_asin with several meta rows survives step 1 if any row does; the surviving row with the largest
//   rating_number (then smallest title, then smallest description) describes it;
// - lengths are counted in Unicode code points (Python's len); `\s` is Python's Unicode whitespace.
import { getOrInsert } from "../util/rng.js";
import type { DplRow, ItemMeta, Review } from "./types.js";
import { splitRows } from "./write.js";

export interface RawReview {
  user_id: string;
  parent_asin: string;
  title: string | null;
  text: string | null;
  rating: number | null;
  timestamp: number | null;
}

export interface RawMeta {
  parent_asin: string;
  title: string | null;
  description: string[] | null;
  categories: string[] | null;
  rating_number: number | null;
}

export interface PrepareStats {
  itemsIn: number;
  itemsAfterStep1: number;
  reviewsIn: number;
  reviewsAfterStep2: number;
  reviewsAfterDedup: number;
  step3Iterations: number;
  usersAfterStep3: number;
  step5Iterations: number;
  users: number;
  items: number;
  rows: number;
}

/** Python's str.isspace() characters, for `\s+` -> " ". */
export const PY_WS_CLASS =
  "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const WS_RE = new RegExp(`${PY_WS_CLASS}+`, "g");

export function normaliseWhitespace(s: string): string {
  return s.replace(WS_RE, " ").replace(/^ | $/g, "");
}

export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Compares strings by code point (= UTF-8 byte order). */
export function cmpCodePoint(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1; // a surrogate (code point >= 0x10000) sorts after any BMP char
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** Step 1's description rule. */
export function itemDescription(description: readonly string[] | null): string {
  const d = description ?? [];
  if (d.length === 1 && d[0] === "Product Description") return "";
  if (d.length > 0 && d[0] === "Product Description") return d.slice(1).join(" ");
  return d.join(" ");
}

interface R {
  user: string;
  asin: string;
  title: string;
  text: string;
  rating: number;
  timestamp: number;
}

function cmpReview(a: R, b: R): number {
  return a.timestamp - b.timestamp || cmpCodePoint(a.asin, b.asin) || cmpCodePoint(a.text, b.text);
}

/** SPEC-DEP §1 steps 1-6 in memory. Returns DPL rows (users in code-point order, splits as §1.6) and meta. */
export function prepareReference(
  reviews: readonly RawReview[],
  meta: readonly RawMeta[],
  category: string,
): { rows: DplRow[]; items: ItemMeta[]; stats: PrepareStats } {
  // step 1
  const items = new Map<string, { title: string; description: string; ratingNumber: number }>();
  for (const m of meta) {
    const description = itemDescription(m.description);
    const len = codePointLength(description);
    if (len < 100 || len > 2000) continue;
    if (!m.title) continue;
    if (!m.categories || m.categories.length === 0) continue;
    if (!(m.rating_number !== null && m.rating_number > 0)) continue;
    const cur = items.get(m.parent_asin);
    const cand = { title: m.title, description, ratingNumber: m.rating_number };
    if (
      !cur ||
      cand.ratingNumber > cur.ratingNumber ||
      (cand.ratingNumber === cur.ratingNumber &&
        (cmpCodePoint(cand.title, cur.title) < 0 ||
          (cand.title === cur.title && cmpCodePoint(cand.description, cur.description) < 0)))
    ) {
      items.set(m.parent_asin, cand);
    }
  }
  // step 2
  let rs: R[] = [];
  for (const r of reviews) {
    if (r.text === null || codePointLength(r.text) < 200) continue;
    if (r.rating === null || r.title === null || r.title === "" || r.timestamp === null) continue;
    if (!items.has(r.parent_asin)) continue;
    rs.push({
      user: r.user_id,
      asin: r.parent_asin,
      title: r.title,
      text: r.text,
      rating: r.rating,
      timestamp: r.timestamp,
    });
  }
  const reviewsAfterStep2 = rs.length;
  // step 3
  const byUser = (list: R[]) => {
    const m = new Map<string, R[]>();
    for (const r of list) {
      getOrInsert(m, r.user, () => []).push(r);
    }
    return m;
  };
  let step3Iterations = 0;
  let reviewsAfterDedup = -1;
  for (;;) {
    step3Iterations++;
    const before = rs.length;
    const next: R[] = [];
    for (const list of byUser(rs).values()) {
      list.sort((a, b) => -cmpReview(a, b));
      const seenA = new Set<string>();
      const seenT = new Set<string>();
      for (const r of list) {
        if (seenA.has(r.asin) || seenT.has(r.text)) continue;
        seenA.add(r.asin);
        seenT.add(r.text);
        next.push(r);
      }
    }
    rs = next;
    if (reviewsAfterDedup < 0) reviewsAfterDedup = rs.length;
    const itemUsers = new Map<string, Set<string>>();
    for (const r of rs) {
      getOrInsert(itemUsers, r.asin, () => new Set<string>()).add(r.user);
    }
    rs = rs.filter((r) => itemUsers.get(r.asin)!.size >= 8);
    const userCount = new Map<string, number>();
    for (const r of rs) userCount.set(r.user, (userCount.get(r.user) ?? 0) + 1);
    rs = rs.filter((r) => {
      const n = userCount.get(r.user)!;
      return n >= 18 && n <= 500;
    });
    if (rs.length === before) break;
  }
  const usersAfterStep3 = byUser(rs).size;
  // step 4
  const users = new Map<string, { profile: R[]; inputs: R[] }>();
  for (const [user, list] of byUser(rs)) {
    const normalised = list.map((r) => ({ ...r, text: normaliseWhitespace(r.text) }));
    // the order is fixed on the raw text (as the SQL does), so sort before normalising
    const order = list.map((r, i) => ({ r, i })).sort((a, b) => cmpReview(a.r, b.r));
    const sorted = order.map(({ i }) => normalised[i]!);
    users.set(user, {
      profile: sorted.slice(0, sorted.length - 10),
      inputs: sorted.slice(sorted.length - 10),
    });
  }
  // step 5
  let step5Iterations = 0;
  for (;;) {
    step5Iterations++;
    let changed = false;
    const itemUsers = new Map<string, Set<string>>();
    for (const [user, u] of users) {
      for (const r of u.profile) {
        getOrInsert(itemUsers, r.asin, () => new Set<string>()).add(user);
      }
    }
    for (const u of users.values()) {
      const kept = u.profile.filter((r) => itemUsers.get(r.asin)!.size >= 5);
      if (kept.length !== u.profile.length) changed = true;
      u.profile = kept;
    }
    for (const [user, u] of [...users]) {
      if (u.profile.length < 8) {
        users.delete(user);
        changed = true;
      }
    }
    if (!changed) break;
  }
  // step 6
  const rows: DplRow[] = [];
  const used = new Set<string>();
  const toReview = (r: R): Review => ({
    asin: r.asin,
    rating: r.rating,
    title: r.title,
    text: r.text,
    timestamp: r.timestamp,
  });
  for (const user of [...users.keys()].sort(cmpCodePoint)) {
    const u = users.get(user)!;
    for (const r of [...u.profile, ...u.inputs]) used.add(r.asin);
    rows.push(...splitRows(user, category, u.profile.map(toReview), u.inputs.map(toReview)));
  }
  const outItems: ItemMeta[] = [...used].sort(cmpCodePoint).map((asin) => {
    const it = items.get(asin)!;
    return { asin, title: it.title, description: it.description, category };
  });
  return {
    rows,
    items: outItems,
    stats: {
      itemsIn: meta.length,
      itemsAfterStep1: items.size,
      reviewsIn: reviews.length,
      reviewsAfterStep2,
      reviewsAfterDedup,
      step3Iterations,
      usersAfterStep3,
      step5Iterations,
      users: users.size,
      items: outItems.length,
      rows: rows.length,
    },
  };
}
