// MT19937 as numpy's legacy RandomState uses it: init_genrand seeding, 32-bit outputs, and the
// masked-rejection bounded integer rule of `RandomState.randint` (used by `np.random.choice`).

const N = 624;
const M = 397;

export class MT19937 {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;

  constructor(seed: number) {
    this.initGenrand(seed);
  }

  /** Reference `init_genrand`, what `np.random.seed(int)` calls. */
  initGenrand(seed: number): void {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2^32, without losing bits to float64 rounding
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = N;
  }

  private generate(): void {
    const mt = this.mt;
    let kk = 0;
    for (; kk < N - M; kk++) {
      const y = (mt[kk]! & 0x80000000) | (mt[kk + 1]! & 0x7fffffff);
      mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    for (; kk < N - 1; kk++) {
      const y = (mt[kk]! & 0x80000000) | (mt[kk + 1]! & 0x7fffffff);
      mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    const y = (mt[N - 1]! & 0x80000000) | (mt[0]! & 0x7fffffff);
    mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    this.mti = 0;
  }

  /** Next 32-bit output (`genrand_int32`), as an unsigned number. */
  nextUint32(): number {
    if (this.mti >= N) this.generate();
    let y = this.mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * Fills `out` with integers in [0, high) the way legacy `RandomState.randint(0, high, size)` does for
   * high - 1 <= 0xFFFFFFFF: mask with the smallest 2^k - 1 >= high - 1, redraw while above high - 1;
   * nothing is drawn when high == 1.
   */
  randintFill(high: number, out: Int32Array | Uint32Array | number[]): void {
    const rng = high - 1;
    if (rng < 0 || rng > 0xfffffffe) throw new RangeError(`randint: unsupported range ${high}`);
    if (rng === 0) {
      for (let i = 0; i < out.length; i++) out[i] = 0;
      return;
    }
    let mask = rng;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    // tempering inlined: this loop draws n words per bootstrap resample, millions in all
    const mt = this.mt;
    let mti = this.mti;
    for (let i = 0; i < out.length; i++) {
      let v: number;
      do {
        if (mti >= N) {
          this.generate();
          mti = 0;
        }
        let y = mt[mti++]!;
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        v = (y & mask) >>> 0;
      } while (v > rng);
      out[i] = v;
    }
    this.mti = mti;
  }
}
