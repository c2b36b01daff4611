// K-means as DPL's peer selection runs it: scikit-learn's `KMeans(n_clusters=k, random_state=seed).fit(X)`
// with the defaults of the scikit-learn that DPL's requirements bring in (sentence-transformers 3.4.1 with
// numpy 1.26, so scikit-learn >= 1.4): greedy k-means++ seeding with 2 + floor(ln k) local trials, one
// initialisation (n_init "auto"), Lloyd iterations (at most 300) until the labels stop changing or the
// squared centre shift falls to 1e-4 times the mean per-feature variance, empty clusters given the points
// farthest from their centres, and labels recomputed against the final centres. The random draws are
// numpy's legacy RandomState(seed) (MT19937) as scikit-learn makes them, so for the same vectors this picks
// the same centres as scikit-learn does; distances are computed in float64 (scikit-learn mixes float32 and
// float64), so only points within rounding of a tie can land differently.
import MersenneTwister from "mersenne-twister";

/** The draws of numpy's legacy `RandomState(seed)` that k-means++ makes. */
class NumpyRandomState {
  readonly #mt: MersenneTwister;

  constructor(seed: number) {
    this.#mt = new MersenneTwister(seed >>> 0); // RandomState(int) seeds MT19937 with init_genrand
  }

  /** `random_sample()`: MT19937's 53-bit double in [0, 1). */
  sample(): number {
    return this.#mt.random_long();
  }

  /** `choice(n, p=uniform)`: searchsorted(cumsum(p) / total, u, side="right"); cumsum(p)[i] is (i+1)/n. */
  choiceUniform(n: number): number {
    const u = this.sample();
    let i = 0;
    while (i < n - 1 && (i + 1) / n <= u) i++;
    return i;
  }
}

export interface KMeansResult {
  /** cluster of each point */
  labels: Int32Array;
  /** [k * dim] */
  centers: Float64Array;
  /** indices of the points k-means++ picked as the initial centres */
  initIndices: number[];
  iterations: number;
}

function sqDist(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const t = (a[ai + j] as number) - (b[bi + j] as number);
    s += t * t;
  }
  return s;
}

/** scikit-learn's `_kmeans_plusplus` (greedy k-means++, unit sample weights). */
function kmeansPlusPlus(x: Float32Array, n: number, dim: number, k: number, rs: NumpyRandomState): number[] {
  const trials = 2 + Math.floor(Math.log(k));
  const first = rs.choiceUniform(n);
  const picked = [first];
  let closest: Float64Array = Float64Array.from({ length: n }, (_, i) =>
    sqDist(x, first * dim, x, i * dim, dim),
  );
  let potential = closest.reduce((a, b) => a + b, 0);
  for (let c = 1; c < k; c++) {
    const cumsum = new Float64Array(n);
    let run = 0;
    for (let i = 0; i < n; i++) cumsum[i] = run += closest[i]!;
    let best: { pot: number; id: number; dist: Float64Array } | null = null;
    // numpy draws all trials first, then evaluates them
    const draws = Array.from({ length: trials }, () => rs.sample() * potential);
    for (const r of draws) {
      let id = 0; // searchsorted side="left": the first i with cumsum[i] >= r, clipped to n - 1
      while (id < n - 1 && cumsum[id]! < r) id++;
      const dist = new Float64Array(n);
      let pot = 0;
      for (let i = 0; i < n; i++) {
        dist[i] = Math.min(closest[i]!, sqDist(x, id * dim, x, i * dim, dim));
        pot += dist[i]!;
      }
      if (!best || pot < best.pot) best = { pot, id, dist };
    }
    picked.push(best!.id);
    closest = best!.dist;
    potential = best!.pot;
  }
  return picked;
}

/** Nearest centre of every point (the first on ties, as scikit-learn's argmin). */
function assign(
  x: Float32Array,
  n: number,
  dim: number,
  centers: Float64Array,
  k: number,
  labels: Int32Array,
) {
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      const d = sqDist(x, i * dim, centers, c * dim, dim);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    labels[i] = best;
  }
}

/** Mean over features of the per-feature (population) variance, times `tol`: scikit-learn's `_tolerance`. */
function tolerance(x: Float32Array, n: number, dim: number, tol: number): number {
  let total = 0;
  for (let j = 0; j < dim; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * dim + j]!;
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * dim + j]! - mean) ** 2;
    total += v / n;
  }
  return (total / dim) * tol;
}

/** `KMeans(n_clusters=k, random_state=seed).fit(x)` for `n` points of `dim` floats (needs n >= k). */
export function kmeans(
  x: Float32Array,
  dim: number,
  k: number,
  o: { seed: number; maxIter?: number; tol?: number },
): KMeansResult {
  const n = x.length / dim;
  if (!Number.isInteger(n) || n < k) throw new Error(`k-means: ${n} points for ${k} clusters`);
  const rs = new NumpyRandomState(o.seed);
  const initIndices = kmeansPlusPlus(x, n, dim, k, rs);
  let centers = new Float64Array(k * dim);
  initIndices.forEach((p, c) => {
    for (let j = 0; j < dim; j++) centers[c * dim + j] = x[p * dim + j]!;
  });
  const tol = tolerance(x, n, dim, o.tol ?? 1e-4);
  const labels = new Int32Array(n).fill(-1);
  const old = new Int32Array(n).fill(-1);
  let strict = false;
  let iterations = 0;
  for (let it = 0; it < (o.maxIter ?? 300); it++) {
    iterations = it + 1;
    assign(x, n, dim, centers, k, labels);
    const sums = new Float64Array(k * dim);
    const weight = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      weight[c]! += 1;
      for (let j = 0; j < dim; j++) sums[c * dim + j]! += x[i * dim + j]!;
    }
    relocateEmpty(x, n, dim, centers, labels, sums, weight);
    const next = new Float64Array(k * dim);
    let shift = 0;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < dim; j++) {
        const v = weight[c]! > 0 ? sums[c * dim + j]! / weight[c]! : sums[c * dim + j]!;
        next[c * dim + j] = v;
        shift += (v - centers[c * dim + j]!) ** 2;
      }
    }
    centers = next;
    if (labels.every((l, i) => l === old[i])) {
      strict = true;
      break;
    }
    if (shift <= tol) break;
    old.set(labels);
  }
  if (!strict) assign(x, n, dim, centers, k, labels);
  return { labels, centers, initIndices, iterations };
}

/**
 * scikit-learn's `_relocate_empty_clusters_dense`: each empty cluster takes the point farthest from its
 * (previous) centre, largest distance first; the point's label is left as it was, as there.
 */
function relocateEmpty(
  x: Float32Array,
  n: number,
  dim: number,
  centers: Float64Array,
  labels: Int32Array,
  sums: Float64Array,
  weight: Float64Array,
) {
  const empty = [...weight.keys()].filter((c) => weight[c] === 0);
  if (empty.length === 0) return;
  const dist = Array.from({ length: n }, (_, i) => sqDist(x, i * dim, centers, labels[i]! * dim, dim));
  const far = [...dist.keys()].sort((a, b) => dist[b]! - dist[a]! || a - b);
  empty.forEach((c, e) => {
    const p = far[e]!;
    const from = labels[p]!;
    for (let j = 0; j < dim; j++) {
      sums[from * dim + j]! -= x[p * dim + j]!;
      sums[c * dim + j] = x[p * dim + j]!;
    }
    weight[c] = 1;
    weight[from]! -= 1;
  });
}
