import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Llm } from "@dep/native-cuda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../data/load.js";
import type { Dataset, DplRow } from "../data/types.js";
import { type GenerateOptions, type GeneratingLlm, generatePredictions } from "../generate/generate.js";
import { type TrainFixture, trainFixture } from "../testing/fixtures.js";
import { recordingLlm } from "../testing/recordingLlm.js";
import { type ProfileLine, profilesPathFor, SUMMARY_REQUEST, summaryPrompt } from "./pag.js";

let fx: TrainFixture;
let llm: Llm;
let dataset: Dataset;
beforeAll(async () => {
  fx = await trainFixture(12, 3);
  llm = await fx.loadLlm();
  dataset = await loadDataset({ dir: fx.dataDir, splits: ["test"] });
});
afterAll(async () => {
  await llm?.dispose();
  fx?.cleanup();
});

/** The real tiny LLM, recording every generateBatch call (and aborting `abort` when call `abortAt` starts). */
function recording(o: { abortAt?: number; abort?: AbortController } = {}) {
  const { llm: wrapped, calls } = recordingLlm(llm, o);
  const summaryRequests = () => calls.flat().filter((t) => t.includes(SUMMARY_REQUEST));
  const reviewRequests = () => calls.flat().filter((t) => !t.includes(SUMMARY_REQUEST));
  return { llm: wrapped, calls, summaryRequests, reviewRequests };
}

const pagOptions = (
  out: string,
  gen: GeneratingLlm,
  extra: Partial<GenerateOptions> = {},
): GenerateOptions => ({
  llm: gen,
  model: null,
  method: "pag",
  ragK: 2,
  pagSummaryTokens: 8,
  dataDir: fx.dataDir,
  embDir: fx.embDir,
  outFile: out,
  maxTokens: 6,
  parallel: 2,
  maxLength: 600,
  maxDescriptionChars: 80,
  ...extra,
});

const read = (f: string) => readFileSync(f, "utf8");
const profileLines = (out: string): ProfileLine[] =>
  read(profilesPathFor(out))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("pag summary prompt", () => {
  const row = () => dataset.rows.find((r) => r.profile.length >= 4) as DplRow;

  it("lists the history newest first and asks for the profile", () => {
    const r = row();
    const p = summaryPrompt(llm, dataset, r, 100_000);
    expect(p.nReviews).toBe(r.profile.length);
    const at = (i: number) => p.text.indexOf(`[Review Text]: ${r.profile[i]!.text}`);
    const newest = r.profile.length - 1;
    expect(at(newest)).toBeGreaterThan(0);
    expect(at(newest)).toBeLessThan(at(newest - 1));
    expect(at(newest - 1)).toBeLessThan(at(0));
    expect(p.text).toContain(`- [Review 1]:\n  [Item Title]: `);
    expect(p.text.indexOf(SUMMARY_REQUEST)).toBeGreaterThan(at(0));
    expect(p.nTokens).toBe(llm.tokenize(p.text, { addSpecial: llm.info.addBos, parseSpecial: true }).length);
  });

  it("keeps as many of the newest reviews as fit the budget, and at least one", () => {
    const r = row();
    const three = summaryPrompt(llm, dataset, { ...r, profile: r.profile.slice(-3) }, 100_000);
    expect(three.nReviews).toBe(3);
    expect(summaryPrompt(llm, dataset, r, three.nTokens)).toEqual(three);
    const two = summaryPrompt(llm, dataset, r, three.nTokens - 1);
    expect(two.nReviews).toBe(2);
    expect(two.nTokens).toBeLessThan(three.nTokens);
    expect(summaryPrompt(llm, dataset, r, 10).nReviews).toBe(1);
  });
});

describe("generatePredictions --method pag", () => {
  it("writes one summary per user, shows it in the review prompt, and reuses it on a rerun", async () => {
    const out = join(fx.dir, "pag.jsonl");
    const first = recording();
    await generatePredictions(pagOptions(out, first.llm, { maxSamples: 2, temperature: 0 }));
    const profiles = profileLines(out);
    expect(profiles).toHaveLength(2);
    expect(new Set(profiles.map((p) => p.user_id)).size).toBe(2);
    expect(first.summaryRequests()).toHaveLength(2);
    // every review prompt carries its user's summary
    const preds = read(out)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(preds.map((p) => p.method)).toEqual(["pag", "pag"]);
    for (const [j, pred] of preds.entries()) {
      const summary = profiles.find((p) => p.user_id === pred.user_id)!.summary;
      expect(first.reviewRequests()[j]).toContain(
        `[User Profile Summary]: ${summary}\n[User's Past Reviews]:`,
      );
    }

    // more samples: only the new users are summarised; the first lines stay as they were
    const more = recording();
    await generatePredictions(pagOptions(out, more.llm, { maxSamples: 4, temperature: 0 }));
    expect(more.summaryRequests()).toHaveLength(2);
    expect(more.reviewRequests()).toHaveLength(2);
    expect(profileLines(out).slice(0, 2)).toEqual(profiles);
    expect(profileLines(out)).toHaveLength(4);

    // predictions gone, summaries kept: no summary is written again and the predictions come out the same
    const predictions = read(out);
    const summaries = read(profilesPathFor(out));
    rmSync(out);
    const again = recording();
    await generatePredictions(pagOptions(out, again.llm, { maxSamples: 4, temperature: 0 }));
    expect(again.summaryRequests()).toHaveLength(0);
    expect(again.reviewRequests()).toHaveLength(4);
    expect(read(out)).toBe(predictions);
    expect(read(profilesPathFor(out))).toBe(summaries);

    // summaries made with other settings are not mixed in
    rmSync(out);
    await expect(
      generatePredictions(
        pagOptions(out, recording().llm, { maxSamples: 4, temperature: 0, pagSummaryTokens: 9 }),
      ),
    ).rejects.toMatchObject({ code: "DEP_USAGE", message: /other settings/ });
  });

  it("an interrupted run resumes to the same predictions and summaries as an uninterrupted one", async () => {
    const full = join(fx.dir, "full.jsonl");
    const whole = recording();
    await generatePredictions(pagOptions(full, whole.llm, { maxSamples: 4 }));
    // calls: summaries of samples 1-2, their reviews, summaries of 3-4, their reviews
    expect(whole.calls.map((c) => c.length)).toEqual([2, 2, 2, 2]);
    for (const abortAt of [2, 3]) {
      const out = join(fx.dir, `cut-${abortAt}.jsonl`);
      const abort = new AbortController();
      const cut = recording({ abortAt, abort });
      const r = await generatePredictions(pagOptions(out, cut.llm, { maxSamples: 4, signal: abort.signal }));
      expect(cut.calls).toHaveLength(abortAt);
      expect(r.written).toBe(abortAt === 2 ? 0 : 2); // the chunk being generated is not written
      expect(profileLines(out)).toHaveLength(2); // the summaries being generated are not written
      const resumed = recording();
      const r2 = await generatePredictions(pagOptions(out, resumed.llm, { maxSamples: 4 }));
      expect(r2.skipped).toBe(r.written);
      expect(resumed.summaryRequests()).toHaveLength(2);
      expect(read(out)).toBe(read(full));
      expect(read(profilesPathFor(out))).toBe(read(profilesPathFor(full)));
    }
  });
});
