// `dep explain`: what a trained SAE's units respond to. Every sample's X = [his; diff] of a split goes
// through the checkpoint's SAE encoder; then
// - per unit: the activation rate over review (his) rows, the reviews that activate it most, and a label of
//   the words distinguishing those reviews (weighted log-odds against all reviews);
// - per user: the units where the user's difference rows are strongest relative to peers of the same
//   category (z-score of the user's mean activation), and the user's reviews that drive them;
// - on synthetic data (traits.jsonl beside the dataset): how well the best single unit recovers each planted
//   trait, as a held-out AUC.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DplRow,
  EmbeddingStore,
  itemKey,
  loadDataset,
  loadModelCheckpoint,
  materializeDifferences,
  planDifferences,
  type Split,
  type UserTraits,
} from "@dep/core";
import { DepError, type KernelOptions, SAE_MAX_K, SAE_ROWS, saeForward } from "@dep/native-cuda";
import { crossValidatedBestUnit, type UserFeatures } from "./auc.js";
import { countWords, distinctiveWords, type WordCounts } from "./logOdds.js";
import type { ExplainResult, ReviewRef, TraitRecovery, UnitReport, UserReport } from "./types.js";

export interface ExplainOptions {
  checkpoint: string;
  dataDir: string;
  embDir: string;
  split?: Split;
  seed?: number;
  kernel: KernelOptions;
  /** top-activating reviews kept per unit (default 5) */
  topReviews?: number;
  /** reviews whose words label a unit (default: max(10, 5% of the reviews)) */
  labelReviews?: number;
  /** strongest units listed per user (default 5) */
  userUnits?: number;
  /** characters of review text kept in excerpts (default 240) */
  excerptChars?: number;
  /** samples per SAE call (default 512) */
  chunkSamples?: number;
  /** the planted traits (default: traits.jsonl in dataDir, when it exists) */
  traitsFile?: string;
}

interface ReviewRow {
  user: number;
  sample: number;
  text: string;
  ref: Omit<ReviewRef, "activation">;
}

const excerpt = (text: string, n: number) => (text.length <= n ? text : `${text.slice(0, n - 1).trimEnd()}…`);
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** Indices of the `n` largest values of `v` among `rows` (ties by row order). */
function topRows(rows: number, value: (r: number) => number, n: number): number[] {
  const idx = Array.from({ length: rows }, (_, r) => r);
  idx.sort((a, b) => value(b) - value(a) || a - b);
  return idx.slice(0, n);
}

/** The rows `users` of a [users, h] matrix, as features. */
function userRows(f: Float32Array, h: number, users: readonly number[]): UserFeatures {
  const values = new Float32Array(users.length * h);
  for (const [r, u] of users.entries()) values.set(f.subarray(u * h, (u + 1) * h), r * h);
  return { h, values };
}

function readTraits(path: string): Map<string, UserTraits> | null {
  if (!existsSync(path)) return null;
  const rows: UserTraits[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      let t: Partial<UserTraits> | null = null;
      try {
        t = JSON.parse(line) as Partial<UserTraits>;
      } catch {}
      if (typeof t?.user_id !== "string" || typeof t.style?.register !== "string" || !t.aspect_weights)
        throw new DepError(
          "DEP_INPUT",
          `${path}:${i + 1}: expected a JSON object with user_id, aspect_weights and style.register (the synthetic data's traits)`,
        );
      rows.push(t as UserTraits);
    });
  return new Map(rows.map((t) => [`${t.category}\u0000${t.user_id}`, t]));
}

/**
 * Binary traits of the synthetic generator, each with at least 2 users on both sides. `labels[i]` is null
 * for users the trait does not apply to: a category's aspects are compared among that category's users only
 * (across categories a unit that detects the category would look like it recovers the aspect).
 */
function traitLabels(traits: UserTraits[]): Array<{ trait: string; labels: Array<boolean | null> }> {
  const out: Array<{ trait: string; labels: Array<boolean | null> }> = [];
  const add = (trait: string, labels: Array<boolean | null>) => {
    const pos = labels.filter((x) => x === true).length;
    const neg = labels.filter((x) => x === false).length;
    if (pos >= 2 && neg >= 2) out.push({ trait, labels });
  };
  for (const reg of [...new Set(traits.map((t) => t.style.register))].sort())
    add(
      `register=${reg}`,
      traits.map((t) => t.style.register === reg),
    );
  const topAspect = (t: UserTraits) =>
    Object.entries(t.aspect_weights).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? "";
  for (const c of [...new Set(traits.map((t) => t.category))].sort())
    for (const a of [...new Set(traits.filter((t) => t.category === c).map(topAspect))].sort())
      add(
        `top_aspect=${a} (${c})`,
        traits.map((t) => (t.category === c ? topAspect(t) === a : null)),
      );
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const ex = traits.map((t) => t.style.exclamation_rate);
  const m = median(ex);
  add(
    "exclamation_rate>median",
    ex.map((x) => x > m),
  );
  add(
    "rating_bias>0",
    traits.map((t) => t.rating_bias > 0),
  );
  return out;
}

export async function explain(o: ExplainOptions): Promise<ExplainResult> {
  const split = o.split ?? "test";
  const seed = o.seed ?? 42;
  const { config, params } = await loadModelCheckpoint(o.checkpoint);
  if ((config.architecture ?? "dep") !== "dep")
    throw new DepError(
      "DEP_CHECKPOINT",
      `${o.checkpoint}: a ${config.architecture} checkpoint has no SAE to explain; pass a dep checkpoint`,
    );
  const store = await EmbeddingStore.open(o.embDir);
  if (store.dim !== config.d)
    throw new DepError(
      "DEP_EMBEDDINGS",
      `${o.embDir}: the store holds dim ${store.dim} embeddings but ${o.checkpoint} was trained on dim ${config.d}; pass --embeddings the store it was trained with`,
    );
  const dataset = await loadDataset({
    dir: o.dataDir,
    splits: split === "test" ? ["test"] : [split, "test"],
  });
  const plan = await planDifferences({ dataset, store, split, seed });
  if (plan.samples.length === 0)
    throw new DepError(
      "DEP_NO_SAMPLES",
      `${o.dataDir}: no ${split} sample has a review with peers; nothing to explain`,
    );
  const splitRows: DplRow[] = dataset.rows.filter((r) => r.split === split);
  const { h, d } = config;
  const sae = { d, h, linearOutput: config.linearOutput, reconWeight: 100, klWeight: 1e-3, rho: 0.05 };

  // users in sample order; review rows (his) deduplicated by (user, item); diff rows per user
  const userIndex = new Map<string, number>();
  const users: Array<{ id: string; category: string; sample: string; diffRows: number[] }> = [];
  const reviews: ReviewRow[] = [];
  const reviewKey = new Map<string, number>();
  const hisZ: Float32Array[] = []; // per review row, h values
  const diffZ: Float32Array[] = []; // per diff row
  const diffReview: number[] = []; // diff row -> review row
  const chunk = Math.max(1, o.chunkSamples ?? 512);
  for (let s0 = 0; s0 < plan.samples.length; s0 += chunk) {
    const s1 = Math.min(plan.samples.length, s0 + chunk);
    const { x, k } = await materializeDifferences(plan, s0, s1);
    const { z } = saeForward(o.kernel, sae, params.sae, x, k);
    for (let s = s0; s < s1; s++) {
      const info = plan.samples[s]!;
      const row = splitRows[info.row]!;
      const key = `${row.category}\u0000${row.userId}`;
      let u = userIndex.get(key);
      if (u === undefined) {
        u = users.length;
        userIndex.set(key, u);
        users.push({ id: row.userId, category: row.category, sample: info.id, diffRows: [] });
      }
      info.sources.forEach((j, q) => {
        const rev = row.profile[j]!;
        const rk = `${key}\u0000${rev.asin}`;
        let r = reviewKey.get(rk);
        const at = (slot: number) =>
          z.slice(((s - s0) * SAE_ROWS + slot) * h, ((s - s0) * SAE_ROWS + slot + 1) * h);
        if (r === undefined) {
          r = reviews.length;
          reviewKey.set(rk, r);
          reviews.push({
            user: u,
            sample: s,
            text: rev.text,
            ref: {
              user_id: row.userId,
              category: row.category,
              asin: rev.asin,
              title: dataset.items.get(itemKey(row.category, rev.asin))?.title ?? rev.asin,
              excerpt: excerpt(rev.text, o.excerptChars ?? 240),
            },
          });
          hisZ.push(at(q));
        }
        users[u]!.diffRows.push(diffZ.length);
        diffZ.push(at(SAE_MAX_K + q));
        diffReview.push(r);
      });
    }
  }

  // --- units ---
  const all: WordCounts = countWords(reviews.map((r) => r.text));
  const wordsOf = reviews.map((r) => countWords([r.text]));
  const nLabel = o.labelReviews ?? Math.max(10, Math.round(0.05 * reviews.length));
  const nTop = o.topReviews ?? 5;
  const units: UnitReport[] = [];
  for (let unit = 0; unit < h; unit++) {
    let active = 0;
    let sum = 0;
    for (const zr of hisZ) {
      if (zr[unit]! > 0) active++;
      sum += zr[unit]!;
    }
    const order = topRows(reviews.length, (r) => hisZ[r]![unit]!, Math.max(nLabel, nTop));
    const inside: WordCounts = new Map();
    for (const r of order.slice(0, nLabel))
      for (const [w, c] of wordsOf[r]!) inside.set(w, (inside.get(w) ?? 0) + c);
    units.push({
      unit,
      activationRate: round(active / reviews.length),
      meanActivation: round(sum / reviews.length, 5),
      label: distinctiveWords(inside, all),
      top: order.slice(0, nTop).map((r) => ({ ...reviews[r]!.ref, activation: round(hisZ[r]![unit]!) })),
    });
  }

  // --- users vs peers (difference rows, z-scored within the category) ---
  const userMean = (rows: Float32Array[], pick: (u: number) => number[]): Float32Array => {
    const f = new Float32Array(users.length * h);
    users.forEach((_, u) => {
      const rs = pick(u);
      for (const r of rs) for (let j = 0; j < h; j++) f[u * h + j]! += rows[r]![j]! / rs.length;
    });
    return f;
  };
  const diffMean = userMean(diffZ, (u) => users[u]!.diffRows);
  const hisRowsOf = users.map(() => [] as number[]);
  for (const [i, r] of reviews.entries()) hisRowsOf[r.user]!.push(i);
  const hisMean = userMean(hisZ, (u) => hisRowsOf[u]!);
  const nUnits = o.userUnits ?? 5;
  const byCategory = new Map<string, number[]>();
  for (const [i, u] of users.entries())
    byCategory.set(u.category, [...(byCategory.get(u.category) ?? []), i]);
  const userReports: UserReport[] = users.map((user, u) => {
    const peers = byCategory.get(user.category)!.filter((p) => p !== u);
    const scored = Array.from({ length: h }, (_, unit) => {
      const vals = peers.map((p) => diffMean[p * h + unit]!);
      const mean = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
      const sd =
        vals.length > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1)) : 0;
      const own = diffMean[u * h + unit]!;
      return { unit, own, mean, z: sd > 1e-9 ? (own - mean) / sd : 0 };
    });
    // "strongest" among the units the user's difference rows switch on (GELU > 0), else among all
    const on = scored.filter((x) => x.own > 0);
    const ranked = (on.length >= nUnits ? on : scored).sort((a, b) => b.z - a.z || a.unit - b.unit);
    return {
      user_id: user.id,
      category: user.category,
      sample_id: user.sample,
      units: ranked.slice(0, nUnits).map((s) => ({
        unit: s.unit,
        z: round(s.z, 3),
        userMean: round(s.own, 5),
        peerMean: round(s.mean, 5),
        label: units[s.unit]!.label.slice(0, 4).map((w) => w.word),
        reviews: topRows(user.diffRows.length, (i) => diffZ[user.diffRows[i]!]![s.unit]!, 2).map((i) => ({
          ...reviews[diffReview[user.diffRows[i]!]!]!.ref,
          activation: round(diffZ[user.diffRows[i]!]![s.unit]!),
        })),
      })),
    };
  });

  // --- planted traits (synthetic data) ---
  let traits: ExplainResult["traits"] = null;
  const known = readTraits(o.traitsFile ?? join(o.dataDir, "traits.jsonl"));
  if (known) {
    const withTraits = users
      .map((u, i) => ({ i, t: known.get(`${u.category}\u0000${u.id}`) }))
      .filter((x) => x.t);
    const features = {
      his: userRows(
        hisMean,
        h,
        withTraits.map((x) => x.i),
      ),
      diff: userRows(
        diffMean,
        h,
        withTraits.map((x) => x.i),
      ),
    };
    const entries: TraitRecovery[] = [];
    for (const { trait, labels } of traitLabels(withTraits.map((x) => x.t!))) {
      const members = labels.flatMap((l, i) => (l === null ? [] : [i]));
      const sub = members.map((i) => labels[i] as boolean);
      for (const rows of ["his", "diff"] as const) {
        const r = crossValidatedBestUnit(userRows(features[rows].values, h, members), sub, seed);
        const positives = sub.filter(Boolean).length;
        entries.push({
          trait,
          positives,
          negatives: sub.length - positives,
          rows,
          units: r.units,
          heldOutAuc: round(r.heldOutAuc),
          inSampleAuc: round(r.inSampleAuc),
        });
      }
    }
    const mean = entries.reduce((a, e) => a + e.heldOutAuc, 0) / Math.max(1, entries.length);
    traits = { users: withTraits.length, entries, meanHeldOutAuc: round(mean) };
  }

  return {
    format: "dep-explain/1",
    checkpoint: o.checkpoint,
    split,
    seed,
    h,
    reviewRows: reviews.length,
    samples: plan.samples.length,
    units,
    users: userReports,
    traits,
  };
}
