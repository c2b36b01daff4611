// Paths the tests use. NLTK's Punkt parameters are found as NLTK finds them ($NLTK_DATA, ~/nltk_data, the
// system folders: see findPunktDir); without them the tests that check NLTK's exact numbers skip, and
// src/punktNotice.ts says so once per run.
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "vitest";
import { findPunktDir } from "./metrics/meteor/punkt.js";

export const PACKAGE_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
export const VECTORS_DIR = join(PACKAGE_ROOT, "test-vectors");
/** NLTK's punkt_tab English folder, or undefined when no NLTK data folder has it. */
export const PUNKT_DIR: string | undefined = findPunktDir() ?? undefined;
/** `it` for a test that needs NLTK's Punkt parameters (skipped without them). */
export const itWithPunkt: ReturnType<typeof it.skipIf> = it.skipIf(PUNKT_DIR === undefined);
