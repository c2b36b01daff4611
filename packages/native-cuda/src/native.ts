// Loads the compiled addon once. DEP_NATIVE_ADDON overrides its path (e.g. a CUDA build elsewhere).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DepError } from "./errors.js";

export interface NativeBackendInfo {
  /** CPU features llama.cpp's CPU code was compiled for (what it can use), e.g. ["AVX2", "FMA"]. */
  cpuFeatures: string[];
  cpu: {
    /** What this CPU offers (cpuid), e.g. ["AVX2", "AVX512", "AMX_INT8"]. */
    machineFeatures: string[];
    /** How llama.cpp's CPU code was compiled: "native" (-march=native) or "portable" (x86-64-v3). */
    target: "native" | "portable";
    /** ggml's AMX matmul path is compiled in (DEP_GGML_AMX=ON; off by default: llama.cpp issue 20824). */
    amxCompiled: boolean;
    /** ggml's extra CPU weight layouts available on this machine (e.g. ["CPU_REPACK"]); [] when none. */
    repackTypes: string[];
  };
  llamaCppVersion: string;
  ggmlVersion: string;
  cuda: {
    compiled: boolean;
    ggmlCuda: boolean;
    devices: Array<{
      index: number;
      name: string;
      computeCapability: string;
      totalMemory: number;
      multiprocessors: number;
    }>;
    error: string | null;
  };
}

export interface NativeLlmInfo {
  arch: string;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nVocab: number;
  nCtxTrain: number;
  nCtx: number;
  bos: number;
  eos: number;
  addBos: boolean;
  nParams: number;
  /** Bytes of weights per ggml buffer type, e.g. { CPU: 1.2e6, CPU_REPACK: 3.4e6 } (repacked weights). */
  weightBuffers: Record<string, number>;
}

export interface NativeSampling {
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  /** 0: llama.cpp's order (top-k, top-p, temperature); 1: vLLM's (temperature, top-k, top-p) */
  samplerOrder: number;
}

export type NativeSegment = { tokens: Int32Array } | { embeddings: Float32Array };

export interface NativeGenerateStats {
  promptPositions: number;
  generatedTokens: number;
  promptMs: number;
  generateMs: number;
  stopReason: "eog" | "maxTokens" | "aborted" | "stopped";
}

export interface NativeLlm {
  info(): NativeLlmInfo;
  chatTemplate(): string | null;
  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(tokens: Int32Array, removeSpecial: boolean, unparseSpecial: boolean): string;
  applyChatTemplate(roles: string[], contents: string[], addAssistant: boolean, template?: string): string;
  isEog(token: number): boolean;
  generate(
    segments: NativeSegment[],
    options: NativeSampling,
    onToken?: (token: number) => void,
  ): Promise<NativeGenerateStats>;
  abort(): void;
  dispose(): void;
  tokenEmbeddings(tokens: Int32Array): Float32Array;
  lossAndGrad(segments: NativeSegment[], targets: Int32Array): Promise<NativeLossAndGrad>;
  debugLogits(segments: NativeSegment[], useGraph: boolean): Promise<Float32Array>;
  generateBatch(
    requests: NativeSegment[][],
    options: NativeSampling & { parallel: number },
    onToken?: (request: number, token: number) => void,
  ): Promise<NativeGenerateStats[]>;
  cancelRequest(request: number): void;
  openBatch(slots: number): NativeBatchSession;
  releaseGrad(): void;
  embed(tokenLists: Int32Array[], pooled: boolean): Promise<Float32Array[]>;
}

/** What one slot of a batch session did in an add or a step. */
export interface NativeBatchEvent {
  slot: number;
  /** the token sampled for the slot, null when none (it ended without one) */
  token: number | null;
  /** the slot is free again; stopReason says why ("stopped": cancelled) */
  finished: boolean;
  stopReason: NativeGenerateStats["stopReason"] | null;
  generatedTokens: number;
  /** add only */
  promptPositions: number;
  promptMs: number;
  generateMs: number;
}

/** Continuous batching over the parallel sequences: add, step and close run one at a time. */
export interface NativeBatchSession {
  add(slot: number, segments: NativeSegment[], options: NativeSampling): Promise<NativeBatchEvent>;
  step(): Promise<NativeBatchEvent[]>;
  /** thread-safe, takes effect at once (a prompt being decoded stops; the next step frees the slot) */
  cancel(slot: number): void;
  close(): void;
}

export interface NativeLossAndGrad {
  loss: number;
  grads: Float32Array[];
  nTokens: number;
  nPositions: number;
  loadMs: number;
  computeMs: number;
  weightBytes: number;
  computeBytes: number;
}

export interface NativeGradEngineInfo {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nVocab: number;
  dtype: "f32" | "bf16";
  /** The matmul implementation, e.g. "onednn 2.6.3 (avx512_core_bf16)" or "portable (built without oneDNN)". */
  matmul: string;
  threads: number;
  loadMs: number;
  weightBytes: number;
}

export interface NativeGradEngineLossAndGrad {
  loss: number;
  grads: Float32Array[];
  nTokens: number;
  nPositions: number;
  firstGradPosition: number;
  computeMs: number;
  /** of computeMs: the matrix products, and attention forward + backward */
  matmulMs: number;
  attentionMs: number;
  activationBytes: number;
  recomputed: boolean;
  recomputedLayers: number;
}

export interface NativeGradEngine {
  info(): NativeGradEngineInfo;
  lossAndGrad(segments: NativeSegment[], targets: Int32Array): Promise<NativeGradEngineLossAndGrad>;
  abort(): void;
  dispose(): void;
}

export interface NativeModule {
  backendInfo(): NativeBackendInfo;
  loadGradEngine(
    path: string,
    options: {
      threads: number;
      dtype?: "f32" | "bf16";
      checkpoint?: "auto" | "never" | "always";
      activationBudgetBytes?: number;
    },
  ): Promise<NativeGradEngine>;
  gradEngineBuild(): {
    matmul: string;
    onednn: boolean;
    dtypes: Array<"f32" | "bf16">;
    defaultDtype: "f32" | "bf16";
  };
  gradEngineGemmProbe(dtype: "f32" | "bf16", m: number, k: number, n: number, threads: number): number;
  loadModel(
    path: string,
    options: {
      threads: number;
      contextSize?: number;
      batchSize?: number;
      gpuLayers?: number;
      sequences?: number;
      gradBackward?: "none" | "f16" | "bf16" | "f32";
      kvCacheType?: "f16" | "f32";
      gradWeights?: "f32" | "f16";
      cpuRepack?: boolean;
    },
  ): Promise<NativeLlm>;
  quantizeModel(
    src: string,
    dst: string,
    type: string,
    threads: number,
    embeddingsF16: boolean,
  ): Promise<void>;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the addon is expected: $DEP_NATIVE_ADDON, else build/Release/dep_native.node in this package. */
export function addonPath(): string {
  return process.env.DEP_NATIVE_ADDON ?? join(packageRoot, "build", "Release", "dep_native.node");
}

let cached: NativeModule | undefined;

export function native(): NativeModule {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new DepError(
      "DEP_NATIVE_MISSING",
      `the native addon is not built (${path} is missing): run \`pnpm build\` in the repository root`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as NativeModule;
  } catch (err) {
    throw new DepError(
      "DEP_NATIVE_LOAD",
      `could not load the native addon ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return cached;
}
