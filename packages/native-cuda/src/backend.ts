import { type NativeBackendInfo, native } from "./native.js";

export type BackendInfo = NativeBackendInfo;

/** What this build and this machine can do: CPU features in use, CUDA (compiled, devices), llama.cpp version. */
export function backendInfo(): BackendInfo {
  return native().backendInfo();
}
