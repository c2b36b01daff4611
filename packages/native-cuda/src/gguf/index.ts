export * from "./format.js";
export { type GgufFile, readGguf } from "./reader.js";
export {
  defaultVocabPath,
  llamaCppSourceDir,
  makeNormal,
  type TinyArch,
  type TinyModelOptions,
  writeTinyModel,
} from "./tinyModel.js";
export { floatToHalf, type GgufTensorInput, writeGguf } from "./writer.js";
