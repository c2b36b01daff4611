// @dep/core: the DEP method in TypeScript. This module: data in (DPL / Amazon Reviews'23 / synthetic),
// review embeddings, the peer index and difference embeddings (SPEC-DEP §1-3).

export * from "./assets.js";
export { Bm25, bm25Tokens } from "./baselines/bm25.js";
export {
  DPL_DEFAULT_RETRIEVED,
  type DplPlan,
  type DplStageLine,
  dplDifferencesPathFor,
  dplPlan,
  dplReviewPrompt,
  dplSummariesPathFor,
  dplSummaryPrompt,
} from "./baselines/dpl.js";
export type { DplStagePrompt } from "./baselines/dplPrompts.js";
export { dplSplitIndex } from "./baselines/dplSelect.js";
export {
  DEFAULT_SUMMARY_TOKENS,
  type ProfileLine,
  profilesPathFor,
  SUMMARY_REQUEST,
  SUMMARY_SYSTEM_TEXT,
  type SummaryPrompt,
  summaryPrompt,
  UserProfiles,
} from "./baselines/pag.js";
export { ragPromptInput } from "./baselines/rag.js";
// data
export { discoverFiles, type SourceFile, splitFromName, warnInvalidUtf8 } from "./data/files.js";
export {
  type DatasetReport,
  type Distribution,
  describeDataset,
  distribution,
  inspectDataset,
} from "./data/inspect.js";
export { type DatasetManifest, type LoadDatasetOptions, loadDataset, readManifest } from "./data/load.js";
export { type PrepareAmazonOptions, type PrepareAmazonResult, prepareAmazon } from "./data/prepare.js";
export {
  type PrepareStats,
  prepareReference,
  type RawMeta,
  type RawReview,
} from "./data/prepareReference.js";
export { type DataSource, dataSourceOptions, describeDataSource } from "./data/source.js";
export {
  type SynthesizeOptions,
  type SynthesizeResult,
  synthesize,
  type UserStyle,
  type UserTraits,
} from "./data/synth/synthesize.js";
export {
  type Dataset,
  type DplRow,
  type ItemMeta,
  itemKey,
  type Review,
  type SkipReport,
  SPLITS,
  type Split,
  sampleId,
} from "./data/types.js";
export { DatasetWriter, splitRows } from "./data/write.js";
// embeddings
export {
  datasetTexts,
  type EmbedDatasetOptions,
  type EmbedDatasetResult,
  embedDataset,
  itemText,
} from "./embed/embedDataset.js";
export {
  createEmbedder,
  createGgufEmbedder,
  createPrecomputedEmbedder,
  createUseLiteEmbedder,
  type Embedder,
  type EmbedderOptions,
  type GgufEmbeddingBackend,
  type GgufEmbeddingBackendFactory,
  l2normalizeRows,
  nativeGgufBackend,
  REFERENCE_EMBED_MAX_TOKENS,
  USE_LITE_MAX_CHARS,
} from "./embed/embedders.js";
export {
  type EmbeddingDtype,
  EmbeddingStore,
  readStoreMeta,
  type StoreMeta,
  textKey,
} from "./embed/store.js";
export { assertStoreFits, stateTrainedOn, type TrainedOn } from "./embed/storeFit.js";
export * from "./generate/generate.js";
// io
export {
  AtomicLineWriter,
  recoverReplacedDir,
  writeDirAtomic,
  writeFileAtomic,
  writeJsonAtomic,
} from "./io/atomic.js";
export {
  bf16ToF32,
  DTYPE_BYTES,
  type Dtype,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsHeader,
  SafetensorsWriter,
  type TensorData,
  type TensorInfo,
  type TensorInput,
  type TypedArray,
  toFloat32,
  typedView,
  writeSafetensors,
} from "./io/safetensors.js";
export { modelFingerprint } from "./model/fingerprint.js";
export * from "./model/index.js";
// peers and difference embeddings
export {
  computeDifferences,
  DIFF_WEIGHTINGS,
  type DiffCsr,
  type DiffWeighting,
  peerWeights,
  sliceCsr,
} from "./peers/diff.js";
export { buildPeerIndex, type PeerIndex, type Reviewers, userKeyOf } from "./peers/peerIndex.js";
export {
  buildDifferenceSamples,
  type DifferencePlan,
  type DifferenceSamples,
  type DifferenceSamplesOptions,
  type DiffKernel,
  diffSidecarPath,
  MAX_HISTORY,
  materializeDifferences,
  planDifferences,
  type SampleInfo,
  SLOT_ROWS,
  type WriteDiffFileResult,
  writeDiffFile,
} from "./peers/samples.js";
export * from "./prompt/index.js";
export {
  type ItemPromptRequest,
  type ItemRef,
  MARKER_PATTERN,
  type MessagesPromptRequest,
  type NewReview,
  Personalizer,
  type PersonalizerOptions,
  SERVED_METHODS,
  type ServePrompt,
  type UserSummary,
} from "./serve/personalizer.js";
export { GenerationScheduler, type SchedulerOptions, type SchedulerRequest } from "./serve/scheduler.js";
export { type MergeResult, mergeShards, shardsBeside } from "./shard/merge.js";
// sharding over a cluster
export {
  claimShardOutput,
  describeShard,
  manifestPathFor,
  parseShardPath,
  planShard,
  readShardManifest,
  type Shard,
  type ShardKind,
  type ShardManifest,
  shardOfKey,
  shardPath,
} from "./shard/shard.js";
export * from "./train/index.js";
export { parseByteSize } from "./util/byteSize.js";
export { getOrInsert, hash32, Rng } from "./util/rng.js";
