import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export function readVersions(): { dep: string; node: string } {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve("@dep/cli/package.json"), "utf8")) as {
    version: string;
  };
  return { dep: pkg.version, node: process.versions.node };
}
