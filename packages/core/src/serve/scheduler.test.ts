// The scheduler on a tiny random-weight GGUF: a request that arrives while another generates joins it and
// finishes first, every request reads as it does alone (greedy and seeded, each with its own settings), a
// cancelled request frees its slot, and the batch-to-completion mode makes late requests wait.
import type { GenerationResult } from "@dep/native-cuda";
import { describe, expect, it } from "vitest";
import { useTinyLlm } from "../testing/tinyLlm.js";
import { GenerationScheduler, type SchedulerRequest } from "./scheduler.js";

const tiny = useTinyLlm({ seed: 11, threads: 1 });

const request = (text: string, extra: Partial<SchedulerRequest> = {}): SchedulerRequest => ({
  segments: [{ text }],
  maxTokens: 8,
  temperature: 0,
  topP: 1,
  seed: 42,
  ...extra,
});

const alone = (r: SchedulerRequest) =>
  tiny.llm.complete(r.segments, {
    maxTokens: r.maxTokens,
    temperature: r.temperature,
    topP: r.topP,
    topK: r.topK ?? 0,
    seed: r.seed,
    samplerOrder: "reference",
    ...(r.stop ? { stop: r.stop } : {}),
  });

/** Resolves once `text` has received n pieces. */
function firstPieces(n: number) {
  let seen = 0;
  let wake: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    wake = resolve;
  });
  return {
    onText: () => {
      if (++seen === n) wake();
    },
    reached,
  };
}

describe("GenerationScheduler (continuous batching)", () => {
  it("a request that arrives mid-generation joins the batch and finishes before the earlier long one", async () => {
    const scheduler = new GenerationScheduler(tiny.llm, { parallel: 2, maxQueue: 4 });
    const long = request("Once upon a time", { maxTokens: 60 });
    const short = request("My phone", { maxTokens: 4 });
    const started = firstPieces(3);
    const finished: string[] = [];
    const track = (name: string) => (r: GenerationResult) => {
      finished.push(name);
      return r;
    };
    const longDone = scheduler.submit({ ...long, onText: started.onText }).then(track("long"));
    await started.reached;
    expect(scheduler.running).toBe(1);
    const shortDone = scheduler.submit(short).then(track("short"));
    const [l, s] = await Promise.all([longDone, shortDone]);
    expect(finished).toEqual(["short", "long"]);
    expect(l.tokens.length).toBe(60);
    expect(Array.from(l.tokens)).toEqual(Array.from((await alone(long)).tokens));
    expect(Array.from(s.tokens)).toEqual(Array.from((await alone(short)).tokens));
    await scheduler.idle();
    expect(scheduler.running).toBe(0);
  });

  it("each request, greedy or seeded with its own settings, reads as it does alone", async () => {
    const requests = [
      request("Once upon a time", { maxTokens: 12 }),
      request("The best pizza in town", { maxTokens: 6, temperature: 0.9, topP: 0.9, seed: 5 }),
      request("My phone", { maxTokens: 9 }),
      request("A quiet evening", { maxTokens: 7, temperature: 1.2, topK: 5, seed: 7 }),
      request("The battery", { maxTokens: 10, stop: ["e"] }),
      request("Fresh bread", { maxTokens: 5 }),
    ];
    const expected: Awaited<ReturnType<typeof alone>>[] = [];
    for (const r of requests) expected.push(await alone(r));
    const scheduler = new GenerationScheduler(tiny.llm, { parallel: 3, maxQueue: 8 });
    // staggered: each request comes a few milliseconds after the one before, while it runs
    const pending = [];
    for (const r of requests) {
      const pieces: string[] = [];
      pending.push(
        scheduler.submit({ ...r, onText: (p) => pieces.push(p) }).then((res) => ({ res, pieces })),
      );
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const results = await Promise.all(pending);
    results.forEach(({ res, pieces }, i) => {
      expect(Array.from(res.tokens), `request ${i}`).toEqual(Array.from(expected[i]!.tokens));
      expect(res.text, `request ${i}`).toBe(expected[i]!.text);
      expect(res.stopReason, `request ${i}`).toBe(expected[i]!.stopReason);
      expect(pieces.join(""), `request ${i}`).toBe(res.text);
    });
  });

  it("a cancelled request frees its slot for the next one", async () => {
    const scheduler = new GenerationScheduler(tiny.llm, { parallel: 1, maxQueue: 2 });
    const controller = new AbortController();
    const started = firstPieces(2);
    const cancelled = scheduler.submit(
      request("Once upon a time", { maxTokens: 100, signal: controller.signal, onText: started.onText }),
    );
    const next = request("My phone", { maxTokens: 5 });
    const queued = scheduler.submit(next);
    await started.reached;
    expect(scheduler.queued).toBe(1);
    controller.abort();
    const c = await cancelled;
    expect(c.stopReason).toBe("aborted");
    expect(c.tokens.length).toBeLessThan(100);
    expect(Array.from((await queued).tokens)).toEqual(Array.from((await alone(next)).tokens));
    await scheduler.idle();
    expect(scheduler.running).toBe(0);
    // a request cancelled while queued never runs
    const gone = new AbortController();
    const first = scheduler.submit(request("Fresh bread", { maxTokens: 20 }));
    const never = scheduler.submit(request("My phone", { signal: gone.signal }));
    gone.abort();
    expect((await never).stopReason).toBe("aborted");
    expect((await never).tokens.length).toBe(0);
    expect((await first).tokens.length).toBe(20);
  });

  it("refuses beyond the queue bound, and without continuous batching a late request waits", async () => {
    const bounded = new GenerationScheduler(tiny.llm, { parallel: 1, maxQueue: 1 });
    const a = bounded.submit(request("Once upon a time", { maxTokens: 10 }));
    const b = bounded.submit(request("My phone", { maxTokens: 2 }));
    expect(() => bounded.submit(request("Fresh bread"))).toThrow(
      expect.objectContaining({ code: "DEP_SERVE_BUSY" }),
    );
    await Promise.all([a, b]);

    const batchwise = new GenerationScheduler(tiny.llm, { parallel: 2, maxQueue: 4, continuous: false });
    const started = firstPieces(3);
    const finished: string[] = [];
    const long = batchwise
      .submit(request("Once upon a time", { maxTokens: 40, onText: started.onText }))
      .then(() => finished.push("long"));
    await started.reached;
    const short = batchwise.submit(request("My phone", { maxTokens: 4 })).then(() => finished.push("short"));
    await Promise.all([long, short]);
    expect(finished).toEqual(["long", "short"]);
  });
});
