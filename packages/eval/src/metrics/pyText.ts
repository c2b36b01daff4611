// Python text semantics that JavaScript does not share. The reference tools are Python, and
// their `str.split()`, `\s`, `\w`, `\d` and `\b` differ from JavaScript's on non-ASCII text.

/** Characters Python's `str.isspace()` accepts (and `str.split()` / `re` `\s` use). JS `\s` adds U+FEFF and lacks U+001C-U+001F and U+0085. */
export const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/** Python 3 `re` `\w` on str patterns: alphanumerics (Unicode letters and numbers) and underscore. */
export const PY_WORD = "\\p{L}\\p{N}_";
/** Python 3 `re` `\d` on str patterns: decimal digits. */
export const PY_DIGIT = "\\p{Nd}";

const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, "u");
const LEADING_SPACE = new RegExp(`^[${PY_SPACE}]+`, "u");
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, "u");

/** Python's `s.split()` with no argument. */
export function pySplit(text: string): string[] {
  const parts = text.split(SPACE_RUN);
  const out: string[] = [];
  for (const p of parts) if (p.length > 0) out.push(p);
  return out;
}

/** Python's `s.rstrip()`. */
export function pyRstrip(text: string): string {
  return text.replace(TRAILING_SPACE, "");
}

/** Python's `s.strip()`. */
export function pyStrip(text: string): string {
  return text.replace(LEADING_SPACE, "").replace(TRAILING_SPACE, "");
}

/** Numpy's pairwise float64 summation (the order `np.sum`/`np.mean` use on a contiguous 1-D array). */
export function numpyPairwiseSum(values: ArrayLike<number>, start = 0, n = values.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let k = 0; k < 8; k++) r[k] = values[start + k]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let k = 0; k < 8; k++) r[k]! += values[start + i + k]!;
    }
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += values[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpyPairwiseSum(values, start, n2) + numpyPairwiseSum(values, start + n2, n - n2);
}

/** `np.mean` of a list of Python floats. */
export function numpyMean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  return (0 + numpyPairwiseSum(values)) / values.length;
}
