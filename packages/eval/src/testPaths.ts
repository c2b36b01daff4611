// Paths the tests use. Punkt parameters come from the shared data beside the clone (`../shared`
// relative to the repository root), never from an absolute path.
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
export const REPO_ROOT = resolve(PACKAGE_ROOT, "..", "..");
export const SHARED_NLTK_DATA = resolve(REPO_ROOT, "..", "shared", "nltk_data");
export const PUNKT_DIR = join(SHARED_NLTK_DATA, "tokenizers", "punkt_tab", "english");
export const VECTORS_DIR = join(PACKAGE_ROOT, "test-vectors");
