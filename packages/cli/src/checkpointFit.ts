// The checks every command that runs a checkpoint through a frozen LLM makes first.
import { assertFrozenLlm, type ModelCheckpointConfig } from "@dep/core";
import { DepError } from "@dep/native-cuda";
import { Option } from "commander";

/** `--accept-other-llm`: run a checkpoint on another LLM than the one it recorded, with a warning. */
export const acceptOtherLlmOption = () =>
  new Option(
    "--accept-other-llm",
    "use --model even when it is not the LLM the checkpoint was trained with",
  ).default(false);

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

/**
 * Both checks for checkpoints about to run on `llm` (loaded from `modelPath`): the width, then the frozen
 * LLM's sha256 they recorded (an error unless `accept`, then one warning). The file is hashed once per recorded
 * sha256, not once per checkpoint (a run's epochs share it). Call after the load: a file llama.cpp cannot read
 * is a model error (exit 4), not another LLM.
 */
export async function assertCheckpointsRunOn(
  checkpoints: ReadonlyArray<{ config: ModelCheckpointConfig; dir: string }>,
  llm: { info: { nEmbd: number } },
  modelPath: string,
  accept: boolean,
): Promise<void> {
  // the width first: another width can never run, whatever --accept-other-llm says
  for (const { config, dir } of checkpoints) assertCheckpointFitsLlm(config, dir, llm, modelPath);
  const checked = new Set<string | null>();
  for (const { config, dir } of checkpoints) {
    if (checked.has(config.llm.sha256)) continue;
    checked.add(config.llm.sha256);
    await assertFrozenLlm(config, dir, modelPath, { accept, warn: console.error });
  }
}

/** `assertCheckpointsRunOn` for one checkpoint. */
export const assertCheckpointRunsOn = (
  config: ModelCheckpointConfig,
  dir: string,
  llm: { info: { nEmbd: number } },
  modelPath: string,
  accept: boolean,
) => assertCheckpointsRunOn([{ config, dir }], llm, modelPath, accept);
