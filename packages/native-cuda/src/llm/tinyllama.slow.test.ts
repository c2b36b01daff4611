// The real TinyLlama GGUF (slow tier: DEP_SLOW_TESTS=1; the model is taken from $DEP_HOME, see `pnpm assets`).
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Llm } from "./Llm.js";

const slow = process.env.DEP_SLOW_TESTS === "1";
const modelPath = join(
  process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"),
  "models",
  "tinyllama-1.1b-chat-iq2_xxs.gguf",
);

describe.runIf(slow)("TinyLlama-1.1B-Chat (slow)", () => {
  it("answers a chat-templated question", async () => {
    expect(existsSync(modelPath), `${modelPath} missing: run \`pnpm assets\``).toBe(true);
    const llm = await Llm.load(modelPath, { threads: 2, contextSize: 1024 });
    try {
      expect(llm.info.arch).toBe("llama");
      expect(llm.info.nEmbd).toBe(2048);
      expect(llm.info.nLayer).toBe(22);
      const prompt = llm.applyChatTemplate([{ role: "user", content: "What is the capital of France?" }]);
      expect(prompt).toContain("<|user|>");
      const res = await llm.complete([{ text: prompt }], { maxTokens: 24 });
      expect(res.text.trim().length).toBeGreaterThan(0);
      expect(res.tokens.length).toBeGreaterThan(0);
      console.log(
        `TinyLlama: ${JSON.stringify(res.text)} (${res.timings.generatedTokensPerSecond.toFixed(1)} tok/s)`,
      );
    } finally {
      await llm.dispose();
    }
  }, 300_000);
});
