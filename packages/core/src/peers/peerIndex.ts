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
}): PeerIndex {
  const { dataset, embeddings, dim, rowOf } = options;
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
    ePtr[u + 1] = ePtr[u]! + P - 1;
  }
  const eRow = new Int32Array(ePtr[U]!);
  const means = new Float32Array(U * dim);
  const acc = new Float64Array(dim);
  const revUsers = new Map<string, number[]>();
  const revIndex = new Map<string, number[]>();
  for (let u = 0; u < U; u++) {
    const row = tests.get(users[u]!)!;
    const P = row.profile.length;
    acc.fill(0);
    for (let i = 0; i < P - 1; i++) {
      const r = rowOf(row.profile[i]!, row);
      eRow[ePtr[u]! + i] = r;
      const off = r * dim;
      for (let j = 0; j < dim; j++) acc[j] = acc[j]! + embeddings[off + j]!;
    }
    for (let j = 0; j < dim; j++) means[u * dim + j] = acc[j]! / (P - 1);
    for (let i = 0; i < P - 2; i++) {
      const key = `${row.category}\u0000${row.profile[i]!.asin}`;
      getOrInsert(revUsers, key, () => []).push(u);
      getOrInsert(revIndex, key, () => []).push(i);
    }
  }
  const reviewers = new Map<string, Reviewers>();
  for (const [k, us] of revUsers) {
    reviewers.set(k, { user: Int32Array.from(us), index: Int32Array.from(revIndex.get(k)!) });
  }
  return { dim, users, userNumber, ePtr, eRow, means, reviewers };
}
