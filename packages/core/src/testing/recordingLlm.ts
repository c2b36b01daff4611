// A real LLM wrapped for generation tests: every generateBatch call's prompts are recorded as text, and an
// AbortController can be fired as call `abortAt` starts (a kill in the middle of a stage).
import type { Llm, Segment } from "@dep/native-cuda";
import type { GeneratingLlm } from "../generate/generate.js";

export function recordingLlm(
  model: Llm,
  o: { abortAt?: number; abort?: AbortController } = {},
): { llm: GeneratingLlm; calls: string[][] } {
  const calls: string[][] = [];
  const llm: GeneratingLlm = {
    info: model.info,
    tokenize: (text, options) => model.tokenize(text, options),
    applyChatTemplate: (messages, options) => model.applyChatTemplate(messages, options),
    detokenize: (tokens, options) => model.detokenize(tokens, options),
    generateBatch: (requests, options) => {
      // prompts arrive as token segments (the builder's tokenization): read them back as text
      const text = (s: Segment) =>
        "text" in s ? s.text : "tokens" in s ? model.detokenize(s.tokens, { unparseSpecial: true }) : "";
      calls.push(requests.map((r: readonly Segment[]) => r.map(text).join("")));
      const result = model.generateBatch(requests, options);
      if (calls.length === o.abortAt) o.abort?.abort();
      return result;
    },
  };
  return { llm, calls };
}
