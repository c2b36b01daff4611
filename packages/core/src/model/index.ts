export { type DepForward, DepModel, type DepModelConfig, inputAwareMean } from "./DepModel.js";
export {
  type Architecture,
  type DepDims,
  type DepParams,
  fromTorchTensors,
  type InitScheme,
  initParams,
  initParamsReference,
  REFERENCE_INIT_STD,
  PARAM_SLOTS,
  namedParamList,
  paramList,
  paramSlots,
  projectorInput,
  toTorchTensors,
  zeroParams,
} from "./params.js";
