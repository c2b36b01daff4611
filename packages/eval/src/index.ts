export {
  type EvalReport,
  type EvaluateOptions,
  evaluateByGroup,
  evaluatePerSample,
  evaluatePredictions,
  evaluateRecords,
  type PerSampleReport,
  type PredictionRecord,
  parsePredictions,
  readPredictions,
  type SampleScores,
} from "./evaluate.js";
export { rocAuc } from "./explain/auc.js";
export { type ExplainOptions, explain } from "./explain/explain.js";
export { distinctiveWords } from "./explain/logOdds.js";
export type * from "./explain/types.js";
export {
  type BertScoreBaseline,
  type BertScoreOptions,
  type BertScoreResult,
  bertScore,
  idfWeights,
  type TokenEmbeddings,
  type TokenEncoder,
} from "./metrics/bertscore.js";
export {
  type BleuOptions,
  type BleuResult,
  bleu,
  bleuSignature,
  SACREBLEU_VERSION,
  sentenceBleu,
  tokenize13a,
} from "./metrics/bleu.js";
export { llmTokenEncoder, loadGgufTokenEncoder, type TokenEmbeddingLlm } from "./metrics/ggufEncoder.js";
export {
  type MeteorOptions,
  type MeteorResult,
  meteor,
  NLTK_VERSION,
  punktTokenizer,
  singleMeteorScore,
} from "./metrics/meteor/meteor.js";
export { porterStem } from "./metrics/meteor/porter.js";
export {
  findPunktDir,
  loadPunktParameters,
  type PunktParameters,
  PunktSentenceTokenizer,
} from "./metrics/meteor/punkt.js";
export { defaultWordNetDir, sharedWordNet, WordNet } from "./metrics/meteor/wordnet.js";
export { treebankWordTokenize, wordTokenize } from "./metrics/meteor/wordTokenize.js";
export { MT19937 } from "./metrics/mt19937.js";
export {
  ROUGE_TYPES,
  type RougeCorpus,
  type RougeOptions,
  type RougeResult,
  type RougeScore,
  type RougeType,
  rouge,
  rougePair,
  rougeTokenize,
} from "./metrics/rouge.js";
export { expandPredictionPaths, readPredictionFiles } from "./predictionFiles.js";
export * from "./report/index.js";
export {
  epochCheckpoints,
  type Selection,
  type SelectOptions,
  type ShardSelection,
  selectCheckpoint,
  selectShard,
} from "./select/selectCheckpoint.js";
export { formatGroupTable, formatReport, formatTable, REPORT_COLUMNS } from "./table.js";
