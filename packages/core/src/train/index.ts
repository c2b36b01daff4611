export * from "./checkpoint.js";
export { dumpGrads } from "./dumpGrads.js";
export * from "./frozenLlm.js";
export {
  DEFAULT_GRAD_SOURCE,
  type GradEngineKind,
  type GradSourceChoice,
  type OpenGradSource,
  openGradSource,
  resolvedGradEngine,
  type TrainingModel,
} from "./gradSource.js";
export { type HeldOutOptions, heldOutLoss } from "./heldOut.js";
export { type ImportResult, importReferenceCheckpoint, REFERENCE_ADDED_TOKENS } from "./importReference.js";
export { heldOutLossToFile, type LossFileOptions, type LossLine, readLossLines } from "./lossFile.js";
export {
  AdamW,
  type AdamWConfig,
  clipGradNorm,
  decays,
  REFERENCE_ADAMW,
  scaleGrads,
  zeroGrads,
} from "./optimizer.js";
export { promptInputFor, trimSampleX } from "./promptInput.js";
export { modelOfCheckpoint, recipeOf, type TrainedRecipe } from "./recipe.js";
export { type LinearSchedule, linearWarmupDecay } from "./schedule.js";
export * from "./state.js";
export {
  runSample,
  type SaeRows,
  type SampleData,
  type StepOptions,
  type StepResult,
  type TrainingLlm,
  targetTokens,
} from "./step.js";
export {
  epochOrder,
  initialMarkerRows,
  type LossScaling,
  loadTrainingSamples,
  lossWeights,
  type PromptAlignment,
  runInitialParams,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  train,
} from "./trainer.js";
export { architectureOf, DEP_VARIANTS, type DepVariant, slotKindsOf, variantOf } from "./variants.js";
