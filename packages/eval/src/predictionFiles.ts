// Several prediction files as one corpus (`dep eval --predictions a.jsonl 'shards/*.jsonl'`): patterns are
// expanded (sorted, so the corpus order is reproducible), every pattern must match, and a sample given twice
// (a shard beside its merged file) is refused rather than counted twice.
import { DepError } from "@dep/native-cuda";
import { globSync, isDynamicPattern } from "tinyglobby";
import { type PredictionRecord, readPredictions } from "./evaluate.js";

/** The files the patterns name, in order, each once. */
export function expandPredictionPaths(patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (!isDynamicPattern(p)) {
      out.push(p); // a plain path: readPredictions names it if it is missing
      continue;
    }
    const found = globSync(p, { onlyFiles: true, expandDirectories: false }).sort();
    if (found.length === 0) throw new DepError("DEP_INPUT", `--predictions ${p}: no file matches`);
    out.push(...found);
  }
  return [...new Set(out)];
}

/** The records of every file, in order; a sample_id in two places is an error naming both. */
export async function readPredictionFiles(paths: readonly string[]): Promise<PredictionRecord[]> {
  const records: PredictionRecord[] = [];
  const where = new Map<string, string>();
  for (const path of paths) {
    const rows = await readPredictions(path);
    rows.forEach((r, i) => {
      const id = r.sample_id;
      if (typeof id !== "string") return;
      const at = `${path} record ${i + 1}`;
      const first = where.get(id);
      if (first) {
        throw new DepError(
          "DEP_INPUT",
          `sample_id ${id} is in ${first} and ${at}; give each sample once (a merged file or its shards, not both)`,
        );
      }
      where.set(id, at);
    });
    records.push(...rows);
  }
  return records;
}
