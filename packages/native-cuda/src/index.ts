export { type BackendInfo, backendInfo } from "./backend.js";
export { DepError, fromNative } from "./errors.js";
export * from "./kernels.js";
export { type BatchEvent, BatchSession, type SlotSampling } from "./llm/BatchSession.js";
export {
  defaultGradEngineDtype,
  GradEngine,
  type GradEngineDtype,
  type GradEngineInfo,
  type GradEngineOptions,
  type GradEngineResult,
  gradEngineBuild,
  gradEngineGemmProbe,
} from "./llm/GradEngine.js";
export { cpuRepackDefault, Generation, Llm, quantizeModel, truncateTokens } from "./llm/Llm.js";
export type {
  BatchRequestOptions,
  ChatMessage,
  GenerateBatchOptions,
  GenerateOptions,
  GenerationResult,
  LlmInfo,
  LlmLoadOptions,
  LossAndGradResult,
  Segment,
} from "./llm/types.js";
export { TextStreamer } from "./llm/utils/textStreamer.js";
export { addonPath } from "./native.js";
