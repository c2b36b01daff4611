// Port of NLTK 3.10's `word_tokenize`: Punkt sentence splitting, then NLTKWordTokenizer (the improved
// Treebank tokenizer of nltk/tokenize/destructive.py) on each sentence. Regexes are Python `re`
// patterns translated so that \s, \w, \d, \b, $ keep Python's (Unicode) meaning.
import { PY_DIGIT, PY_SPACE, PY_WORD, pySplit } from "../pyText.js";
import type { PunktSentenceTokenizer } from "./punkt.js";

const W = `[${PY_WORD}]`;
const NOT_W_AFTER = `(?!${W})`; // Python \b right after a word character
const NOT_W_BEFORE = `(?<!${W})`; // Python \b right before a word character
const S = `[${PY_SPACE}]`;
/** Python's non-MULTILINE `$`: the end, or just before a final "\n". */
const PY_END = "(?=\\n?$)";

type Rule = [RegExp, string];
const re = (source: string, flags = ""): RegExp => new RegExp(source, `gu${flags}`);

const STARTING_QUOTES: Rule[] = [
  [re("([«“‘„]|[`]+)"), " $1 "],
  [re('^"'), "``"],
  [re("(``)"), " $1 "],
  [re(`([ ([{<])("|'{2})`), "$1 `` "],
  // NLTK 3.10: an opening single quote before a word that is not a clitic
  [re(`${NOT_W_BEFORE}(')(?!(?:re|ve|ll|m|t|s|d|n)${NOT_W_AFTER})(?=${W})`, "i"), "$1 "],
];

const PUNCTUATION: Rule[] = [
  [re(`([^.])(\\.)([\\])}>"'»”’ ]*)${S}*${PY_END}`), "$1 $2 $3 "],
  [re(`([:,])([^${PY_DIGIT}])`), " $1 $2"],
  [re(`([:,])${PY_END}`), " $1 "],
  [re("\\.{2,}"), " $& "],
  [re("[;@#$%&]"), " $& "],
  // NLTK 3.10: figure dash, en dash, em dash, horizontal bar
  [re("[\\u2012-\\u2015]"), " $& "],
  [re(`([^.])(\\.)([\\])}>"']*)${S}*${PY_END}`), "$1 $2$3 "],
  [re("[?!]"), " $& "],
  [re("([^'])' "), "$1 ' "],
  [re("[*]"), " $& "],
];

const PARENS_BRACKETS: Rule = [re("[\\][(){}<>]"), " $& "];
const DOUBLE_DASHES: Rule = [re("--"), " -- "];

const ENDING_QUOTES: Rule[] = [
  [re("([»”’])"), " $1 "],
  [re("''"), " '' "],
  [re('"'), " '' "],
  [re(`${S}+`), " "],
  [re("([^' ])('[sS]|'[mM]|'[dD]|') "), "$1 $2 "],
  [re("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), "$1 $2 "],
];

const CONTRACTIONS: Rule[] = [
  ...[
    ["can", "not"],
    ["d", "'ye"],
    ["gim", "me"],
    ["gon", "na"],
    ["got", "ta"],
    ["lem", "me"],
    ["more", "'n"],
  ].map(([a, b]): Rule => [re(`${NOT_W_BEFORE}(${a})(${b})${NOT_W_AFTER}`, "i"), " $1 $2 "]),
  [re(`${NOT_W_BEFORE}(wan)(na)(?=${S})`, "i"), " $1 $2 "],
  [re(` ('t)(is)${NOT_W_AFTER}`, "i"), " $1 $2 "],
  [re(` ('t)(was)${NOT_W_AFTER}`, "i"), " $1 $2 "],
];

function applyRules(text: string, rules: Rule[]): string {
  let out = text;
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return out;
}

/** `NLTKWordTokenizer().tokenize(sentence)` of NLTK 3.10 (no parenthesis conversion). */
export function treebankWordTokenize(sentence: string): string[] {
  let text = applyRules(sentence, STARTING_QUOTES);
  text = applyRules(text, PUNCTUATION);
  text = applyRules(text, [PARENS_BRACKETS, DOUBLE_DASHES]);
  text = ` ${text} `;
  text = applyRules(text, ENDING_QUOTES);
  text = applyRules(text, CONTRACTIONS);
  return pySplit(text);
}

/** `nltk.word_tokenize(text)`: Punkt sentences (or the whole text when no Punkt model is given), then words. */
export function wordTokenize(text: string, sentences: PunktSentenceTokenizer | null): string[] {
  const sents = sentences ? sentences.tokenize(text) : [text];
  const out: string[] = [];
  for (const s of sents) for (const t of treebankWordTokenize(s)) out.push(t);
  return out;
}
