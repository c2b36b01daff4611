import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dataset, DplRow, Review, Split } from "../data/types.js";
import { splitRows } from "../data/write.js";
import { EmbeddingStore, textKey } from "../embed/store.js";
import { readSafetensors, toFloat32, typedView } from "../io/safetensors.js";
import { Rng } from "../util/rng.js";
import { computeDifferences, type DiffWeighting } from "./diff.js";
import { buildPeerIndex } from "./peerIndex.js";
import { buildDifferenceSamples, diffSidecarPath, writeDiffFile } from "./samples.js";

const D = 7;
let dir: string;
let ds: Dataset;
let store: EmbeddingStore;
const vec = new Map<string, Float64Array>();

/** A small random population: 14 users over 24 shared items plus one loner whose items nobody else reviews. */
function population(seed: number): Dataset {
  const rng = new Rng(seed);
  const rows: DplRow[] = [];
  const items = new Map<string, { asin: string; title: string; description: string; category: string }>();
  const mk = (asin: string, user: string, t: number): Review => {
    items.set(`C\u0000${asin}`, { asin, title: asin, description: "d", category: "C" });
    return {
      asin,
      rating: rng.range(1, 5),
      title: "t",
      text: `${user} on ${asin} #${rng.u32()}`,
      timestamp: t,
    };
  };
  for (let u = 0; u < 15; u++) {
    const user = u === 14 ? "loner" : `u${String(rng.int(1000)).padStart(3, "0")}-${u}`;
    const pool =
      u === 14
        ? Array.from({ length: 20 }, (_, i) => `L${i}`)
        : rng.sample(
            Array.from({ length: 24 }, (_, i) => `I${i}`),
            14 + rng.int(6),
          );
    const reviews = pool.map((a, i) => mk(a, user, 1000 + i));
    const P = reviews.length - 10;
    rows.push(...splitRows(user, "C", reviews.slice(0, P), reviews.slice(P)));
  }
  rng.shuffle(rows); // split order must be respected whatever it is
  return { rows, items, categories: ["C"], skipped: { count: 0, examples: [] } };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dep-peers-"));
  ds = population(3);
  const rng = new Rng(9);
  const keys: string[] = [];
  const vals: number[] = [];
  for (const row of ds.rows) {
    for (const r of [...row.profile, row.data]) {
      if (vec.has(r.text)) continue;
      const v = Float64Array.from({ length: D }, () => Math.fround(rng.normal()));
      vec.set(r.text, v);
      keys.push(textKey(r.text));
      vals.push(...v);
    }
  }
  // store rows in a shuffled order, so row numbers differ from first-appearance order
  const perm = rng.shuffle(keys.map((_, i) => i));
  store = await EmbeddingStore.open(join(dir, "emb"), {
    create: { embedder: "test", dim: D, normalized: false, dtype: "F32" },
  });
  const pv = new Float32Array(keys.length * D);
  perm.forEach((src, i) => {
    pv.set(vals.slice(src * D, (src + 1) * D), i * D);
  });
  await store.append(
    perm.map((i) => keys[i]!),
    pv,
  );
  await store.compact();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** SPEC-DEP §2-3, transcribed directly (float64, delta form). */
function naive(split: Split, weighting: DiffWeighting) {
  const tests = ds.rows.filter((r) => r.split === "test");
  const E = new Map<string, Float64Array[]>();
  const mean = new Map<string, Float64Array>();
  const reviewers = new Map<string, Array<{ user: string; idx: number }>>();
  for (const t of tests) {
    const P = t.profile.length;
    const e = t.profile.slice(0, P - 1).map((r) => vec.get(r.text)!);
    E.set(t.userId, e);
    const m = new Float64Array(D);
    for (const x of e) for (let j = 0; j < D; j++) m[j]! += x[j]! / e.length;
    mean.set(t.userId, m);
    t.profile.slice(0, P - 2).forEach((r, idx) => {
      const l = reviewers.get(r.asin) ?? [];
      l.push({ user: t.userId, idx });
      reviewers.set(r.asin, l);
    });
  }
  for (const l of reviewers.values())
    l.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.idx - b.idx));
  const out: Array<{ his: Float64Array[]; diff: Float64Array[] }> = [];
  for (const row of ds.rows.filter((r) => r.split === split)) {
    const his: Float64Array[] = [];
    const diff: Float64Array[] = [];
    for (let j = row.profile.length - 1; j >= 0 && his.length < 8; j--) {
      const R = reviewers.get(row.profile[j]!.asin) ?? [];
      if (R.length <= 1) continue;
      const eu = vec.get(row.profile[j]!.text)!;
      const others = R.filter((r) => r.user !== row.userId);
      const s = others.map((r) =>
        Math.hypot(...mean.get(row.userId)!.map((x, q) => x - mean.get(r.user)![q]!)),
      );
      const sum = s.reduce((a, b) => a + b, 0);
      const z = weighting === "reference" ? s.map((x) => x / sum) : s;
      const ex = z.map((x) => Math.exp(x));
      const w =
        weighting === "uniform"
          ? s.map(() => 1 / s.length)
          : ex.map((x) => x / ex.reduce((a, b) => a + b, 0));
      const dj = new Float64Array(D);
      others.forEach((r, q) => {
        const er = E.get(r.user)![r.idx]!;
        for (let c = 0; c < D; c++) dj[c]! += w[q]! * (eu[c]! - er[c]!);
      });
      his.push(eu);
      diff.push(dj);
    }
    out.push({ his, diff });
  }
  return out;
}

describe("difference embeddings (SPEC §3)", () => {
  for (const weighting of ["reference", "softmax-norm", "uniform"] as const) {
    for (const split of ["train", "val", "test"] as const) {
      it(`match the direct transcription: ${split}, ${weighting}`, async () => {
        const res = await buildDifferenceSamples({ dataset: ds, store, split, weighting });
        const want = naive(split, weighting).filter((w) => w.his.length > 0);
        expect(res.samples.length).toBe(want.length);
        expect(res.excluded.count).toBe(split === "train" ? 8 : 1);
        expect(res.excluded.ids.every((id) => id.includes("loner"))).toBe(true);
        let maxErr = 0;
        want.forEach((w, s) => {
          expect(res.k[s]).toBe(w.his.length);
          for (let row = 0; row < 16; row++) {
            const src = row < 8 ? w.his[row] : w.diff[row - 8];
            for (let c = 0; c < D; c++) {
              const got = res.x[(s * 16 + row) * D + c]!;
              if (src) maxErr = Math.max(maxErr, Math.abs(got - src[c]!));
              else expect(got).toBe(0);
            }
          }
        });
        expect(maxErr).toBeLessThan(1e-5);
      });
    }
  }

  it("the fused native kernel (the default) agrees with the TypeScript oracle", async () => {
    for (const weighting of ["reference", "softmax-norm", "uniform"] as const) {
      const native = await buildDifferenceSamples({ dataset: ds, store, split: "test", weighting });
      const oracle = await buildDifferenceSamples({
        dataset: ds,
        store,
        split: "test",
        weighting,
        kernel: computeDifferences,
      });
      expect(Array.from(native.k)).toEqual(Array.from(oracle.k));
      let maxErr = 0;
      for (let i = 0; i < native.x.length; i++)
        maxErr = Math.max(maxErr, Math.abs(native.x[i]! - oracle.x[i]!));
      expect(maxErr).toBeLessThan(1e-5);
    }
  });

  it("weightings really differ, and the reference weights are near-uniform", async () => {
    const a = await buildDifferenceSamples({ dataset: ds, store, split: "test", weighting: "reference" });
    const b = await buildDifferenceSamples({ dataset: ds, store, split: "test", weighting: "uniform" });
    const c = await buildDifferenceSamples({ dataset: ds, store, split: "test", weighting: "softmax-norm" });
    let ab = 0;
    let bc = 0;
    for (let i = 0; i < a.x.length; i++) {
      ab = Math.max(ab, Math.abs(a.x[i]! - b.x[i]!));
      bc = Math.max(bc, Math.abs(b.x[i]! - c.x[i]!));
    }
    expect(ab).toBeGreaterThan(0);
    expect(bc).toBeGreaterThan(ab);
  });

  it("records slot sources and the reference prompt alignment", async () => {
    const a = await buildDifferenceSamples({
      dataset: ds,
      store,
      split: "test",
      referencePromptAlignment: false,
    });
    const b = await buildDifferenceSamples({ dataset: ds, store, split: "test" }); // the reference, by default
    for (const s of a.samples) {
      expect(s.sources.length).toBe(s.k);
      expect([...s.sources].sort((x, y) => y - x)).toEqual(s.sources); // newest first
      expect(s.promptReviews).toEqual(s.sources);
    }
    // the reference labels slot i with the i-th newest profile review (profile sorted newest first)
    for (const s of b.samples)
      expect(s.promptReviews).toEqual(s.sources.map((_, i) => s.historyLength - 1 - i));
    expect(b.x).toEqual(a.x);
  });

  it("selects the DEP subset (longest train row per user; seeded val sample)", async () => {
    const t = await buildDifferenceSamples({ dataset: ds, store, split: "train", subset: "dep" });
    expect(new Set(t.samples.map((s) => s.userId)).size).toBe(t.samples.length);
    const v1 = await buildDifferenceSamples({
      dataset: ds,
      store,
      split: "val",
      subset: "dep",
      valSize: 5,
      seed: 1,
    });
    const v2 = await buildDifferenceSamples({
      dataset: ds,
      store,
      split: "val",
      subset: "dep",
      valSize: 5,
      seed: 1,
    });
    expect(v1.samples.map((s) => s.id)).toEqual(v2.samples.map((s) => s.id));
    expect(v1.samples.length + v1.excluded.count).toBe(5);
  });

  it("writes x, k and the sidecar; streaming in chunks gives the same bytes", async () => {
    const file = join(dir, "train.safetensors");
    const res = await writeDiffFile({ dataset: ds, store, split: "train", outFile: file, chunkSamples: 7 });
    const mem = await buildDifferenceSamples({ dataset: ds, store, split: "train" });
    const { tensors, metadata } = await readSafetensors(file);
    expect(tensors.get("x")!.shape).toEqual([res.samples, 16, D]);
    expect(toFloat32(tensors.get("x")!)).toEqual(mem.x);
    expect(Array.from(typedView(tensors.get("k")!) as Int32Array)).toEqual(Array.from(mem.k));
    expect(metadata.weighting).toBe("reference");
    const side = JSON.parse(await readFile(diffSidecarPath(file), "utf8"));
    expect(side.samples.length).toBe(res.samples);
    expect(side.excluded.count).toBe(8);
  });

  it("reports texts missing from the store", async () => {
    const other = population(4);
    await expect(buildDifferenceSamples({ dataset: other, store, split: "test" })).rejects.toMatchObject({
      code: "DEP_EMBED_MISSING",
    });
  });

  it("counts `alwaysPeers` reviews in E[u] and reviewers[] wherever they are (dep serve's added reviews)", () => {
    const rowOf = (r: Review) => store.rowOf(textKey(r.text))!;
    const args = { dataset: ds, embeddings: store.matrix(), dim: D, rowOf };
    const plain = buildPeerIndex(args);
    const test = ds.rows.find((r) => r.split === "test")!;
    const u = plain.userNumber.get(`${test.category}\u0000${test.userId}`)!;
    const P = test.profile.length;
    const last = test.profile[P - 1]!; // held out of E[u] and reviewers[] by SPEC §2
    const second = test.profile[P - 2]!; // in E[u], not in reviewers[]
    const withAdded = buildPeerIndex({ ...args, alwaysPeers: new Set([last]) });
    const rows = (ix: typeof plain) => Array.from(ix.eRow.subarray(ix.ePtr[u]!, ix.ePtr[u + 1]!));
    expect(rows(plain)).toEqual(test.profile.slice(0, P - 1).map(rowOf));
    // the added review joins E[u] and reviewers[]; the dataset's own held-out tail stays held out
    expect(rows(withAdded)).toEqual([...test.profile.slice(0, P - 2), last].map(rowOf));
    const has = (ix: typeof plain, r: Review) => {
      const rv = ix.reviewers.get(`${test.category}\u0000${r.asin}`);
      return rv ? Array.from(rv.user).includes(u) : false;
    };
    expect(has(plain, last)).toBe(false);
    expect(has(withAdded, last)).toBe(true);
    expect(has(withAdded, second)).toBe(false);
    expect(Array.from(withAdded.means.subarray(u * D, (u + 1) * D))).not.toEqual(
      Array.from(plain.means.subarray(u * D, (u + 1) * D)),
    );
  });

  it("computeDifferences rejects a target without peers", () => {
    const csr = {
      selfRow: Int32Array.from([0]),
      selfUser: Int32Array.from([0]),
      peerPtr: Int32Array.from([0, 0]),
      peerRow: new Int32Array(0),
      peerUser: new Int32Array(0),
    };
    expect(() => computeDifferences(csr, new Float32Array(2), new Float32Array(2), 2, "reference")).toThrow(
      /target 0/,
    );
  });
});
