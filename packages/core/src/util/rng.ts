// Seeded randomness: every random choice in the project comes from an Rng built from an explicit seed.
// sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded through splitmix32/FNV-1a so that
// `fork(label)` gives independent, reproducible streams (e.g. one per user), which keeps generation order-free.

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a 32-bit hash of a string (UTF-16 code units). */
export function hash32(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  readonly seed: number;
  #spare: number | null = null;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    const sm = splitmix32(this.seed ^ Math.floor(seed / 2 ** 32));
    this.#a = sm();
    this.#b = sm();
    this.#c = sm();
    this.#d = sm();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** An independent stream for `label` (the same label gives the same stream). */
  fork(label: string | number): Rng {
    return new Rng(hash32(String(label), hash32(String(this.seed))));
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("Rng.pick: empty array");
    return xs[this.int(xs.length)]!;
  }

  /** Picks index i with probability w[i] / sum(w). */
  weighted(w: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < w.length; i++) total += w[i]!;
    let r = this.float() * total;
    for (let i = 0; i < w.length; i++) {
      r -= w[i]!;
      if (r < 0) return i;
    }
    return w.length - 1;
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    for (;;) {
      const u = this.float() * 2 - 1;
      const v = this.float() * 2 - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.#spare = v * m;
        return u * m;
      }
    }
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
    return xs;
  }

  /** k distinct items (order random). */
  sample<T>(xs: readonly T[], k: number): T[] {
    const copy = xs.slice();
    const n = Math.min(k, copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + this.int(copy.length - i);
      const t = copy[i]!;
      copy[i] = copy[j]!;
      copy[j] = t;
    }
    return copy.slice(0, n);
  }
}

/** `m.get(k)`, inserting `make()` first when absent. */
export function getOrInsert<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}
