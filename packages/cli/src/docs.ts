#!/usr/bin/env node
// Writes docs/CLI.md from the parser.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cliReference } from "./reference.js";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "docs", "CLI.md");
writeFileSync(out, cliReference());
console.log(out);
