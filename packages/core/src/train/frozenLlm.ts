// A checkpoint's projectors target one frozen LLM: its config records the GGUF's sha256. Another LLM of the
// same width loads fine and silently produces other numbers, so a mismatch is refused unless accepted.
import { DepError } from "@dep/native-cuda";
import { modelFileSha256 } from "../assets.js";
import type { ModelCheckpointConfig } from "./checkpoint.js";

export async function assertFrozenLlm(
  config: ModelCheckpointConfig,
  checkpoint: string,
  modelPath: string,
  o: { accept: boolean; warn: (message: string) => void },
): Promise<void> {
  const want = config.llm.sha256;
  if (!want) return; // checkpoints from elsewhere do not record it
  const got = await modelFileSha256(modelPath);
  if (got === want) return;
  const what =
    `${checkpoint} was trained with the frozen LLM ${config.llm.file} (sha256 ${want.slice(0, 16)}...) ` +
    `but ${modelPath} has sha256 ${got.slice(0, 16)}...`;
  if (!o.accept)
    throw new DepError(
      "DEP_CHECKPOINT",
      `${what}; pass the LLM it was trained with as --model, or --accept-other-llm to use this one anyway`,
    );
  o.warn(`dep: warning: ${what}; using it anyway (--accept-other-llm)`);
}
