// Tiny random-weight GGUF models of the `llama` and `qwen2` architectures for tests: a few layers, small
// width, grouped-query attention (qwen2 with its q/k/v biases), and a real tokenizer copied from the
// vocabulary-only GGUFs that ship in the llama.cpp tree.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DepError } from "../errors.js";
import { f32, GgmlType, type GgufValue, i32, str, u16, u32 } from "./format.js";
import { readGguf } from "./reader.js";
import { type GgufTensorInput, writeGguf } from "./writer.js";

export type TinyArch = "llama" | "qwen2";

export interface TinyModelOptions {
  arch: TinyArch;
  seed?: number;
  nEmbd?: number;
  nHead?: number;
  nHeadKv?: number;
  nLayer?: number;
  nFf?: number;
  contextLength?: number;
  /** Storage type of the 2-D weight matrices (norms and biases stay F32). */
  weightType?: GgmlType;
  /** Vocabulary GGUF to copy the tokenizer from; default: the llama.cpp tree's llama-spm / qwen2 vocab. */
  vocabPath?: string;
  /** Draw the RMSNorm weights around 1 (default false: all ones), so tests see a norm that was skipped. */
  randomNorms?: boolean;
  /** Write the model as this many split files (`NAME-00001-of-0000N.gguf`, as llama-gguf-split does). */
  splits?: number;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The llama.cpp source tree cloned by the native build. */
export function llamaCppSourceDir(): string {
  return process.env.DEP_LLAMA_CPP_DIR ?? join(packageRoot, "build-deps", "llama.cpp");
}

export function defaultVocabPath(arch: TinyArch): string {
  const file = arch === "llama" ? "ggml-vocab-llama-spm.gguf" : "ggml-vocab-qwen2.gguf";
  return join(llamaCppSourceDir(), "models", file);
}

/** Deterministic normal samples (sfc32 uniform bits and Box-Muller). */
export function makeNormal(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
}

/** Writes a tiny random model to `path` (atomically) and returns its hyperparameters. */
export function writeTinyModel(path: string, options: TinyModelOptions) {
  const arch = options.arch;
  const nEmbd = options.nEmbd ?? 64;
  const nHead = options.nHead ?? 4;
  const nHeadKv = options.nHeadKv ?? 2;
  const nLayer = options.nLayer ?? 2;
  const nFf = options.nFf ?? 128;
  const ctx = options.contextLength ?? 512;
  const wtype = options.weightType ?? GgmlType.F32;
  if (nEmbd % nHead !== 0 || nHead % nHeadKv !== 0) {
    throw new DepError("DEP_INVALID_ARGUMENT", "nEmbd must be divisible by nHead, and nHead by nHeadKv");
  }
  const headDim = nEmbd / nHead;
  const nEmbdKv = headDim * nHeadKv;
  const vocabPath = options.vocabPath ?? defaultVocabPath(arch);
  if (!existsSync(vocabPath)) {
    throw new DepError(
      "DEP_ASSET_MISSING",
      `vocabulary GGUF ${vocabPath} is missing: build the native package first (it clones llama.cpp), or pass vocabPath`,
    );
  }
  const vocab = readGguf(vocabPath);
  const tokens = vocab.metadata.get("tokenizer.ggml.tokens");
  const nVocab = tokens && "itemType" in tokens ? tokens.value.length : 0;
  if (nVocab === 0) throw new DepError("DEP_GGUF_CORRUPT", `${vocabPath} has no tokenizer.ggml.tokens`);

  const md = new Map<string, GgufValue>();
  md.set("general.architecture", str(arch));
  md.set("general.name", str(`tiny-${arch}-random`));
  md.set(`${arch}.context_length`, u32(ctx));
  md.set(`${arch}.embedding_length`, u32(nEmbd));
  md.set(`${arch}.block_count`, u32(nLayer));
  md.set(`${arch}.feed_forward_length`, u32(nFf));
  md.set(`${arch}.attention.head_count`, u32(nHead));
  md.set(`${arch}.attention.head_count_kv`, u32(nHeadKv));
  md.set(`${arch}.rope.dimension_count`, u32(headDim));
  md.set(`${arch}.rope.freq_base`, f32(arch === "qwen2" ? 1_000_000 : 10_000));
  md.set(`${arch}.attention.layer_norm_rms_epsilon`, f32(arch === "qwen2" ? 1e-6 : 1e-5));
  md.set("general.file_type", u32(wtype === GgmlType.F16 ? 1 : 0));
  for (const [key, value] of vocab.metadata) {
    if (key.startsWith("tokenizer.")) md.set(key, value);
  }

  const normal = makeNormal(options.seed ?? 1);
  const normFill = options.randomNorms ? () => 1 + 0.3 * normal() : () => 1;
  const tensors: GgufTensorInput[] = [];
  const matrix = (name: string, nIn: number, nOut: number, scale = 1) => {
    const data = new Float32Array(nIn * nOut);
    const std = scale / Math.sqrt(nIn);
    for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    tensors.push({ name, dims: [nIn, nOut], type: wtype, data });
  };
  const vector = (name: string, n: number, fill: (i: number) => number) => {
    tensors.push({
      name,
      dims: [n],
      type: GgmlType.F32,
      data: Float32Array.from({ length: n }, (_, i) => fill(i)),
    });
  };
  matrix("token_embd.weight", nEmbd, nVocab, Math.sqrt(nEmbd)); // rows ~ N(0, 1)
  for (let l = 0; l < nLayer; l++) {
    vector(`blk.${l}.attn_norm.weight`, nEmbd, normFill);
    matrix(`blk.${l}.attn_q.weight`, nEmbd, nEmbd);
    matrix(`blk.${l}.attn_k.weight`, nEmbd, nEmbdKv);
    matrix(`blk.${l}.attn_v.weight`, nEmbd, nEmbdKv);
    if (arch === "qwen2") {
      vector(`blk.${l}.attn_q.bias`, nEmbd, () => normal() * 0.1);
      vector(`blk.${l}.attn_k.bias`, nEmbdKv, () => normal() * 0.1);
      vector(`blk.${l}.attn_v.bias`, nEmbdKv, () => normal() * 0.1);
    }
    matrix(`blk.${l}.attn_output.weight`, nEmbd, nEmbd);
    vector(`blk.${l}.ffn_norm.weight`, nEmbd, normFill);
    matrix(`blk.${l}.ffn_gate.weight`, nEmbd, nFf);
    matrix(`blk.${l}.ffn_up.weight`, nEmbd, nFf);
    matrix(`blk.${l}.ffn_down.weight`, nFf, nEmbd);
  }
  vector("output_norm.weight", nEmbd, normFill);
  // qwen2 ties the output head to the token embeddings (as the small Qwen2.5 models do); llama has its own
  if (arch === "llama") matrix("output.weight", nEmbd, nVocab, 4);

  const files =
    options.splits && options.splits > 1 ? writeSplits(path, md, tensors, options.splits) : [path];
  if (files.length === 1) writeGguf(path, md, tensors);
  return { arch, nEmbd, nHead, nHeadKv, nLayer, nFf, nVocab, contextLength: ctx, headDim, files };
}

/**
 * The layout `llama-gguf-split --split` writes: `NAME-00001-of-0000N.gguf` ... (from `path` without .gguf),
 * the first holding all metadata, each a contiguous share of the tensors and the split.* keys.
 */
function writeSplits(
  path: string,
  md: Map<string, GgufValue>,
  tensors: readonly GgufTensorInput[],
  n: number,
): string[] {
  const prefix = path.replace(/\.gguf$/, "");
  const per = Math.ceil(tensors.length / n);
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const meta = new Map<string, GgufValue>(i === 0 ? md : []);
    meta.set("split.no", u16(i));
    meta.set("split.count", u16(n));
    meta.set("split.tensors.count", i32(tensors.length));
    const file = `${prefix}-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.gguf`;
    writeGguf(file, meta, tensors.slice(i * per, (i + 1) * per));
    files.push(file);
  }
  return files;
}
