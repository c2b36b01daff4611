// vitest globalSetup: one visible line when the Punkt exactness tests will skip, saying how to run them.
import { findPunktDir, nltkDataPath } from "./metrics/meteor/punkt.js";

export default function setup(): void {
  if (findPunktDir() !== null) return;
  console.log(
    "[@dep/eval] skipping the tests of NLTK's exact METEOR / Punkt numbers: no tokenizers/punkt_tab/english in " +
      `${nltkDataPath().join(", ")}. To run them, put NLTK's punkt_tab data in one of those folders ` +
      "(python3 -m nltk.downloader punkt_tab) or set NLTK_DATA to a folder that has it.",
  );
}
