// The peer index of SPEC-DEP §2, built from every user's test row (profile P reviews, time ascending):
//   E[u]            embeddings of the first P-1 profile reviews
//   mean[u]         the mean of E[u]
//   reviewers[a]    (user, index into E[user]) over each user's profile[:-2], in sorted (user, index) order
// Users are keyed by (category, user_id) and numbered in code-point order of that key, so "sorted by user" is
// sorted by user_id within a category. Items are keyed by (category, asin). Embedding rows are rows of the
// embedding matrix (a store's row order).
import { DepError } from "@dep/native-cuda";
import { cmpCodePoint } from "../data/prepareReference.js";
import type { Dataset, DplRow, Review } from "../data/types.js";
import { getOrInsert } from "../util/rng.js";

export interface Reviewers {
  user: Int32Array;
  index: Int32Array;
}

export interface PeerIndex {
  dim: number;
  /** user keys `${category}\u0000${user_id}`, sorted; position = user number */
  users: string[];
  userNumber: Map<string, number>;
  /** E[u] = embedding rows ePtr[u] .. ePtr[u+1]-1 of eRow */
  ePtr: Int32Array;
  eRow: Int32Array;
  /** [users * dim] */
  means: Float32Array;
  /** key `${category}\u0000${asin}` */
  reviewers: Map<string, Reviewers>;
}

export function userKeyOf(row: Pick<DplRow, "category" | "userId">): string {
  return `${row.category}\u0000${row.userId}`;
}

/**
 * Builds the peer index from the dataset's test rows. `rowOf(review, row)` gives the embedding row of a review's
 * text (it should throw a clear error when the text has no embedding).
 */
export function buildPeerIndex(options: {
  dataset: Dataset;
  embeddings: Float32Array;
  dim: number;
  rowOf: (review: Review, row: DplRow) => number;
  /**
   * Reviews that are in E[u] and reviewers[] wherever they sit in the profile (dep serve's added reviews:
   * they count at once instead of waiting to be two reviews from the end). Default: none.
   */
  alwaysPeers?: ReadonlySet<Review>;
}): PeerIndex {
  const { dataset, embeddings, dim, rowOf } = options;
  const always = options.alwaysPeers ?? new Set<Review>();
  // profile review i of a P-review test row: in E[u] when i < P0-1, a reviewer entry when i < P0-2, where P0
  // counts the reviews that are not always in (so the dataset's own held-out tail stays held out)
  const cuts = (row: DplRow) => {
    const P0 = row.profile.filter((r) => !always.has(r)).length;
    let seen = 0;
    return row.profile.map((r) => {
      if (always.has(r)) return { inE: true, reviewer: true };
      const i = seen++;
      return { inE: i < P0 - 1, reviewer: i < P0 - 2 };
    });
  };
  const tests = new Map<string, DplRow>();
  for (const row of dataset.rows) {
    if (row.split !== "test") continue;
    const k = userKeyOf(row);
    if (tests.has(k)) {
      throw new DepError("DEP_INPUT", `user ${row.userId} (${row.category}) has more than one test row`);
    }
    tests.set(k, row);
  }
  const users = [...tests.keys()].sort(cmpCodePoint);
  const userNumber = new Map(users.map((u, i) => [u, i]));
  const U = users.length;
  const ePtr = new Int32Array(U + 1);
  for (let u = 0; u < U; u++) {
    const P = tests.get(users[u]!)!.profile.length;
    if (P < 2) {
      throw new DepError(
        "DEP_INPUT",
        `user ${users[u]!.split("\u0000")[1]}: the test row has ${P} profile review(s); SPEC §2 needs at least 2`,
      );
    }
    ePtr[u + 1] = ePtr[u]! + cuts(tests.get(users[u]!)!).filter((c) => c.inE).length;
  }
  const eRow = new Int32Array(ePtr[U]!);
  const means = new Float32Array(U * dim);
  const acc = new Float64Array(dim);
  const revUsers = new Map<string, number[]>();
  const revIndex = new Map<string, number[]>();
  for (let u = 0; u < U; u++) {
    const row = tests.get(users[u]!)!;
    acc.fill(0);
    let n = 0; // index into E[u]
    for (const [p, cut] of cuts(row).entries()) {
      if (!cut.inE) continue;
      const r = rowOf(row.profile[p]!, row);
      eRow[ePtr[u]! + n] = r;
      const off = r * dim;
      for (let j = 0; j < dim; j++) acc[j] = acc[j]! + embeddings[off + j]!;
      if (cut.reviewer) {
        const key = `${row.category}\u0000${row.profile[p]!.asin}`;
        getOrInsert(revUsers, key, () => []).push(u);
        getOrInsert(revIndex, key, () => []).push(n);
      }
      n++;
    }
    for (let j = 0; j < dim; j++) means[u * dim + j] = acc[j]! / n;
  }
  const reviewers = new Map<string, Reviewers>();
  for (const [k, us] of revUsers) {
    reviewers.set(k, { user: Int32Array.from(us), index: Int32Array.from(revIndex.get(k)!) });
  }
  return { dim, users, userNumber, ePtr, eRow, means, reviewers };
}
