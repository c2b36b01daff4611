// BERTScore's default token encoder: any GGUF model through llama.cpp — its last hidden layer, one vector
// per token (`Llm.embedTokens`), with the BOS/EOS markers weighted 0 as bert_score does with CLS/SEP.
import { basename } from "node:path";
import { DepError, Llm } from "@dep/native-cuda";
import type { TokenEmbeddings, TokenEncoder } from "./bertscore.js";

/** The part of `Llm` the encoder uses. */
export interface TokenEmbeddingLlm {
  readonly info: { bos: number; eos: number; nCtx: number };
  tokenize(text: string, o?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  embedTokens(tokens: Int32Array): Promise<{ tokens: Int32Array; embeddings: Float32Array; width: number }>;
}

/** Wraps a loaded model; texts longer than its context are cut to it (and the cut is counted). */
export function llmTokenEncoder(llm: TokenEmbeddingLlm, id: string): TokenEncoder & { truncated: number } {
  const encoder = {
    id,
    truncated: 0,
    async encode(texts: string[]): Promise<TokenEmbeddings[]> {
      const out: TokenEmbeddings[] = [];
      for (const text of texts) {
        let ids = llm.tokenize(text, { addSpecial: true, parseSpecial: false });
        if (ids.length > llm.info.nCtx) {
          ids = ids.slice(0, llm.info.nCtx);
          encoder.truncated++;
        }
        const r = await llm.embedTokens(ids);
        // NaN weights give NaN states, which bert_score's cosine turns into a plausible-looking 0
        const bad = r.embeddings.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0)
          throw new DepError(
            "DEP_MODEL_OUTPUT",
            `${id}: the model's token states are not finite (value ${r.embeddings[bad]} for text ${out.length + 1}); its weights are broken: use another --bertscore-model`,
          );
        out.push({
          vectors: r.embeddings,
          dim: r.width,
          ids: r.tokens,
          specialMask: Uint8Array.from(r.tokens, (t) => (t === llm.info.bos || t === llm.info.eos ? 1 : 0)),
        });
      }
      return out;
    },
  };
  return encoder;
}

/** Loads a GGUF model as a BERTScore encoder; call dispose() when done. */
export async function loadGgufTokenEncoder(
  path: string,
  o: { threads: number; contextSize?: number },
): Promise<TokenEncoder & { truncated: number; dispose(): Promise<void> }> {
  const llm = await Llm.load(path, { threads: o.threads, contextSize: o.contextSize ?? 4096 });
  return Object.assign(llmTokenEncoder(llm, `gguf:${basename(path)}:last-layer`), {
    dispose: () => llm.dispose(),
  });
}
