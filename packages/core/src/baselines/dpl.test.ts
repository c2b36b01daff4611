// `dep generate --method dpl` end to end on a tiny random LLM (a GGUF without a chat template: llama.cpp's
// heuristic renders the stages) and on a tiny qwen2 (DPL's own Qwen2 string).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Llm } from "@dep/native-cuda";
import { writeTinyModel } from "@dep/native-cuda/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerateOptions, type GeneratingLlm, generatePredictions } from "../generate/generate.js";
import { type TrainFixture, trainFixture } from "../testing/fixtures.js";
import { recordingLlm } from "../testing/recordingLlm.js";
import { type DplStageLine, dplDifferencesPathFor, dplSummariesPathFor } from "./dpl.js";
import { DPL_DIFF_SYSTEM, DPL_REVIEW_SYSTEM } from "./dplPrompts.js";

const DIFFERENCE = "analyze and output the differences between the current user and other users";
expect(DPL_DIFF_SYSTEM).toContain(DIFFERENCE);
expect(DPL_REVIEW_SYSTEM).toContain("generate a personalized item review");

let fx: TrainFixture;
let llm: Llm;
beforeAll(async () => {
  fx = await trainFixture(12, 3);
  llm = await fx.loadLlm();
});
afterAll(async () => {
  await llm?.dispose();
  fx?.cleanup();
});

/** A real LLM, recording every generateBatch call (and aborting `abort` when call `abortAt` starts). */
function recording(model: Llm, o: { abortAt?: number; abort?: AbortController } = {}) {
  const { llm: wrapped, calls } = recordingLlm(model, o);
  const stage = (marker: string) => () => calls.filter((c) => c[0]!.includes(marker));
  return {
    llm: wrapped,
    calls,
    differenceCalls: stage(DIFFERENCE),
    summaryCalls: stage("generate a profile summary"),
    reviewCalls: stage("generate a personalized item review"),
  };
}

const dplOptions = (
  out: string,
  gen: GeneratingLlm,
  extra: Partial<GenerateOptions> = {},
): GenerateOptions => ({
  llm: gen,
  model: null,
  method: "dpl",
  dplRetrieved: 2,
  dataDir: fx.dataDir,
  embDir: fx.embDir,
  outFile: out,
  maxTokens: 6,
  parallel: 2,
  maxLength: 700,
  maxDescriptionChars: 80,
  maxSamples: 4,
  ...extra,
});

const read = (f: string) => readFileSync(f, "utf8");
const lines = <T>(f: string): T[] =>
  read(f)
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("generatePredictions --method dpl", () => {
  it("runs the three stages, each fed the last one's outputs, and reuses them on a rerun", async () => {
    const out = join(fx.dir, "dpl.jsonl");
    const first = recording(llm);
    const r = await generatePredictions(dplOptions(out, first.llm));
    expect(r.written).toBe(4);
    // per chunk of 2 samples: the differences, the summaries, the reviews
    expect(first.calls.map((c) => c[0]!.includes(DIFFERENCE))).toEqual([
      true,
      false,
      false,
      true,
      false,
      false,
    ]);
    const diffs = lines<DplStageLine>(dplDifferencesPathFor(out));
    const summaries = lines<DplStageLine>(dplSummariesPathFor(out));
    expect(summaries).toHaveLength(4);
    // two difference items per sample, one line per (user, item)
    expect(diffs.length).toBe(new Set(diffs.map((d) => `${d.user_id}/${d.asin}`)).size);
    expect(diffs.length).toBeGreaterThanOrEqual(4);
    expect(first.differenceCalls().flat()).toHaveLength(diffs.length);
    // no chat template in this GGUF: llama.cpp's heuristic wraps DPL's texts
    const heuristic = llm.applyChatTemplate(
      [
        { role: "system", content: DPL_DIFF_SYSTEM },
        { role: "user", content: "\uE123" },
      ],
      { addAssistant: true },
    );
    expect(llm.info.chatTemplate ?? null).toBeNull();
    expect(first.calls[0]![0]).toContain(heuristic.slice(0, heuristic.indexOf("\uE123")));
    expect(first.calls[0]![0]).toContain("[Review by the other user 1]:");
    // stage 2 shows the stage-1 outputs of its user's items; stage 3 the stage-2 output
    const summaryPrompts = first.summaryCalls().flat();
    for (const [j, s] of summaries.slice(0, 2).entries()) {
      const theirs = diffs.filter((d) => d.user_id === s.user_id);
      expect(theirs.some((d) => summaryPrompts[j]!.includes(`other user's reviews]:\n${d.output}\n`))).toBe(
        true,
      );
    }
    const reviewPrompts = first.reviewCalls().flat();
    expect(reviewPrompts[0]).toContain(`[User's Profile Summary]:\n`);
    const preds = lines<{ method: string; sample_id: string }>(out);
    expect(preds.map((p) => p.method)).toEqual(["dpl", "dpl", "dpl", "dpl"]);
    expect(summaries.map((s) => s.sample_id)).toEqual(preds.map((p) => p.sample_id));

    // predictions gone, stage files kept: only the reviews are generated, and they come out the same
    const predictions = read(out);
    const stageFiles = [read(dplDifferencesPathFor(out)), read(dplSummariesPathFor(out))];
    rmSync(out);
    const again = recording(llm);
    await generatePredictions(dplOptions(out, again.llm));
    expect(again.differenceCalls()).toHaveLength(0);
    expect(again.summaryCalls()).toHaveLength(0);
    expect(again.reviewCalls()).toHaveLength(2);
    expect(read(out)).toBe(predictions);
    expect([read(dplDifferencesPathFor(out)), read(dplSummariesPathFor(out))]).toEqual(stageFiles);

    // other settings: the old stage lines are not used, new ones are written beside them
    rmSync(out);
    const other = recording(llm);
    await generatePredictions(dplOptions(out, other.llm, { maxTokens: 5, maxSamples: 2 }));
    const users = new Set(summaries.slice(0, 2).map((x) => x.user_id));
    const redone = diffs.filter((d) => users.has(d.user_id)).length;
    expect(other.differenceCalls().flat()).toHaveLength(redone);
    expect(lines(dplDifferencesPathFor(out))).toHaveLength(diffs.length + redone);
    expect(lines(dplSummariesPathFor(out))).toHaveLength(6);
  });

  it("a run killed in stage 1 or 2 resumes to the same predictions and stage files as an uninterrupted one", async () => {
    const full = join(fx.dir, "full.jsonl");
    await generatePredictions(dplOptions(full, recording(llm).llm));
    // calls: stage 1, 2, 3 of samples 1-2, then of samples 3-4
    for (const abortAt of [1, 2, 5]) {
      const out = join(fx.dir, `cut-${abortAt}.jsonl`);
      const abort = new AbortController();
      const cut = recording(llm, { abortAt, abort });
      const r = await generatePredictions(dplOptions(out, cut.llm, { signal: abort.signal }));
      expect(cut.calls).toHaveLength(abortAt);
      expect(r.written).toBe(abortAt === 5 ? 2 : 0);
      const resumed = recording(llm);
      const r2 = await generatePredictions(dplOptions(out, resumed.llm));
      expect(r2.skipped).toBe(r.written);
      // the stage cut short is redone, the finished ones are not
      expect(resumed.differenceCalls()).toHaveLength(abortAt === 1 ? 2 : abortAt === 2 ? 1 : 0);
      expect(resumed.summaryCalls()).toHaveLength(abortAt === 5 ? 1 : 2);
      expect(read(out)).toBe(read(full));
      expect(read(dplDifferencesPathFor(out))).toBe(read(dplDifferencesPathFor(full)));
      expect(read(dplSummariesPathFor(out))).toBe(read(dplSummariesPathFor(full)));
    }
  });

  it("renders every stage in DPL's Qwen2 string for a qwen2 model", async () => {
    const path = join(fx.dir, "tiny-qwen2.gguf");
    writeTinyModel(path, { arch: "qwen2", seed: 4, contextLength: 2048 });
    const qwen = await Llm.load(path, { threads: 2, contextSize: 2048 });
    try {
      const rec = recording(qwen);
      await generatePredictions(
        dplOptions(join(fx.dir, "qwen.jsonl"), rec.llm, { maxSamples: 1, maxTokens: 3 }),
      );
      expect(rec.calls).toHaveLength(3);
      for (const [c] of rec.calls)
        expect(c).toMatch(/^<\|im_start\|>system\nGiven .*<\|im_end\|><\|im_start\|>user\n/s);
      expect(rec.calls[2]![0]).toMatch(/<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    } finally {
      await qwen.dispose();
    }
  });
});
