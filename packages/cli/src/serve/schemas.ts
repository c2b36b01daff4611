// Request bodies of `dep serve`, checked with zod: OpenAI's fields (unknown ones are ignored, as OpenAI's
// own server does) and dep's `dep` object (strict: a misspelt field is an error).
import { SERVED_METHODS } from "@dep/core";
import { z } from "zod";

const item = z.union([
  z.strictObject({ asin: z.string().min(1) }),
  z.strictObject({ title: z.string().min(1), description: z.string() }),
]);

export const depObject = z.strictObject({
  item: item.optional(),
  category: z.string().min(1).optional(),
  rating: z.union([z.number().finite(), z.string().min(1)]).optional(),
  title: z.string().optional(),
  method: z.enum(SERVED_METHODS).optional(),
});

const content = z.union([
  z.string(),
  z
    .array(z.object({ type: z.literal("text"), text: z.string() }))
    .transform((parts) => parts.map((p) => p.text).join("")),
]);

const message = z.object({
  // OpenAI's newer name for the system role; chat templates know "system"
  role: z
    .enum(["system", "developer", "user", "assistant"])
    .transform((r) => (r === "developer" ? "system" : r)),
  content,
});

const sampling = {
  model: z.string().optional(),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  // not OpenAI's, but vLLM's and llama-server's (-1 and 0: off)
  top_k: z.number().int().min(-1).nullish(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish(),
  n: z.literal(1).nullish(),
  user: z.string().min(1).optional(),
  dep: depObject.optional(),
};

export const chatRequest = z.object({
  ...sampling,
  max_completion_tokens: z.number().int().min(1).nullish(),
  messages: z.array(message),
});

export const completionRequest = z.object({
  ...sampling,
  prompt: z.string(),
});

export const reviewRequest = z.strictObject({
  asin: z.string().min(1),
  rating: z.number().finite().min(0).max(10),
  title: z.string(),
  text: z.string().min(1),
  timestamp: z.number().int().nonnegative().optional(),
  category: z.string().min(1).optional(),
});

export type ChatRequest = z.infer<typeof chatRequest>;
export type CompletionRequest = z.infer<typeof completionRequest>;
export type ReviewRequest = z.infer<typeof reviewRequest>;
