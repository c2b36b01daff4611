export { type DepForward, DepModel, type DepModelConfig } from "./DepModel.js";
export {
  type DepDims,
  type DepParams,
  fromTorchTensors,
  initParams,
  PARAM_SLOTS,
  paramList,
  toTorchTensors,
  zeroParams,
} from "./params.js";
