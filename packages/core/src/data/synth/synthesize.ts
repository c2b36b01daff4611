// The synthetic population: a documented generative model that writes the DPL format (plus, optionally, the same
// data in the raw Amazon Reviews'23 schema) so everything downstream is identical to real data.
//
// Generative model (all randomness from `seed`, one independent stream per user and per item):
// - Categories: users are split evenly over min(|categories|, floor(users / 10)) categories (Books, Movies_and_TV,
//   CDs_and_Vinyl by default); each category is its own DPL dataset, as SPEC-DEP §1 prepares per category.
// - Items: a genre, a title, a 100-2000 character description built from sentence banks, and a latent quality
//   q[a] in [-1, 1] for each of the category's six aspects (plot, characters, ... / vocals, production, ...).
// - Users: latent aspect preferences w (log-normal weights, normalised), a rating bias b ~ N(0, 0.5), and a
//   writing style: register (plain / enthusiastic / academic / casual: its own adjectives and intensifiers), a
//   target length (log-normal, 230-1500 chars), one or two signature phrases and how often they appear, an
//   opener habit, and punctuation habits (exclamation marks, ellipses, dashes, parenthetical asides).
// - Who reviews what: each user has P = 8 + Exp(6) profile reviews (capped) and 10 later "input" reviews. Per
//   category, profile slots are laid out user by user in a seeded ring order and slot k goes to item k mod L:
//   every item gets >= 8 distinct users and no user reviews an item twice; inputs use a second ring and their
//   own items. So SPEC-DEP §1's filters and both fixed-point loops keep every user and item (the raw export
//   reproduces exactly this DPL output through `prepareAmazon`), and every profile item has >= 8 peers.
// - A review: rating = clamp(round(3.3 + 2 * sum_a w[a] q[a] + b + 0.45 N), 1, 5); text = an opener, an overall
//   judgement, sentences on the aspects the user cares about (sampled by w^2, so preferred aspects come first
//   and most often) with polarity from q[a] + noise, filler sentences until the user's length, a closing that
//   matches the rating, and maybe the user's signature phrase; >= 200 characters; strictly increasing
//   timestamps per user (profile before inputs).
// Ground truth is saved beside the data: `traits.jsonl` (per user) and `items_truth.jsonl` (per item).
// Time and memory are linear in the number of users (items are kept as compact arrays; users are streamed).
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { AtomicLineWriter, writeDirAtomic } from "../../io/atomic.js";
import { Rng } from "../../util/rng.js";
import type { DatasetManifest } from "../load.js";
import type { Review } from "../types.js";
import { DatasetWriter, splitRows } from "../write.js";
import {
  CATEGORIES,
  type CategoryLexicon,
  FIRST_NAMES,
  INTENSIFIERS,
  LAST_NAMES,
  OPENER_PREFIXES,
  OVERALL_ADJ,
  REASONS,
  REGISTERS,
  type Register,
  SIGNATURES,
} from "./lexicon.js";

export interface SynthesizeOptions {
  /** number of users (>= 10) */
  users: number;
  /** approximate number of items (default: one item per ~10 review slots); clamped so the §1 thresholds hold */
  items?: number;
  seed?: number;
  outDir: string;
  /** category names from the built-in lexicons (default: Books, Movies_and_TV, CDs_and_Vinyl) */
  categories?: string[];
  /** also write the same reviews in the raw Amazon Reviews'23 schema under `outDir/raw/<Category>/` */
  raw?: boolean;
  /** only write the raw export (no DPL rows), e.g. to benchmark `prepareAmazon` */
  rawOnly?: boolean;
  overwrite?: boolean;
  onProgress?: (p: { users: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface SynthesizeResult {
  manifest: DatasetManifest | null;
  users: number;
  items: number;
  reviews: number;
  rows: number;
}

export interface UserStyle {
  register: Register;
  target_length: number;
  signatures: string[];
  signature_rate: number;
  exclamation_rate: number;
  ellipsis_rate: number;
  dash_rate: number;
  paren_rate: number;
  opener_prefix: string | null;
  opener_prefix_rate: number;
}

export interface UserTraits {
  user_id: string;
  category: string;
  rating_bias: number;
  aspect_weights: Record<string, number>;
  style: UserStyle;
  profile_reviews: number;
}

interface ItemInfo {
  asin: string;
  title: string;
  genre: string;
  quality: Float32Array;
}

const DAY = 86_400_000;
const T0 = Date.UTC(2014, 0, 1);

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function aOrAn(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

function titleCase(s: string): string {
  return s
    .split(" ")
    .map((w, i) => (i > 0 && (w === "of" || w === "the" || w === "in" || w === "a") ? w : cap(w)))
    .join(" ");
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function makeItem(lex: CategoryLexicon, rng: Rng, asin: string): { info: ItemInfo; description: string[] } {
  const genre = rng.pick(lex.genres);
  const adj = rng.pick(lex.titleAdjectives);
  const noun = rng.pick(lex.titleNouns);
  const name = `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
  const place = rng.pick(lex.places);
  const patterns = [
    `The ${adj} ${noun}`,
    `${adj} ${noun}`,
    `The ${noun} of ${titleCase(place).replace(/^(The|A) /, (m) => m.toLowerCase())}`,
    `${noun} for ${rng.pick(FIRST_NAMES)}`,
    `The ${adj} ${noun} ${rng.pick(["II", "III", "Revisited", "Returns"])}`,
  ];
  const title = rng.pick(patterns);
  const quality = new Float32Array(lex.aspects.length);
  for (let a = 0; a < quality.length; a++) quality[a] = Math.max(-1, Math.min(1, 0.15 + 0.55 * rng.normal()));
  const made = lex.name === "CDs_and_Vinyl" ? "recorded in" : "set in";
  const sentences = [
    `${cap(aOrAn(genre))} ${genre} ${lex.thing} from ${name}, ${made} ${place}.`,
    rng.pick(lex.premises),
  ];
  const target = 150 + Math.floor(rng.float() * rng.float() * 1400);
  const pool = rng.shuffle([
    ...lex.features,
    ...lex.praise,
    ...lex.premises.filter((p) => p !== sentences[1]),
  ]);
  for (const s of pool) {
    if (sentences.join(" ").length >= target) break;
    if (sentences.join(" ").length + 1 + s.length > 2000) break;
    sentences.push(s);
  }
  return { info: { asin, title, genre, quality }, description: sentences };
}

function makeUser(
  lex: CategoryLexicon,
  rng: Rng,
): Omit<UserTraits, "user_id" | "category" | "profile_reviews"> & {
  w: Float64Array;
} {
  const w = new Float64Array(lex.aspects.length);
  let sum = 0;
  for (let a = 0; a < w.length; a++) {
    w[a] = Math.exp(1.2 * rng.normal());
    sum += w[a]!;
  }
  const aspect_weights: Record<string, number> = {};
  for (let a = 0; a < w.length; a++) {
    w[a] = w[a]! / sum;
    aspect_weights[lex.aspects[a]!.noun] = round3(w[a]!);
  }
  const register = rng.pick(REGISTERS);
  const hasPrefix = rng.chance(0.4);
  const style: UserStyle = {
    register,
    target_length: Math.round(Math.max(230, Math.min(1500, Math.exp(Math.log(480) + 0.45 * rng.normal())))),
    signatures: rng.sample(SIGNATURES, rng.range(1, 2)),
    signature_rate: round3(0.3 + 0.6 * rng.float()),
    exclamation_rate: round3(
      register === "enthusiastic"
        ? 0.4 + 0.4 * rng.float()
        : register === "casual"
          ? 0.2 * rng.float() + 0.1
          : 0.05 * rng.float(),
    ),
    ellipsis_rate: round3(rng.chance(0.3) ? 0.15 + 0.25 * rng.float() : 0),
    dash_rate: round3(rng.chance(0.35) ? 0.2 + 0.4 * rng.float() : 0),
    paren_rate: round3(rng.chance(0.3) ? 0.15 + 0.3 * rng.float() : 0),
    opener_prefix: hasPrefix ? rng.pick(OPENER_PREFIXES) : null,
    opener_prefix_rate: hasPrefix ? round3(0.4 + 0.5 * rng.float()) : 0,
  };
  return { w, aspect_weights, rating_bias: round3(0.5 * rng.normal()), style };
}

type Polarity = "pos" | "neg" | "mixed";

const REVIEW_TITLES: Record<number, string[]> = {
  5: ["Loved it", "A new favorite", "Absolutely wonderful", "Five stars, easily", "Exceeded my expectations"],
  4: ["Very enjoyable", "Really good", "Well worth it", "A strong effort", "Glad I picked it up"],
  3: ["Mixed feelings", "Decent but uneven", "Not bad", "Some good moments", "Middle of the road"],
  2: ["Disappointing", "Not for me", "Expected more", "Had potential", "Fell flat"],
  1: ["Avoid", "A real letdown", "Could not get into it", "Save your money", "Not worth the time"],
};

/** Writes one review's text in the user's voice. */
export function writeReview(
  lex: CategoryLexicon,
  user: ReturnType<typeof makeUser>,
  item: ItemInfo,
  rng: Rng,
): { rating: number; title: string; text: string } {
  const st = user.style;
  let score = 0;
  for (let a = 0; a < user.w.length; a++) score += user.w[a]! * item.quality[a]!;
  const rating = Math.max(
    1,
    Math.min(5, Math.round(3.3 + 2 * score + user.rating_bias + 0.45 * rng.normal())),
  );
  const overallPol: Polarity = rating >= 4 ? "pos" : rating <= 2 ? "neg" : "mixed";
  const adjs = OVERALL_ADJ[st.register];
  const adjOf = (p: Polarity) => {
    const adj = rng.pick(adjs[p]);
    return !adj.includes(" ") && rng.chance(0.5) ? `${rng.pick(INTENSIFIERS[st.register])} ${adj}` : adj;
  };
  const T = item.title;
  const sentences: Array<{ s: string; pol: Polarity }> = [];

  // opener
  const openers = [
    `I ${lex.consumed} ${T} after ${rng.pick(REASONS)}.`,
    `${T} had been on my list for a while, and I finally ${lex.consumed} it.`,
    `This is ${aOrAn(item.genre)} ${item.genre} ${lex.thing}, and I went in with ${user.rating_bias > 0.2 ? "high" : user.rating_bias < -0.2 ? "low" : "modest"} expectations.`,
    rating >= 4
      ? `I really enjoyed ${lex.consuming} ${T}.`
      : rating <= 2
        ? `I wanted to like ${T} more than I did.`
        : `I have mixed feelings about ${T}.`,
  ];
  let opener = rng.pick(openers);
  if (st.opener_prefix && opener.startsWith("I ") && rng.chance(st.opener_prefix_rate)) {
    opener = `${st.opener_prefix} ${opener}`;
  }
  sentences.push({ s: opener, pol: overallPol });
  sentences.push({
    s: rng.pick([
      `Overall, I found it ${adjOf(overallPol)}.`,
      `As ${aOrAn(item.genre)} ${item.genre} ${lex.thing}, it is ${adjOf(overallPol)}.`,
      `All in all, it was ${adjOf(overallPol)}.`,
    ]),
    pol: overallPol,
  });

  // aspects in preference order (sampled by w^2)
  const remaining = Array.from(user.w, (x) => x ** 2);
  const order: number[] = [];
  for (let i = 0; i < remaining.length; i++) {
    const a = rng.weighted(remaining);
    order.push(a);
    remaining[a] = 0;
  }
  const target = Math.max(200, Math.round(st.target_length * Math.exp(0.25 * rng.normal())));
  const len = () => sentences.reduce((n, x) => n + x.s.length + 1, 0);
  const closingBudget = 70;
  for (const a of order) {
    if (len() + closingBudget >= target && sentences.length >= 3) break;
    const asp = lex.aspects[a]!;
    const s = item.quality[a]! + 0.3 * rng.normal();
    const pol: Polarity = s > 0.15 ? "pos" : s < -0.15 ? "neg" : "mixed";
    const was = asp.plural ? "were" : "was";
    const pron = asp.plural ? "they" : "it";
    let text: string;
    if (pol === "pos") {
      text = rng.pick([
        `The ${asp.noun} ${rng.pick(asp.good)}.`,
        `What stood out most ${was} the ${asp.noun}, which ${rng.pick(asp.good)}.`,
        `I loved how the ${asp.noun} ${rng.pick(asp.good)}.`,
        `The ${asp.noun} ${was} ${adjOf("pos")}.`,
      ]);
    } else if (pol === "neg") {
      text = rng.pick([
        `Unfortunately, the ${asp.noun} ${rng.pick(asp.bad)}.`,
        `My biggest problem was that the ${asp.noun} ${rng.pick(asp.bad)}.`,
        `The ${asp.noun} ${rng.pick(asp.bad)}, which was a shame.`,
        `The ${asp.noun} ${was} ${adjOf("neg")}.`,
      ]);
    } else {
      text = rng.pick([
        `The ${asp.noun} ${was} fine, if not especially memorable.`,
        `At times the ${asp.noun} ${rng.pick(asp.good)}, but at other times ${pron} ${rng.pick(asp.bad)}.`,
        `I went back and forth on the ${asp.noun}, which ${was} ${adjOf("mixed")}.`,
      ]);
    }
    sentences.push({ s: text, pol });
  }
  const fillers = [
    { s: `It reminded me why I keep coming back to ${item.genre}.`, pol: "pos" as Polarity },
    { s: `I ${lex.consumed} it over a couple of evenings.`, pol: "mixed" as Polarity },
    {
      s: `By the time ${lex.finished}, I ${overallPol === "pos" ? "wanted more" : overallPol === "neg" ? "was mostly relieved" : "was not sure what to think"}.`,
      pol: overallPol,
    },
    {
      s:
        overallPol === "neg"
          ? `It felt like the ${lex.maker} ran out of ideas halfway through.`
          : `The ${lex.maker} clearly knew what they wanted to do.`,
      pol: overallPol,
    },
    {
      s: `Compared with other ${item.genre} ${lex.thing}s I have ${lex.consumed} this year, it ${overallPol === "pos" ? "ranks near the top" : overallPol === "neg" ? "ranks near the bottom" : "lands somewhere in the middle"}.`,
      pol: overallPol,
    },
  ];
  rng.shuffle(fillers);
  for (const f of fillers) {
    if (len() + closingBudget >= target) break;
    sentences.push(f);
  }
  const closings: Record<number, string[]> = {
    5: [
      `I would recommend it to anyone who enjoys ${item.genre}.`,
      "I will be thinking about this one for a long time.",
    ],
    4: [
      `Well worth your time if ${item.genre} is your thing.`,
      "A few small flaws, but I would happily recommend it.",
    ],
    3: [
      "Worth a try, but keep your expectations in check.",
      "Not a waste of time, just not a favorite either.",
    ],
    2: ["Hard to recommend unless you are a completist.", "I doubt I will come back to it."],
    1: [`I cannot recommend it, even to die-hard ${item.genre} fans.`, "I would skip this one."],
  };
  sentences.push({ s: rng.pick(closings[rating]!), pol: overallPol });

  // punctuation habits
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i++) {
    let { s } = sentences[i]!;
    const { pol } = sentences[i]!;
    if (st.paren_rate > 0 && i > 0 && rng.chance(st.paren_rate)) {
      s = `${s.slice(0, -1)} (${rng.pick(["at least for me", "no spoilers here", "your mileage may vary", "I checked twice"])}).`;
    }
    if (pol === "pos" && rng.chance(st.exclamation_rate)) s = `${s.slice(0, -1)}!`;
    else if (pol !== "pos" && rng.chance(st.ellipsis_rate)) s = `${s.slice(0, -1)}...`;
    const next = sentences[i + 1];
    if (next && /[^.]\.$/.test(s) && next.s.startsWith("The ") && rng.chance(st.dash_rate)) {
      out.push(`${s.slice(0, -1)} - the ${next.s.slice(4)}`);
      i++;
      continue;
    }
    out.push(s);
  }
  if (rng.chance(st.signature_rate)) out.push(rng.pick(st.signatures));
  let text = out.join(" ");
  while (text.length < 200) text += ` ${rng.pick(fillers).s}`;

  const aspectTitle = (() => {
    const a = order[0]!;
    const asp = lex.aspects[a]!;
    return item.quality[a]! > 0.15
      ? `Great ${asp.noun}`
      : item.quality[a]! < -0.15
        ? `Let down by the ${asp.noun}`
        : null;
  })();
  const title = aspectTitle && rng.chance(0.3) ? aspectTitle : rng.pick(REVIEW_TITLES[rating]!);
  return { rating, title, text };
}

function userIdFor(rng: Rng, index: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let id = "A";
  let x = index;
  for (let i = 0; i < 6; i++) {
    id += alphabet[x % 32];
    x = Math.floor(x / 32);
  }
  while (id.length < 28) id += alphabet[rng.int(32)];
  return id;
}

function asinFor(categoryIndex: number, index: number): string {
  return `B${categoryIndex}${index.toString(36).toUpperCase().padStart(8, "0")}`;
}

/** Profile/input slot plan for one category: L items per pool, ring offsets per user. */
interface Plan {
  users: number[];
  profileCount: Int32Array;
  profileOffset: Float64Array;
  inputOffset: Float64Array;
  Lp: number;
  Li: number;
}

function plan(users: number[], rng: Rng, itemsWanted: number | undefined): Plan {
  const n = users.length;
  const profileCount = new Int32Array(n);
  for (let i = 0; i < n; i++) profileCount[i] = 8 + Math.min(60, Math.floor(-6 * Math.log(1 - rng.float())));
  let Sp = profileCount.reduce((a, b) => a + b, 0);
  // make L > max P possible: the largest users give up slots until max P < floor(Sp / 8)
  for (;;) {
    let maxI = 0;
    for (let i = 1; i < n; i++) if (profileCount[i]! > profileCount[maxI]!) maxI = i;
    if (profileCount[maxI]! < Math.floor(Sp / 8) || profileCount[maxI]! <= 8) break;
    profileCount[maxI]!--;
    Sp--;
  }
  const Si = 10 * n;
  const maxP = profileCount.reduce((a, b) => Math.max(a, b), 0);
  const wantP = itemsWanted ? Math.round((itemsWanted * Sp) / (Sp + Si)) : Math.floor(Sp / 10);
  const wantI = itemsWanted ? itemsWanted - wantP : Math.floor(Si / 10);
  const Lp = Math.max(maxP + 1, Math.min(wantP, Math.floor(Sp / 8)));
  const Li = Math.max(11, Math.min(wantI, Math.floor(Si / 8)));
  if (Math.floor(Sp / Lp) < 8 || Math.floor(Si / Li) < 8) {
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      "synthesize: too few users per category to give every item 8 reviewers",
    );
  }
  const ringP = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const ringI = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const profileOffset = new Float64Array(n);
  const inputOffset = new Float64Array(n);
  let o = 0;
  for (const i of ringP) {
    profileOffset[i] = o;
    o += profileCount[i]!;
  }
  o = 0;
  for (const i of ringI) {
    inputOffset[i] = o;
    o += 10;
  }
  return { users, profileCount, profileOffset, inputOffset, Lp, Li };
}

/** Generates a synthetic population into `outDir` (atomically). See the model description at the top. */
export async function synthesize(options: SynthesizeOptions): Promise<SynthesizeResult> {
  const U = options.users;
  if (!Number.isInteger(U) || U < 10) {
    throw new DepError("DEP_INVALID_ARGUMENT", `synthesize: users must be an integer >= 10 (got ${U})`);
  }
  const catNames = options.categories ?? ["Books", "Movies_and_TV", "CDs_and_Vinyl"];
  for (const c of catNames) {
    if (!CATEGORIES[c]) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `synthesize: unknown category ${c}; choose from ${Object.keys(CATEGORIES).join(", ")}`,
      );
    }
  }
  const seed = options.seed ?? 42;
  const root = new Rng(seed);
  const C = Math.max(1, Math.min(catNames.length, Math.floor(U / 10)));
  const cats = catNames.slice(0, C);
  const writeDpl = !options.rawOnly;
  const writeRaw = options.raw || options.rawOnly;

  return writeDirAtomic(
    options.outDir,
    async (dir) => {
      const writer = new DatasetWriter(dir);
      const traitsW = writeDpl ? await AtomicLineWriter.create(join(dir, "traits.jsonl")) : null;
      const truthW = writeDpl ? await AtomicLineWriter.create(join(dir, "items_truth.jsonl")) : null;
      const rawW: AtomicLineWriter[] = [];
      let nItems = 0;
      let nReviews = 0;
      let nRows = 0;
      let done = 0;
      try {
        for (let c = 0; c < C; c++) {
          const lex = CATEGORIES[cats[c]!]!;
          const users: number[] = [];
          for (let u = c; u < U; u += C) users.push(u);
          const itemsWanted = options.items ? Math.max(1, Math.round(options.items / C)) : undefined;
          const p = plan(users, root.fork(`plan-${lex.name}`), itemsWanted);
          const nCatItems = p.Lp + p.Li;
          const items: ItemInfo[] = new Array(nCatItems);
          const rawReviews = writeRaw
            ? await AtomicLineWriter.create(join(dir, "raw", lex.name, "reviews.jsonl"))
            : null;
          const rawMeta = writeRaw
            ? await AtomicLineWriter.create(join(dir, "raw", lex.name, "meta.jsonl"))
            : null;
          if (rawReviews && rawMeta) rawW.push(rawReviews, rawMeta);
          // reviewers per item (for rating_number in the raw export) follow from the slot layout
          const reviewersOf = (j: number): number => {
            const S = j < p.Lp ? p.profileCount.reduce((a, b) => a + b, 0) : 10 * users.length;
            const L = j < p.Lp ? p.Lp : p.Li;
            const k = j < p.Lp ? j : j - p.Lp;
            return Math.floor(S / L) + (k < S % L ? 1 : 0);
          };
          for (let j = 0; j < nCatItems; j++) {
            const asin = asinFor(c, j);
            const { info, description } = makeItem(lex, root.fork(`item-${lex.name}-${j}`), asin);
            items[j] = info;
            if (writeDpl) {
              await writer.addItem({
                asin,
                title: info.title,
                description: description.join(" "),
                category: lex.name,
              });
              const quality: Record<string, number> = {};
              lex.aspects.forEach((a, i) => {
                quality[a.noun] = round3(info.quality[i]!);
              });
              await truthW!.write(
                JSON.stringify({ asin, category: lex.name, genre: info.genre, aspect_quality: quality }),
              );
            }
            if (rawMeta) {
              await rawMeta.write(
                JSON.stringify({
                  main_category: lex.name.replace(/_/g, " "),
                  title: info.title,
                  average_rating: null,
                  rating_number: reviewersOf(j),
                  features: [],
                  description,
                  price: null,
                  images: [],
                  videos: [],
                  store: null,
                  categories: [lex.name.replace(/_/g, " "), cap(info.genre)],
                  details: {},
                  parent_asin: asin,
                  bought_together: null,
                }),
              );
            }
          }
          nItems += nCatItems;

          for (let i = 0; i < users.length; i++) {
            if (options.signal?.aborted) throw new DepError("DEP_ABORTED", "synthesize: aborted");
            const g = users[i]!;
            const rng = root.fork(`user-${g}`);
            const userId = userIdFor(rng, g);
            const traits = makeUser(lex, rng);
            const P = p.profileCount[i]!;
            const itemIdx: number[] = [];
            for (let t = 0; t < P; t++) itemIdx.push((p.profileOffset[i]! + t) % p.Lp);
            for (let t = 0; t < 10; t++) itemIdx.push(p.Lp + ((p.inputOffset[i]! + t) % p.Li));
            // profile items in a random order, inputs after them
            const prof = rng.shuffle(itemIdx.slice(0, P));
            const inp = rng.shuffle(itemIdx.slice(P));
            let ts = T0 + Math.floor(rng.float() * 6 * 365) * DAY + rng.int(DAY);
            const reviews: Review[] = [];
            const texts = new Set<string>();
            for (const j of [...prof, ...inp]) {
              ts += DAY + Math.floor(-12 * DAY * Math.log(1 - rng.float())) + rng.int(3_600_000);
              let r = writeReview(lex, traits, items[j]!, rng);
              while (texts.has(r.text)) r = writeReview(lex, traits, items[j]!, rng);
              texts.add(r.text);
              reviews.push({
                asin: items[j]!.asin,
                rating: r.rating,
                title: r.title,
                text: r.text,
                timestamp: ts,
              });
            }
            nReviews += reviews.length;
            if (writeDpl) {
              for (const row of splitRows(userId, lex.name, reviews.slice(0, P), reviews.slice(P))) {
                await writer.addRow(row);
                nRows++;
              }
              const t: UserTraits = {
                user_id: userId,
                category: lex.name,
                rating_bias: traits.rating_bias,
                aspect_weights: traits.aspect_weights,
                style: traits.style,
                profile_reviews: P,
              };
              await traitsW!.write(JSON.stringify(t));
            }
            if (rawReviews) {
              for (const r of reviews) {
                await rawReviews.write(
                  JSON.stringify({
                    rating: r.rating,
                    title: r.title,
                    text: r.text,
                    images: [],
                    asin: r.asin,
                    parent_asin: r.asin,
                    user_id: userId,
                    timestamp: r.timestamp,
                    helpful_vote: 0,
                    verified_purchase: true,
                  }),
                );
              }
            }
            done++;
            if (done % 1000 === 0) options.onProgress?.({ users: done, total: U });
          }
        }
        options.onProgress?.({ users: done, total: U });
        for (const w of rawW) await w.commit();
        let manifest: DatasetManifest | null = null;
        if (writeDpl) {
          await traitsW!.commit();
          await truthW!.commit();
          manifest = await writer.finish("synthetic", {
            synthetic: { seed, users: U, items: nItems, generator: "dep-synth-1" },
          });
        }
        return { manifest, users: U, items: nItems, reviews: nReviews, rows: nRows };
      } catch (err) {
        await writer.abort();
        for (const w of [traitsW, truthW, ...rawW]) await w?.abort();
        throw err;
      }
    },
    { overwrite: options.overwrite ?? false },
  );
}
