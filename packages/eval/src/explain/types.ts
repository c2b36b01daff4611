// The `dep explain` output (explain.json): what each SAE unit responds to, how each user differs from peers,
// and, on synthetic data, how well single units recover the planted traits.

export interface ReviewRef {
  user_id: string;
  category: string;
  asin: string;
  /** item title (the asin when the dataset has no title) */
  title: string;
  /** the first characters of the review text */
  excerpt: string;
  activation: number;
}

export interface LabelWord {
  word: string;
  /** weighted log-odds z-score of the word in the unit's top reviews against all reviews */
  z: number;
}

export interface UnitReport {
  unit: number;
  /** fraction of review rows (his rows) with a positive activation */
  activationRate: number;
  meanActivation: number;
  label: LabelWord[];
  top: ReviewRef[];
}

export interface UserUnit {
  unit: number;
  /** (user's mean activation on its difference rows - peers' mean) / peers' standard deviation */
  z: number;
  userMean: number;
  peerMean: number;
  label: string[];
  /** the user's reviews whose difference rows activate the unit most */
  reviews: ReviewRef[];
}

export interface UserReport {
  user_id: string;
  category: string;
  sample_id: string;
  units: UserUnit[];
}

export interface TraitRecovery {
  /** e.g. "register=enthusiastic", "top_aspect=plot (Books)" (among Books users), "exclamation_rate>median" */
  trait: string;
  positives: number;
  negatives: number;
  /** which rows' per-user means are scored: the user's own reviews (his) or their differences (diff) */
  rows: "his" | "diff";
  /** the unit chosen in each cross-validation fold (on the other folds' users) */
  units: number[];
  /** AUC over all users of the held-out values of the units chosen without them (5-fold); chance is 0.5 */
  heldOutAuc: number;
  /** best AUC over all units on all users (optimistic: chosen and scored on the same users) */
  inSampleAuc: number;
}

export interface ExplainResult {
  format: "dep-explain/1";
  checkpoint: string;
  split: string;
  seed: number;
  /** SAE width and the number of review rows / samples read */
  h: number;
  reviewRows: number;
  samples: number;
  units: UnitReport[];
  users: UserReport[];
  /** present when the data folder has traits.jsonl (synthetic data) */
  traits: { users: number; entries: TraitRecovery[]; meanHeldOutAuc: number } | null;
}
