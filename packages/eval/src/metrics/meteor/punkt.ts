// Port of the decision logic of NLTK's PunktSentenceTokenizer (nltk/tokenize/punkt.py, NLTK 3.8-3.10),
// driven by trained English parameters in NLTK's `punkt_tab` format. No training: only tokenizing.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { PY_DIGIT, PY_SPACE, PY_WORD, pyStrip } from "../pyText.js";

const ORTHO_BEG_UC = 1 << 1;
const ORTHO_MID_UC = 1 << 2;
const ORTHO_UNK_UC = 1 << 3;
const ORTHO_BEG_LC = 1 << 4;
const ORTHO_MID_LC = 1 << 5;
const ORTHO_UNK_LC = 1 << 6;
const ORTHO_UC = ORTHO_BEG_UC + ORTHO_MID_UC + ORTHO_UNK_UC;
const ORTHO_LC = ORTHO_BEG_LC + ORTHO_MID_LC + ORTHO_UNK_LC;

export interface PunktParameters {
  abbrevTypes: Set<string>;
  /** "type1\ttype2" pairs. */
  collocations: Set<string>;
  sentStarters: Set<string>;
  orthoContext: Map<string, number>;
}

/** Lines of a text file the way Python iterates a file opened in text mode, each stripped of its final "\n". */
function readLines(path: string): string[] {
  const text = readFileSync(path, "utf8").replace(/\r\n?/g, "\n");
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Loads `abbrev_types.txt`, `collocations.tab`, `sent_starters.txt`, `ortho_context.tab` from a punkt_tab language dir. */
export function loadPunktParameters(dir: string): PunktParameters {
  const orthoContext = new Map<string, number>();
  for (const line of readLines(join(dir, "ortho_context.tab"))) {
    const [typ, flags] = line.split("\t");
    if (typ !== undefined && flags !== undefined) orthoContext.set(typ, Number.parseInt(flags, 10));
  }
  return {
    abbrevTypes: new Set(readLines(join(dir, "abbrev_types.txt"))),
    collocations: new Set(readLines(join(dir, "collocations.tab"))),
    sentStarters: new Set(readLines(join(dir, "sent_starters.txt"))),
    orthoContext,
  };
}

const PUNKT_FILES = ["abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"];

/**
 * Where NLTK looks for its data (nltk/data.py `path`, Unix): each `$NLTK_DATA` entry, then `~/nltk_data`,
 * then the system folders. (NLTK also looks under its Python's `sys.prefix`, which has no equivalent here.)
 */
export function nltkDataPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.NLTK_DATA ?? "").split(delimiter).filter((p) => p.length > 0);
  const home = env.HOME ?? homedir();
  return [
    ...fromEnv,
    ...(home ? [join(home, "nltk_data")] : []),
    "/usr/share/nltk_data",
    "/usr/local/share/nltk_data",
    "/usr/lib/nltk_data",
    "/usr/local/lib/nltk_data",
  ];
}

/** The English punkt_tab directory: `explicit` if given, else the first NLTK data folder that has one. */
export function findPunktDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = explicit
    ? [explicit]
    : nltkDataPath(env).map((p) => join(p, "tokenizers", "punkt_tab", "english"));
  for (const dir of candidates) if (PUNKT_FILES.every((f) => existsSync(join(dir, f)))) return dir;
  return null;
}

// ---- PunktLanguageVars (English defaults) ----
const S = `[${PY_SPACE}]`;
const NS = `[^${PY_SPACE}]`;
const NON_WORD = `(?:[)";}\\]*:@'({\\[?!])`;
const MULTI_CHAR = `(?:-{2,}|\\.{2,}|(?:\\.${S}){2,}\\.)`;
const WORD_START = `[^("\`{\\[:;&#*@)}\\]\\-,]`;
const WORD_TOKENIZER = new RegExp(
  `${MULTI_CHAR}|(?=${WORD_START})${NS}+?(?=${S}|$|${NON_WORD}|${MULTI_CHAR}|,(?=$|${S}|${NON_WORD}|${MULTI_CHAR}))|${NS}`,
  "gu",
);
const PERIOD_CONTEXT = new RegExp(`[.?!](?=(?<after>${NON_WORD}|${S}+(?<next>${NS}+)))`, "gdu");
// Python MULTILINE `$` is only before "\n" or at the end (JS `$` with /m also stops at \r, U+2028, U+2029)
const BOUNDARY_REALIGNMENT = new RegExp(`^["')\\]}]+?(?:${S}+|(?=--)|(?=\\n)|$)`, "u");

const TRAILING_SPACE = new RegExp(`${S}+$`, "u");
const RE_NUMERIC = new RegExp(`^-?[.,]?${PY_DIGIT}[${PY_DIGIT},.\\-]*\\.?$`, "u");
const RE_ELLIPSIS = /^\.\.+$/;
const RE_INITIAL = new RegExp(`^[${PY_WORD}](?<!${PY_DIGIT})\\.$`, "u");
const RE_UPPER = /^\p{Uppercase}/u;
const RE_LOWER = /^\p{Lowercase}/u;
const SENT_END_CHARS = new Set([".", "?", "!"]);
const PUNCTUATION = new Set([";", ":", ",", ".", "!", "?"]);
/** Python's `string.whitespace`, which `_get_last_whitespace_index` uses (ASCII only). */
const ASCII_WHITESPACE = new Set([" ", "\t", "\n", "\r", "\x0b", "\x0c"]);

class PunktToken {
  readonly type: string;
  readonly periodFinal: boolean;
  sentbreak = false;
  abbr = false;
  ellipsis = false;

  constructor(readonly tok: string) {
    this.type = tokenType(tok);
    this.periodFinal = tok.endsWith(".");
  }

  get typeNoPeriod(): string {
    return this.type.length > 1 && this.type.endsWith(".") ? this.type.slice(0, -1) : this.type;
  }

  get typeNoSentperiod(): string {
    return this.sentbreak ? this.typeNoPeriod : this.type;
  }

  get firstUpper(): boolean {
    return RE_UPPER.test(this.tok);
  }

  get firstLower(): boolean {
    return RE_LOWER.test(this.tok);
  }

  get isInitial(): boolean {
    return RE_INITIAL.test(this.tok);
  }

  get isEllipsis(): boolean {
    return RE_ELLIPSIS.test(this.tok);
  }
}

function tokenType(tok: string): string {
  const lower = tok.toLowerCase();
  return RE_NUMERIC.test(lower) ? "##number##" : lower;
}

function* wordTokens(text: string): Generator<PunktToken> {
  for (const line of text.split("\n")) {
    if (pyStrip(line).length === 0) continue;
    for (const m of line.matchAll(WORD_TOKENIZER)) yield new PunktToken(m[0]);
  }
}

export class PunktSentenceTokenizer {
  constructor(private readonly params: PunktParameters) {}

  /** `PunktSentenceTokenizer.tokenize(text)` with boundary realignment. */
  tokenize(text: string): string[] {
    return this.spans(text).map(([s, e]) => text.slice(s, e));
  }

  /** (start, end) spans of sentences, in UTF-16 offsets. */
  spans(text: string): Array<[number, number]> {
    return this.realignBoundaries(text, this.slicesFromText(text));
  }

  private firstPass(tok: PunktToken): void {
    const t = tok.tok;
    if (SENT_END_CHARS.has(t)) tok.sentbreak = true;
    else if (tok.isEllipsis) tok.ellipsis = true;
    else if (tok.periodFinal && !t.endsWith("..")) {
      const stem = t.slice(0, -1).toLowerCase();
      const afterHyphen = stem.split("-").pop() ?? stem;
      if (this.params.abbrevTypes.has(stem) || this.params.abbrevTypes.has(afterHyphen)) tok.abbr = true;
      else tok.sentbreak = true;
    }
  }

  private orthoHeuristic(tok: PunktToken): boolean | "unknown" {
    if (PUNCTUATION.has(tok.tok)) return false;
    const ctx = this.params.orthoContext.get(tok.typeNoSentperiod) ?? 0;
    if (tok.firstUpper && ctx & ORTHO_LC && !(ctx & ORTHO_MID_UC)) return true;
    if (tok.firstLower && (ctx & ORTHO_UC || !(ctx & ORTHO_BEG_LC))) return false;
    return "unknown";
  }

  private secondPass(tok1: PunktToken, tok2: PunktToken): void {
    if (!tok1.periodFinal) return;
    const typ = tok1.typeNoPeriod;
    const nextTyp = tok2.typeNoSentperiod;
    const isInitial = tok1.isInitial;
    if (this.params.collocations.has(`${typ}\t${nextTyp}`)) {
      tok1.sentbreak = false;
      tok1.abbr = true;
      return;
    }
    if ((tok1.abbr || tok1.ellipsis) && !isInitial) {
      const starter = this.orthoHeuristic(tok2);
      if (starter === true) {
        tok1.sentbreak = true;
        return;
      }
      if (tok2.firstUpper && this.params.sentStarters.has(nextTyp)) {
        tok1.sentbreak = true;
        return;
      }
    }
    if (isInitial || typ === "##number##") {
      const starter = this.orthoHeuristic(tok2);
      if (starter === false) {
        tok1.sentbreak = false;
        tok1.abbr = true;
        return;
      }
      if (
        starter === "unknown" &&
        isInitial &&
        tok2.firstUpper &&
        !((this.params.orthoContext.get(nextTyp) ?? 0) & ORTHO_LC)
      ) {
        tok1.sentbreak = false;
        tok1.abbr = true;
      }
    }
  }

  /** `text_contains_sentbreak`: some token other than the last is annotated as a sentence break. */
  private containsSentbreak(context: string): boolean {
    const toks = [...wordTokens(context)];
    for (const t of toks) this.firstPass(t);
    for (let i = 0; i < toks.length; i++) {
      const next = toks[i + 1];
      if (next === undefined) return false;
      const tok = toks[i]!;
      this.secondPass(tok, next);
      if (tok.sentbreak) return true;
    }
    return false;
  }

  /** `_match_potential_end_contexts`: each candidate end with the text of the word before it and the token after. */
  private *potentialEndContexts(text: string): Generator<{ match: RegExpExecArray; context: string }> {
    let prevStart = 0;
    let prevStop = 0;
    let prevMatch: RegExpExecArray | null = null;
    const contextOf = (m: RegExpExecArray, start: number, stop: number): string =>
      text.slice(start, stop) + m[0] + (m.groups?.after ?? "");
    for (const match of text.matchAll(PERIOD_CONTEXT)) {
      const before = text.slice(prevStop, match.index);
      let lastSpace = 0;
      for (let i = before.length - 1; i >= 0; i--) {
        if (ASCII_WHITESPACE.has(before[i]!)) {
          lastSpace = i;
          break;
        }
      }
      // the reference treats whitespace at index 0 like no whitespace at all
      const wordStart = lastSpace ? lastSpace + prevStop + 1 : prevStart;
      if (prevMatch && prevStop <= wordStart) {
        yield { match: prevMatch, context: contextOf(prevMatch, prevStart, prevStop) };
      }
      prevMatch = match as RegExpExecArray;
      prevStart = wordStart;
      prevStop = match.index;
    }
    if (prevMatch) yield { match: prevMatch, context: contextOf(prevMatch, prevStart, prevStop) };
  }

  private slicesFromText(text: string): Array<[number, number]> {
    const slices: Array<[number, number]> = [];
    let lastBreak = 0;
    for (const { match, context } of this.potentialEndContexts(text)) {
      if (this.containsSentbreak(context)) {
        const end = match.index + match[0].length;
        slices.push([lastBreak, end]);
        const nextIdx = match.indices?.groups?.next;
        lastBreak = nextIdx ? nextIdx[0] : end;
      }
    }
    slices.push([lastBreak, text.replace(TRAILING_SPACE, "").length]);
    return slices;
  }

  private realignBoundaries(text: string, slices: Array<[number, number]>): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let realign = 0;
    for (let k = 0; k < slices.length; k++) {
      const [s1, e1] = slices[k]!;
      const start1 = s1 + realign;
      const next = slices[k + 1];
      if (next === undefined) {
        if (text.slice(start1, e1).length > 0) out.push([start1, e1]);
        continue;
      }
      const m = BOUNDARY_REALIGNMENT.exec(text.slice(next[0], next[1]));
      if (m) {
        out.push([start1, next[0] + m[0].replace(TRAILING_SPACE, "").length]);
        realign = m[0].length;
      } else {
        realign = 0;
        if (text.slice(start1, e1).length > 0) out.push([start1, e1]);
      }
    }
    return out;
  }
}
