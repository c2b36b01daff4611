import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cliReference } from "./reference.js";

describe("docs/CLI.md", () => {
  it("is the reference generated from the parser (run `pnpm --filter @dep/cli docs` after changing options)", () => {
    const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "docs", "CLI.md");
    expect(readFileSync(file, "utf8")).toBe(cliReference());
  });
});
