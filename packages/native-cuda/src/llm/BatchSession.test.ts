// Continuous batching on a tiny random-weight GGUF: each slot samples with its own settings and gives the
// tokens it gets alone, a prompt added while others generate joins them and can finish first, a cancelled
// slot is free for the next prompt, and misuse is a coded error that leaves the session usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchSession, type SlotSampling } from "./BatchSession.js";
import { Llm } from "./Llm.js";
import { tinyModels } from "./testModels.js";
import type { Segment } from "./types.js";

const models = tinyModels();
let llm: Llm;

beforeAll(async () => {
  llm = await Llm.load(models.paths.llama, { threads: 1, contextSize: 128 });
});
afterAll(async () => {
  await llm?.dispose();
  models.cleanup();
});

const prompts: Segment[][] = [
  [{ text: "Once upon a time" }],
  [{ text: "The best pizza in town" }],
  [{ text: "My phone" }],
];

/** Steps the session until every slot is free; the tokens of each slot, in the order the slots ended. */
async function drain(session: BatchSession, tokens: Map<number, number[]>, order: number[] = []) {
  for (let i = 0; i < 200; i++) {
    const events = await session.step();
    if (events.length === 0) return order;
    for (const ev of events) {
      if (ev.token !== null) tokens.get(ev.slot)!.push(ev.token);
      if (ev.finished) order.push(ev.slot);
    }
  }
  throw new Error("the session did not finish in 200 steps");
}

describe("BatchSession", () => {
  it("honours each slot's own sampler settings: every slot gives the tokens it gets alone", async () => {
    const settings: SlotSampling[] = [
      { maxTokens: 10 },
      { maxTokens: 8, temperature: 0.9, topP: 0.9, seed: 5 },
      { maxTokens: 12, temperature: 1.3, topK: 4, seed: 9, samplerOrder: "reference" },
    ];
    const alone = [];
    for (const [i, p] of prompts.entries()) alone.push(await llm.complete(p, settings[i]));
    const session = await BatchSession.open(llm, 3);
    const tokens = new Map<number, number[]>();
    for (const [i, p] of prompts.entries()) {
      tokens.set(i, []);
      const ev = await session.add(i, p, settings[i]);
      expect(ev.promptPositions).toBe(alone[i]!.promptPositions);
      if (ev.token !== null) tokens.get(i)!.push(ev.token);
    }
    await drain(session, tokens);
    await session.close();
    for (const [i, a] of alone.entries()) expect(tokens.get(i), `slot ${i}`).toEqual(Array.from(a.tokens));
    // the seeded rows really sample: another seed gives other tokens for the same prompt
    const other = await llm.complete(prompts[2]!, { ...settings[2], seed: 10 });
    expect(Array.from(other.tokens)).not.toEqual(tokens.get(2));
  });

  it("a prompt added while another generates joins it at the next step and finishes first", async () => {
    const long = await llm.complete(prompts[0]!, { maxTokens: 40 });
    const short = await llm.complete(prompts[1]!, { maxTokens: 4 });
    expect(long.tokens.length).toBe(40); // the tiny model does not stop early on this prompt
    const session = await BatchSession.open(llm, 2);
    const tokens = new Map([
      [0, [] as number[]],
      [1, [] as number[]],
    ]);
    const first = await session.add(0, prompts[0]!, { maxTokens: 40 });
    tokens.get(0)!.push(first.token!);
    for (let i = 0; i < 5; i++) for (const ev of await session.step()) tokens.get(ev.slot)!.push(ev.token!);
    const joined = await session.add(1, prompts[1]!, { maxTokens: 4 });
    tokens.get(1)!.push(joined.token!);
    const order = await drain(session, tokens);
    await session.close();
    expect(order).toEqual([1, 0]);
    expect(tokens.get(0)).toEqual(Array.from(long.tokens));
    expect(tokens.get(1)).toEqual(Array.from(short.tokens));
  });

  it("a cancelled slot ends at the next step and takes the next prompt", async () => {
    const alone = await llm.complete(prompts[2]!, { maxTokens: 6 });
    const session = await BatchSession.open(llm, 1);
    await session.add(0, prompts[0]!, { maxTokens: 50 });
    await session.step();
    session.cancel(0);
    const [ended] = await session.step();
    expect(ended).toMatchObject({ slot: 0, token: null, finished: true, stopReason: "stopped" });
    expect(await session.step()).toEqual([]);
    const tokens = new Map([[0, [(await session.add(0, prompts[2]!, { maxTokens: 6 })).token!]]]);
    await drain(session, tokens);
    expect(tokens.get(0)).toEqual(Array.from(alone.tokens));
    await session.close();
  });

  it("refuses a busy slot, a too long prompt and a second session, and stays usable", async () => {
    const session = await BatchSession.open(llm, 2);
    await expect(BatchSession.open(llm, 1)).rejects.toMatchObject({
      code: "DEP_GENERATE",
      message: /already has an open batch session/,
    });
    await session.add(0, prompts[0]!, { maxTokens: 3 });
    await expect(session.add(0, prompts[1]!)).rejects.toMatchObject({ message: /slot 0 is not a free slot/ });
    const tooLong = [{ tokens: new Int32Array(llm.info.nCtx + 1).fill(5) }];
    await expect(session.add(1, tooLong)).rejects.toMatchObject({
      message: new RegExp(`context holds ${llm.info.nCtx}`),
    });
    await expect(session.add(1, prompts[1]!, { topP: 0 })).rejects.toMatchObject({
      code: "DEP_INVALID_ARGUMENT",
    });
    const ev = await session.add(1, prompts[1]!, { maxTokens: 2 });
    expect(ev.finished).toBe(false);
    expect((await session.step()).length).toBe(2);
    await session.close();
    await expect(session.step()).rejects.toMatchObject({ code: "DEP_DISPOSED" });
    // closing frees the model for a new session (and for generateBatch, which opens its own)
    const batch = await llm.generateBatch([prompts[0]!], { maxTokens: 3 });
    expect(batch[0]!.tokens.length).toBe(3);
  });
});
