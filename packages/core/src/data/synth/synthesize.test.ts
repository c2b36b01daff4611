import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { synthesize } from "./synthesize.js";

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "dep-synth-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("synthesize", () => {
  it("writes a small population", async () => {
    const d = await tmp();
    const res = await synthesize({ users: 20, seed: 1, outDir: join(d, "ds"), raw: true });
    console.log(res);
    const test = await readFile(join(d, "ds/main/Books/test.jsonl"), "utf8");
    const first = JSON.parse(test.split("\n")[0]!);
    console.log(
      first.profile
        .slice(0, 3)
        .map((r: { text: string }) => r.text)
        .join("\n\n"),
    );
    console.log((await readFile(join(d, "ds/meta/Books/meta.jsonl"), "utf8")).split("\n")[0]);
  });
});
