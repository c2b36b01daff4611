export { type DepForward, DepModel, type DepModelConfig, inputAwareMean } from "./DepModel.js";
export {
  type Architecture,
  type DepDims,
  type DepParams,
  fromTorchTensors,
  type InitScheme,
  initParams,
  initParamsReference,
  namedParamList,
  PARAM_SLOTS,
  paramList,
  paramSlots,
  projectorInput,
  REFERENCE_INIT_STD,
  toTorchTensors,
  zeroParams,
} from "./params.js";
