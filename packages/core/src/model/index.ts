export { type DepForward, DepModel, type DepModelConfig, inputAwareMean } from "./DepModel.js";
export {
  type Architecture,
  type DepDims,
  type DepParams,
  fromTorchTensors,
  initParams,
  PARAM_SLOTS,
  paramList,
  paramSlots,
  projectorInput,
  toTorchTensors,
  zeroParams,
} from "./params.js";
