// Okapi BM25 as rank_bm25's BM25Okapi computes it (k1 1.5, b 0.75, epsilon 0.25 floor for negative idf),
// over lowercase alphanumeric word tokens. Used by the RAG baseline to pick history reviews.

export function bm25Tokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

export class Bm25 {
  readonly #docs: Array<Map<string, number>>;
  readonly #lengths: number[];
  readonly #avgdl: number;
  readonly #idf = new Map<string, number>();

  constructor(
    documents: readonly string[][],
    readonly k1 = 1.5,
    readonly b = 0.75,
    epsilon = 0.25,
  ) {
    this.#docs = documents.map((d) => {
      const tf = new Map<string, number>();
      for (const t of d) tf.set(t, (tf.get(t) ?? 0) + 1);
      return tf;
    });
    this.#lengths = documents.map((d) => d.length);
    this.#avgdl = this.#lengths.reduce((a, b) => a + b, 0) / Math.max(1, documents.length);
    const df = new Map<string, number>();
    for (const tf of this.#docs) for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
    const n = documents.length;
    let idfSum = 0;
    const negative: string[] = [];
    for (const [t, f] of df) {
      const idf = Math.log(n - f + 0.5) - Math.log(f + 0.5);
      this.#idf.set(t, idf);
      idfSum += idf;
      if (idf < 0) negative.push(t);
    }
    const floor = epsilon * (idfSum / Math.max(1, df.size));
    for (const t of negative) this.#idf.set(t, floor);
  }

  scores(query: readonly string[]): Float64Array {
    const out = new Float64Array(this.#docs.length);
    for (const q of query) {
      const idf = this.#idf.get(q);
      if (idf === undefined) continue;
      this.#docs.forEach((tf, i) => {
        const f = tf.get(q) ?? 0;
        if (f === 0) return;
        const norm = this.k1 * (1 - this.b + (this.b * this.#lengths[i]!) / this.#avgdl);
        out[i] = out[i]! + idf * ((f * (this.k1 + 1)) / (f + norm)); // rank_bm25's order of operations
      });
    }
    return out;
  }

  /** Indices of the top `k` documents, best first (ties: earlier document first). */
  top(query: readonly string[], k: number): number[] {
    const s = this.scores(query);
    return Array.from(s.keys())
      .sort((a, b) => s[b]! - s[a]! || a - b)
      .slice(0, k);
  }
}
