// Where tests and benchmarks find NLTK's Punkt English parameters: $NLTK_DATA, else the shared data folder
// beside the repository (as CI lays it out).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The punkt_tab English directory, or undefined when neither place has it (METEOR then warns once). */
export function sharedPunktDir(): string | undefined {
  const roots = [
    process.env.NLTK_DATA,
    // this file is packages/eval/{src,dist}/testing/paths.*: four levels up is the repository root
    resolve(
      fileURLToPath(new URL(".", import.meta.url)),
      "..",
      "..",
      "..",
      "..",
      "..",
      "shared",
      "nltk_data",
    ),
  ];
  for (const root of roots) {
    const dir = root && join(root, "tokenizers", "punkt_tab", "english");
    if (dir && existsSync(dir)) return dir;
  }
  return undefined;
}
