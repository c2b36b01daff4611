// Port of NLTK's PorterStemmer (nltk/stem/porter.py) in its default NLTK_EXTENSIONS mode, as NLTK
// 3.8-3.10 ship it. Step by step it mirrors the reference, including its departures from the 1980
// paper (irregular-form pool, 'ies'/'ied' on 4-letter words, 'alli', 'fulli', 'logi', 2-letter cvc).

type Condition = ((stem: string) => boolean) | null;
type Rule = [suffix: string, replacement: string, condition: Condition];

const IRREGULAR_FORMS: Record<string, string[]> = {
  sky: ["sky", "skies"],
  die: ["dying"],
  lie: ["lying"],
  tie: ["tying"],
  news: ["news"],
  inning: ["innings", "inning"],
  outing: ["outings", "outing"],
  canning: ["cannings", "canning"],
  howe: ["howe"],
  proceed: ["proceed"],
  exceed: ["exceed"],
  succeed: ["succeed"],
};

const POOL = new Map<string, string>();
for (const [key, forms] of Object.entries(IRREGULAR_FORMS)) for (const f of forms) POOL.set(f, key);

function isVowelLetter(c: string | undefined): boolean {
  return c === "a" || c === "e" || c === "i" || c === "o" || c === "u";
}

function isConsonant(word: string, i: number): boolean {
  // iterative form of the reference's recursion on 'y'
  let consonant = true;
  let k = i;
  // walk back over a run of 'y's: y after a consonant is a vowel, y at 0 or after a vowel is a consonant
  const ys: number[] = [];
  while (k >= 0) {
    const c = word[k];
    if (isVowelLetter(c)) {
      consonant = false;
      break;
    }
    if (c === "y") {
      if (k === 0) {
        consonant = true;
        break;
      }
      ys.push(k);
      k--;
      continue;
    }
    consonant = true;
    break;
  }
  // each 'y' flips the class of the character before it
  for (let n = 0; n < ys.length; n++) consonant = !consonant;
  return consonant;
}

function measure(stem: string): number {
  let m = 0;
  let prevVowel = false;
  for (let i = 0; i < stem.length; i++) {
    const consonant = isConsonant(stem, i);
    if (consonant && prevVowel) m++;
    prevVowel = !consonant;
  }
  return m;
}

function hasPositiveMeasure(stem: string): boolean {
  return measure(stem) > 0;
}

function containsVowel(stem: string): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

function endsDoubleConsonant(word: string): boolean {
  const n = word.length;
  return n >= 2 && word[n - 1] === word[n - 2] && isConsonant(word, n - 1);
}

function endsCvc(word: string): boolean {
  const n = word.length;
  return (
    (n >= 3 &&
      isConsonant(word, n - 3) &&
      !isConsonant(word, n - 2) &&
      isConsonant(word, n - 1) &&
      word[n - 1] !== "w" &&
      word[n - 1] !== "x" &&
      word[n - 1] !== "y") ||
    (n === 2 && !isConsonant(word, 0) && isConsonant(word, 1))
  );
}

function replaceSuffix(word: string, suffix: string, replacement: string): string {
  return suffix === "" ? word + replacement : word.slice(0, word.length - suffix.length) + replacement;
}

function applyRuleList(word: string, rules: Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (suffix === "*d" && endsDoubleConsonant(word)) {
      const stem = word.slice(0, -2);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
    if (word.endsWith(suffix)) {
      const stem = replaceSuffix(word, suffix, "");
      return condition === null || condition(stem) ? stem + replacement : word;
    }
  }
  return word;
}

function step1a(word: string): string {
  if (word.endsWith("ies") && word.length === 4) return replaceSuffix(word, "ies", "ie");
  return applyRuleList(word, [
    ["sses", "ss", null],
    ["ies", "i", null],
    ["ss", "ss", null],
    ["s", "", null],
  ]);
}

function step1b(word: string): string {
  if (word.endsWith("ied")) {
    return word.length === 4 ? replaceSuffix(word, "ied", "ie") : replaceSuffix(word, "ied", "i");
  }
  if (word.endsWith("eed")) {
    const stem = replaceSuffix(word, "eed", "");
    return measure(stem) > 0 ? stem + "ee" : word;
  }
  let intermediate: string | null = null;
  for (const suffix of ["ed", "ing"]) {
    if (word.endsWith(suffix)) {
      const candidate = replaceSuffix(word, suffix, "");
      if (containsVowel(candidate)) {
        intermediate = candidate;
        break;
      }
    }
  }
  if (intermediate === null) return word;
  const stem1b = intermediate;
  const last = stem1b[stem1b.length - 1] ?? "";
  return applyRuleList(stem1b, [
    ["at", "ate", null],
    ["bl", "ble", null],
    ["iz", "ize", null],
    ["*d", last, () => last !== "l" && last !== "s" && last !== "z"],
    ["", "e", (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

function step1c(word: string): string {
  return applyRuleList(word, [["y", "i", (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);
}

const STEP2_RULES: Rule[] = [
  ["ational", "ate", hasPositiveMeasure],
  ["tional", "tion", hasPositiveMeasure],
  ["enci", "ence", hasPositiveMeasure],
  ["anci", "ance", hasPositiveMeasure],
  ["izer", "ize", hasPositiveMeasure],
  ["bli", "ble", hasPositiveMeasure],
  ["alli", "al", hasPositiveMeasure],
  ["entli", "ent", hasPositiveMeasure],
  ["eli", "e", hasPositiveMeasure],
  ["ousli", "ous", hasPositiveMeasure],
  ["ization", "ize", hasPositiveMeasure],
  ["ation", "ate", hasPositiveMeasure],
  ["ator", "ate", hasPositiveMeasure],
  ["alism", "al", hasPositiveMeasure],
  ["iveness", "ive", hasPositiveMeasure],
  ["fulness", "ful", hasPositiveMeasure],
  ["ousness", "ous", hasPositiveMeasure],
  ["aliti", "al", hasPositiveMeasure],
  ["iviti", "ive", hasPositiveMeasure],
  ["biliti", "ble", hasPositiveMeasure],
  ["fulli", "ful", hasPositiveMeasure],
];

function step2(word: string): string {
  if (word.endsWith("alli") && hasPositiveMeasure(replaceSuffix(word, "alli", ""))) {
    return step2(replaceSuffix(word, "alli", "al"));
  }
  // NLTK's 'logi' rule tests the measure of the word minus 3 letters, not of the stem
  return applyRuleList(word, [...STEP2_RULES, ["logi", "log", () => hasPositiveMeasure(word.slice(0, -3))]]);
}

const STEP3_RULES: Rule[] = [
  ["icate", "ic", hasPositiveMeasure],
  ["ative", "", hasPositiveMeasure],
  ["alize", "al", hasPositiveMeasure],
  ["iciti", "ic", hasPositiveMeasure],
  ["ical", "ic", hasPositiveMeasure],
  ["ful", "", hasPositiveMeasure],
  ["ness", "", hasPositiveMeasure],
];

const measureGt1 = (stem: string): boolean => measure(stem) > 1;
const STEP4_RULES: Rule[] = [
  ["al", "", measureGt1],
  ["ance", "", measureGt1],
  ["ence", "", measureGt1],
  ["er", "", measureGt1],
  ["ic", "", measureGt1],
  ["able", "", measureGt1],
  ["ible", "", measureGt1],
  ["ant", "", measureGt1],
  ["ement", "", measureGt1],
  ["ment", "", measureGt1],
  ["ent", "", measureGt1],
  ["ion", "", (stem) => measure(stem) > 1 && (stem.endsWith("s") || stem.endsWith("t"))],
  ["ou", "", measureGt1],
  ["ism", "", measureGt1],
  ["ate", "", measureGt1],
  ["iti", "", measureGt1],
  ["ous", "", measureGt1],
  ["ive", "", measureGt1],
  ["ize", "", measureGt1],
];

function step5a(word: string): string {
  if (word.endsWith("e")) {
    const stem = replaceSuffix(word, "e", "");
    if (measure(stem) > 1) return stem;
    if (measure(stem) === 1 && !endsCvc(stem)) return stem;
  }
  return word;
}

function step5b(word: string): string {
  return applyRuleList(word, [["ll", "l", () => measure(word.slice(0, -1)) > 1]]);
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** NLTK `PorterStemmer().stem(word)` (NLTK_EXTENSIONS mode, lowercasing on). */
export function porterStem(word: string): string {
  let stem = word.toLowerCase();
  // the reference tests the pool with the original word but looks up the lowercased one
  if (POOL.has(word)) return POOL.get(stem) ?? stem;
  // Python's len() counts code points
  if (codePointLength(word) <= 2) return stem;
  stem = step1a(stem);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = applyRuleList(stem, STEP3_RULES);
  stem = applyRuleList(stem, STEP4_RULES);
  stem = step5a(stem);
  stem = step5b(stem);
  return stem;
}
