// The check every command that runs a checkpoint through a frozen LLM makes first.
import type { ModelCheckpointConfig } from "@dep/core";
import { DepError } from "@dep/native-cuda";

/** Throws DEP_CHECKPOINT when the checkpoint projects to another width than the LLM's embeddings. */
export function assertCheckpointFitsLlm(
  config: ModelCheckpointConfig,
  checkpointDir: string,
  llm: { info: { nEmbd: number } },
  modelPath: string,
): void {
  if (config.H !== llm.info.nEmbd) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${checkpointDir} projects to width ${config.H} but ${modelPath} has nEmbd ${llm.info.nEmbd}: use the LLM it was trained with (${config.llm.file})`,
    );
  }
}
