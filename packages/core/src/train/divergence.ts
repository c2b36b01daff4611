// A run whose loss, gradients or weights turn non-finite stops at once, before any of it is saved: the
// checkpoints and resumable state already on disk stay the last good ones, and the error names them.
import { DepError } from "@dep/native-cuda";
import { type DepParams, namedParamList } from "../model/params.js";

/** The first non-finite parameter value (NaN or infinite), or null. */
export function firstNonFinite(params: DepParams): { name: string; index: number; value: number } | null {
  for (const { name, data } of namedParamList(params)) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) return { name, index: i, value: data[i]! };
    }
  }
  return null;
}

export interface DivergencePlace {
  runDir: string;
  epoch: number;
  microStep: number;
  /** the optimizer update in progress (1-based) */
  update: number;
  /** the newest epoch checkpoint on disk */
  checkpoint: string | null;
  /** the update the resumable state on disk was saved after, or null when none was saved */
  savedUpdate: number | null;
}

export function divergedError(what: string, at: DivergencePlace): DepError {
  const kept = [
    at.checkpoint ? `checkpoint ${at.checkpoint}` : null,
    at.savedUpdate !== null ? `the resumable state after update ${at.savedUpdate}` : null,
  ].filter((k) => k !== null);
  return new DepError(
    "DEP_TRAIN_DIVERGED",
    `training diverged at micro step ${at.microStep} (epoch ${at.epoch}, update ${at.update}): ${what}; ` +
      `nothing of it was saved (${at.runDir} keeps ${kept.length > 0 ? kept.join(" and ") : "no checkpoint yet"}); ` +
      "lower --lr or --max-grad-norm, or check the data and embeddings",
  );
}
