import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { itWithPunkt, PUNKT_DIR } from "../../testPaths.js";
import { meteor, punktTokenizer, singleMeteorScore } from "./meteor.js";
import { porterStem } from "./porter.js";
import { findPunktDir, nltkDataPath } from "./punkt.js";
import { sharedWordNet } from "./wordnet.js";
import { treebankWordTokenize, wordTokenize } from "./wordTokenize.js";

const punkt = PUNKT_DIR ? punktTokenizer(PUNKT_DIR) : null;

describe("METEOR public vectors (METRICS.md)", () => {
  const cases: Array<[string, string, number]> = [
    [
      "It is a guide to action which ensures that the military always obeys the commands of the party",
      "It is a guide to action that ensures that the military will forever heed Party commands",
      0.6944444444,
    ],
    ["on the mat sat the cat", "The cat sat on the mat", 0.5],
    ["The cat was sat on the mat", "The cat sat on the mat", 0.9653916211],
    ["creates or updates a virtual machine scale set", "create or update a vm set", 0.7806451613],
  ];
  for (const [pred, ref, expected] of cases) {
    itWithPunkt(`scores "${pred}"`, () => {
      // METRICS.md gives 10 decimals; the tolerance there is 1e-9
      expect(Math.abs(meteor([pred], [ref], { punktDir: PUNKT_DIR }).score - expected)).toBeLessThan(1e-9);
    });
  }

  itWithPunkt("averages with numpy's mean and names NLTK 3.10 in the signature", () => {
    const r = meteor(
      cases.map((c) => c[0]),
      cases.map((c) => c[1]),
      { punktDir: PUNKT_DIR },
    );
    expect(r.perPair).toHaveLength(4);
    expect(r.score).toBeCloseTo((0.6944444444 + 0.5 + 0.9653916211 + 0.7806451613) / 4, 9);
    expect(r.signature).toContain("nltk:3.10");
    expect(r.signature).toContain("|punkt:yes|");
  });

  it("is 0 without matches or with an empty side", () => {
    expect(singleMeteorScore(["this", "is", "a", "cat"], ["non", "matching", "hypothesis"])).toBe(0);
    expect(singleMeteorScore([], ["a"])).toBe(0);
    expect(singleMeteorScore(["a"], [])).toBe(0);
  });

  it("matches stems, then WordNet synonyms of the stemmed leftovers", () => {
    // 'cats' ~ 'cat' through the Porter stage
    expect(singleMeteorScore(["cat"], ["cats"])).toBeGreaterThan(0);
    // 'car' ~ 'auto' through WordNet
    expect(singleMeteorScore(["auto"], ["car"])).toBeGreaterThan(0);
    // NLTK quirk kept: the reference word reaches the WordNet stage stemmed ('automobil'), so no match
    expect(singleMeteorScore(["automobile"], ["car"])).toBe(0);
  });
});

describe("Porter stemmer (NLTK_EXTENSIONS)", () => {
  // outputs of NLTK's PorterStemmer().stem, including its extensions to the original algorithm
  const expected: Record<string, string> = {
    caresses: "caress",
    ponies: "poni",
    ties: "tie",
    dies: "die",
    cats: "cat",
    agreed: "agre",
    disabled: "disabl",
    matting: "mat",
    mating: "mate",
    happy: "happi",
    skies: "sky",
    dying: "die",
    lying: "lie",
    news: "news",
    innings: "inning",
    proceed: "proceed",
    exceed: "exceed",
    generously: "gener",
    relational: "relat",
    conditional: "condit",
    radically: "radic",
    hopefulness: "hope",
    electrical: "electr",
    archaeology: "archaeolog",
    analogies: "analog",
    fully: "fulli",
    spied: "spi",
    died: "die",
    by: "by",
    sly: "sli",
    generalizations: "gener",
    traditional: "tradit",
    Running: "run",
    hoping: "hope",
    hopping: "hop",
    filing: "file",
    filling: "fill",
  };
  it("stems tricky words like NLTK", () => {
    for (const [w, s] of Object.entries(expected)) expect(porterStem(w), w).toBe(s);
  });
});

describe("Punkt sentence splitting (punkt_tab English)", () => {
  // outputs of NLTK's PunktSentenceTokenizer with the punkt_tab English parameters
  const cases: Array<[string, string[]]> = [
    [
      "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3. Then he left! Did he? Yes.",
      [
        "Mr. Smith went to Washington.",
        "He arrived at 5 p.m. on Jan. 3.",
        "Then he left!",
        "Did he?",
        "Yes.",
      ],
    ],
    [
      "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.",
      ["Good muffins cost $3.88\nin New York.", "Please buy me\ntwo of them.", "Thanks."],
    ],
    [
      "I met Dr. Jones at St. Mary's, i.e. the hospital. We talked about the U.S. economy vs. the E.U. one.",
      [
        "I met Dr. Jones at St. Mary's, i.e.",
        "the hospital.",
        "We talked about the U.S. economy vs. the E.U.",
        "one.",
      ],
    ],
    [
      '(It works.) Really well. "Great product." I recommend it.',
      ["(It works.)", "Really well.", '"Great product."', "I recommend it."],
    ],
    ["J. R. R. Tolkien wrote it. It is good.", ["J. R. R. Tolkien wrote it.", "It is good."]],
  ];
  itWithPunkt("keeps abbreviations and initials, realigns closing punctuation", () => {
    if (!punkt) throw new Error("punkt parameters missing");
    for (const [text, sents] of cases) expect(punkt.tokenize(text)).toEqual(sents);
  });

  it("finds parameters where NLTK looks: $NLTK_DATA entries first, then ~/nltk_data, then the system", () => {
    const tmp = mkdtempSync(join(tmpdir(), "dep-nltk-"));
    const punktIn = (dataDir: string) => {
      const dir = join(dataDir, "tokenizers", "punkt_tab", "english");
      mkdirSync(dir, { recursive: true });
      for (const f of ["abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"])
        writeFileSync(join(dir, f), "");
      return dir;
    };
    try {
      const home = join(tmp, "home");
      const inHome = punktIn(join(home, "nltk_data"));
      const second = punktIn(join(tmp, "second"));
      const empty = join(tmp, "empty");
      mkdirSync(empty);
      expect(findPunktDir(undefined, { HOME: home })).toBe(inHome);
      expect(
        findPunktDir(undefined, { HOME: home, NLTK_DATA: `${empty}${delimiter}${join(tmp, "second")}` }),
      ).toBe(second);
      expect(nltkDataPath({ HOME: home, NLTK_DATA: empty })).toEqual([
        empty,
        join(home, "nltk_data"),
        "/usr/share/nltk_data",
        "/usr/local/share/nltk_data",
        "/usr/lib/nltk_data",
        "/usr/local/lib/nltk_data",
      ]);
      // a folder missing one of the four files does not count
      rmSync(join(inHome, "collocations.tab"));
      const systemHasIt = nltkDataPath({})
        .slice(-4)
        .some((d) => findPunktDir(join(d, "tokenizers", "punkt_tab", "english")));
      if (!systemHasIt) expect(findPunktDir(undefined, { HOME: home })).toBeNull();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("word_tokenize (NLTK 3.10)", () => {
  // NLTK's word_tokenize docstring, the 3.10 tests of the quote and dash fixes, and NLTK outputs
  const cases: Array<[string, string[]]> = [
    [
      "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.",
      [
        "Good",
        "muffins",
        "cost",
        "$",
        "3.88",
        "in",
        "New",
        "York",
        ".",
        "Please",
        "buy",
        "me",
        "two",
        "of",
        "them",
        ".",
        "Thanks",
        ".",
      ],
    ],
    ["'Hard' to tell", ["'", "Hard", "'", "to", "tell"]],
    ["He said 'hello' to me", ["He", "said", "'", "hello", "'", "to", "me"]],
    ["It's more'n enough.", ["It", "'s", "more", "'n", "enough", "."]],
    [
      "The food—which was delicious—reminded me of home.",
      ["The", "food", "—", "which", "was", "delicious", "—", "reminded", "me", "of", "home", "."],
    ],
    ["he's\t a good boy.", ["he", "'s", "a", "good", "boy", "."]],
    [
      "I cannot believe they're gonna sell 3,000 units (approx.) for $4.50 each!",
      [
        "I",
        "can",
        "not",
        "believe",
        "they",
        "'re",
        "gon",
        "na",
        "sell",
        "3,000",
        "units",
        "(",
        "approx",
        ".",
        ")",
        "for",
        "$",
        "4.50",
        "each",
        "!",
      ],
    ],
    [
      "\"Quoted,\" she said: 'yes' -- or ``maybe''...",
      [
        "``",
        "Quoted",
        ",",
        "''",
        "she",
        "said",
        ":",
        "'",
        "yes",
        "'",
        "--",
        "or",
        "``",
        "maybe",
        "''",
        "...",
      ],
    ],
  ];
  itWithPunkt("tokenizes quotes, contractions, dashes and punctuation like NLTK", () => {
    for (const [text, toks] of cases) expect(wordTokenize(text, punkt), text).toEqual(toks);
  });

  it("without Punkt treats the text as one sentence", () => {
    expect(wordTokenize("Hi there. Bye now.", null)).toEqual(["Hi", "there.", "Bye", "now", "."]);
    expect(treebankWordTokenize("don't")).toEqual(["do", "n't"]);
  });
});

describe("WordNet 3.0", () => {
  it("uses single-pass morphy (NLTK >= 3.9)", () => {
    const wn = sharedWordNet();
    expect(wn.morphy("cats", "n")).toEqual(["cat"]);
    expect(wn.morphy("catss", "n")).toEqual([]);
    expect(wn.morphy("geese", "n")).toEqual(["goose"]);
    expect(wn.synonyms("car").has("automobile")).toBe(true);
    expect([...wn.synonyms("car")].some((s) => s.includes("_"))).toBe(false);
  });
});
