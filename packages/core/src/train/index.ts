export * from "./checkpoint.js";
export { dumpGrads } from "./dumpGrads.js";
export * from "./frozenLlm.js";
export { type HeldOutOptions, heldOutLoss } from "./heldOut.js";
export { heldOutLossToFile, type LossFileOptions, type LossLine, readLossLines } from "./lossFile.js";
export { AdamW, type AdamWConfig, REFERENCE_ADAMW, zeroGrads } from "./optimizer.js";
export { promptInputFor, trimSampleX } from "./promptInput.js";
export { type LinearSchedule, linearWarmupDecay } from "./schedule.js";
export * from "./state.js";
export {
  runSample,
  type SampleData,
  type StepOptions,
  type StepResult,
  type TrainingLlm,
  targetTokens,
} from "./step.js";
export {
  epochOrder,
  loadTrainingSamples,
  runInitialParams,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  train,
} from "./trainer.js";
export { architectureOf, DEP_VARIANTS, type DepVariant, slotKindsOf, variantOf } from "./variants.js";
