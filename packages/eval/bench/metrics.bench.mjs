// Times `evaluatePredictions` on N synthetic pairs of ~60-word review-like texts (default 10,000).
//   pnpm --filter @dep/eval bench            (builds, then runs)
//   node bench/metrics.bench.mjs [N]         (after `pnpm build`)
// Punkt parameters: $NLTK_DATA, else ../shared/nltk_data beside the repository (as in CI).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bleu, defaultWordNetDir, evaluatePredictions, formatReport, meteor, rouge } from "../dist/index.js";
import { sharedPunktDir } from "../dist/testing/index.js";

const n = Number(process.argv[2] ?? 10_000);
const punktDir = sharedPunktDir();

// deterministic xorshift32
let state = 2463534242;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

// vocabulary: single-word WordNet lemmas plus function words and inflections
const lemmas = readFileSync(join(defaultWordNetDir(), "index.noun"), "latin1")
  .split("\n")
  .filter((l) => /^[a-z]+ /.test(l))
  .map((l) => l.slice(0, l.indexOf(" ")));
const vocab = Array.from({ length: 3000 }, () => pick(lemmas));
const func =
  "the a an it is was to of and or but not in on at for with this that i you we they my very really".split(
    " ",
  );
const suffixes = ["", "", "", "s", "ed", "ing", "ly", "er"];
const word = () => (rand() < 0.45 ? pick(func) : pick(vocab) + pick(suffixes));

function text(words) {
  const out = [];
  let start = true;
  for (let i = 0; i < words.length; i++) {
    let w = words[i];
    if (start) w = w[0].toUpperCase() + w.slice(1);
    start = false;
    if (rand() < 0.08 || i === words.length - 1) {
      w += pick([".", ".", "!", "?"]);
      start = true;
    } else if (rand() < 0.06) w += ",";
    else if (rand() < 0.02) w = `"${w}"`;
    else if (rand() < 0.01) w += "'s";
    out.push(w);
  }
  return out.join(" ");
}

const lines = [];
for (let i = 0; i < n; i++) {
  const ref = Array.from({ length: 50 + Math.floor(rand() * 20) }, word);
  const pred = ref.map((w) => (rand() < 0.5 ? w : word())).filter(() => rand() > 0.1);
  lines.push(
    JSON.stringify({
      prediction: text(pred),
      reference: text(ref),
      category: pick(["books", "music", "toys"]),
    }),
  );
}
const dir = mkdtempSync(join(tmpdir(), "dep-eval-bench-"));
const file = join(dir, "preds.jsonl");
writeFileSync(file, `${lines.join("\n")}\n`);
const records = lines.map((l) => JSON.parse(l));
const preds = records.map((r) => r.prediction);
const refs = records.map((r) => r.reference);

const time = (label, fn) => {
  const t0 = performance.now();
  const r = fn();
  console.log(`${label.padEnd(22)} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return r;
};
console.log(`pairs: ${n}, mean words per text: ${(refs.join(" ").split(" ").length / n).toFixed(1)}`);
time("bleu", () => bleu(preds, refs));
time("rouge (+bootstrap)", () => rouge(preds, refs));
time("meteor (+WordNet load)", () => meteor(preds, refs, { punktDir }));
const t0 = performance.now();
const report = await evaluatePredictions(file, { punktDir });
const secs = (performance.now() - t0) / 1000;
console.log(formatReport(report));
console.log(`\nevaluatePredictions (${n} pairs, no BERTScore): ${secs.toFixed(2)} s`);
