// Evaluated run folders made up on the spot (seeded): what dep generate + dep eval --per-sample leave in a
// run folder, for testing and measuring the HTML report without a model. Scores are real (computed).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "@dep/core";
import { evaluatePerSample, type PredictionRecord } from "../evaluate.js";

const WORDS = (
  "the a this book story plot characters pacing ending writing prose author world dialogue slow fast " +
  "great good fine dull brilliant moving funny dark long short really quite very not loved liked hated " +
  "read again recommend friends chapter twist series sequel first last page voice style tone"
).split(" ");

export interface FixtureOptions {
  samples: number;
  seed?: number;
  /** methods and how much of the reference each one's prediction copies (0-1) */
  methods?: Record<string, number>;
  categories?: string[];
  /** METEOR's Punkt directory */
  punktDir?: string;
}

/** Writes one run folder per method under `dir` and returns their paths. */
export async function writeFixtureRuns(dir: string, o: FixtureOptions): Promise<string[]> {
  const rng = new Rng(o.seed ?? 7);
  const methods = o.methods ?? { dep: 0.5, rag: 0.35, "no-soft": 0.2 };
  const categories = o.categories ?? ["Books", "Movies_and_TV"];
  const sentence = (n: number) => Array.from({ length: n }, () => rng.pick(WORDS)).join(" ");
  const base = Array.from({ length: o.samples }, (_, i) => {
    const category = categories[i % categories.length]!;
    const user = `U${String(Math.floor(i / 2)).padStart(5, "0")}`;
    return {
      sample_id: `${category}/${user}/test/${10 + (i % 2)}`,
      user_id: user,
      category,
      asin: `B${String(i).padStart(9, "0")}`,
      // review-like lengths: 60-200 words (~350-1,200 characters)
      reference: `${sentence(60 + rng.int(140))}.`,
    };
  });
  const runs: string[] = [];
  for (const [method, copy] of Object.entries(methods)) {
    const run = join(dir, method);
    mkdirSync(run, { recursive: true });
    const lines: PredictionRecord[] = base.map((b) => {
      const words = b.reference.replace(/\.$/, "").split(" ");
      const prediction = words
        .map((w) => (rng.float() < copy ? w : rng.pick(WORDS)))
        .slice(0, 30 + rng.int(90));
      return { method, ...b, prediction: `${prediction.join(" ")}.` };
    });
    writeFileSync(join(run, "preds.jsonl"), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const per = await evaluatePerSample(lines, { punktDir: o.punktDir });
    writeFileSync(join(run, "per-sample.json"), JSON.stringify(per));
    writeFileSync(join(run, "eval.json"), JSON.stringify({ ...per.corpus, method, category: "synthetic" }));
    if (runs.length === 0)
      writeFileSync(
        join(run, "metrics.jsonl"),
        `${Array.from({ length: 12 }, (_, s) => JSON.stringify({ step: s + 1, loss: 3 - 0.1 * s * copy, loss_lm: 2.5 - 0.08 * s * copy })).join("\n")}\n`,
      );
    runs.push(run);
  }
  return runs;
}
