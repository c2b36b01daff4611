// Typed wrappers over the native DEP kernels (include/dep/kernels.h): user means, fused difference
// embedding, SAE forward+loss / backward, projector MLP forward / backward, AdamW.
//
// * Zero copy: typed arrays go to native code as they are; outputs are allocated here unless passed in.
// * Every function has an `...Async` twin that runs on a libuv worker thread and returns a Promise — use
//   it for anything large (do not touch the arrays until it settles).
// * Every argument is validated (types, lengths that must multiply out, index ranges, finiteness of float
//   inputs); failures throw (or reject with) a DepError whose `code` is one of DEP_INVALID_ARGUMENT,
//   DEP_SHAPE_MISMATCH, DEP_NON_FINITE, DEP_INDEX_RANGE, DEP_NO_PEERS, DEP_EMPTY_SEGMENT,
//   DEP_BACKEND_UNAVAILABLE, DEP_CUDA, and `index` names the offending element where there is one.
// * Layouts: row-major; weights [in, out] (y = x W + b). PyTorch nn.Linear is [out, in]: convert with
//   linearFromTorch / linearToTorch. SAE batches are [nSamples, 16, d]: his rows 0..k-1, diff rows
//   8..8+k-1, the rest padding (masked out of every loss term and gradient).
// * SAE loss: per sample L_b = reconWeight * (SmoothL1_mean + klWeight * KL_b) over its own 2k rows; the
//   batch loss is the mean over samples, and the gradients are of that mean.
import { DepError } from "./errors.js";
import { native } from "./native.js";

export type KernelBackend = "auto" | "reference" | "cpu" | "cuda";
export type EmbDtype = "f32" | "f16" | "bf16";
export type DiffWeighting = "reference" | "softmax-norm" | "uniform";

/** Where kernels run. `threads` is required: CPU threads to use (explicit, never guessed). */
export interface KernelOptions {
  threads: number;
  backend?: KernelBackend;
}

export interface KernelsInfo {
  cpuIsa: "avx512" | "avx2" | "generic";
  cudaAvailable: boolean;
  autoBackend: "cpu" | "cuda";
}

export const SAE_ROWS = 16;
export const SAE_MAX_K = 8;

type Obj = Record<string, unknown>;
interface NativeKernels {
  info(): KernelsInfo;
  workspaceFloats(a: Obj): number;
  [fn: string]: ((a: Obj) => number | undefined) | ((a: Obj) => Promise<number | undefined>) | unknown;
}

function nk(): NativeKernels {
  return (native() as unknown as { kernels: NativeKernels }).kernels;
}

function rethrow(err: unknown): never {
  const e = err as { code?: unknown; message?: unknown; index?: unknown };
  const out = new DepError(
    typeof e?.code === "string" ? e.code : "DEP_NATIVE",
    typeof e?.message === "string" ? e.message : String(err),
    { cause: err },
  );
  if (typeof e?.index === "number") Object.assign(out, { index: e.index });
  throw out;
}

function call(fn: string, args: Obj): number | undefined {
  try {
    return (nk()[fn] as (a: Obj) => number | undefined)(args);
  } catch (err) {
    rethrow(err);
  }
}

async function callAsync(fn: string, args: Obj): Promise<number | undefined> {
  try {
    return await (nk()[`${fn}Async`] as (a: Obj) => Promise<number | undefined>)(args);
  } catch (err) {
    rethrow(err);
  }
}

function fail(code: string, message: string): never {
  throw new DepError(code, message);
}

function base(fn: string, o: KernelOptions): Obj {
  if (o === null || typeof o !== "object")
    fail("DEP_INVALID_ARGUMENT", `${fn}: options { threads, backend? } are required`);
  if (!Number.isInteger(o.threads) || o.threads < 1)
    fail("DEP_INVALID_ARGUMENT", `${fn}: \`threads\` is required and must be a positive integer`);
  return { threads: o.threads, backend: o.backend ?? "auto" };
}

/** rows = length / cols, which must divide exactly */
function rowsOf(fn: string, name: string, a: ArrayLike<number> | undefined, cols: number): number {
  if (a === undefined || typeof (a as { length?: unknown }).length !== "number")
    fail("DEP_INVALID_ARGUMENT", `${fn}: \`${name}\` must be a typed array`);
  if (!Number.isInteger(cols) || cols < 1)
    fail("DEP_INVALID_ARGUMENT", `${fn}: the row width for \`${name}\` must be a positive integer`);
  if (a.length % cols !== 0 || a.length === 0)
    fail(
      "DEP_SHAPE_MISMATCH",
      `${fn}: \`${name}\` has ${a.length} elements, not a positive multiple of ${cols}`,
    );
  return a.length / cols;
}

function dtypeOf(emb: Float32Array | Uint16Array, dtype: EmbDtype | undefined): EmbDtype {
  return dtype ?? (emb instanceof Uint16Array ? "bf16" : "f32");
}

export function kernelsInfo(): KernelsInfo {
  return nk().info();
}

// ---- layout helpers ---------------------------------------------------------------------------------

/** PyTorch nn.Linear weight [out, in] -> our [in, out]. */
export function linearFromTorch(src: Float32Array, nOut: number, nIn: number): Float32Array {
  if (src.length !== nOut * nIn)
    fail("DEP_SHAPE_MISMATCH", `linearFromTorch: ${src.length} elements, expected ${nOut}x${nIn}`);
  const dst = new Float32Array(src.length);
  for (let o = 0; o < nOut; o++) for (let i = 0; i < nIn; i++) dst[i * nOut + o] = src[o * nIn + i] as number;
  return dst;
}

/** Our [in, out] -> PyTorch nn.Linear [out, in]. */
export function linearToTorch(src: Float32Array, nIn: number, nOut: number): Float32Array {
  if (src.length !== nOut * nIn)
    fail("DEP_SHAPE_MISMATCH", `linearToTorch: ${src.length} elements, expected ${nIn}x${nOut}`);
  const dst = new Float32Array(src.length);
  for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) dst[o * nIn + i] = src[i * nOut + o] as number;
  return dst;
}

// ---- 1. user means ---------------------------------------------------------------------------------

export interface UserMeansArgs {
  /** [nRows, d]; Float32Array for f32, Uint16Array for f16 / bf16 */
  emb: Float32Array | Uint16Array;
  dtype?: EmbDtype;
  d: number;
  /** [nUsers + 1]: user u owns rows segOffsets[u] .. segOffsets[u+1]-1 */
  segOffsets: Int32Array;
  out?: Float32Array;
}

function userMeansArgs(o: KernelOptions, a: UserMeansArgs): Obj {
  const fn = "userMeans";
  rowsOf(fn, "emb", a?.emb, a?.d);
  if (!(a.segOffsets instanceof Int32Array) || a.segOffsets.length < 2)
    fail("DEP_INVALID_ARGUMENT", `${fn}: \`segOffsets\` must be an Int32Array of nUsers + 1 >= 2 entries`);
  const nUsers = a.segOffsets.length - 1;
  return {
    ...base(fn, o),
    emb: a.emb,
    dtype: dtypeOf(a.emb, a.dtype),
    d: a.d,
    nUsers,
    segOffsets: a.segOffsets,
    out: a.out ?? new Float32Array(nUsers * a.d),
  };
}

/** means[u] = mean of user u's rows. Returns [nUsers, d]. */
export function userMeans(o: KernelOptions, a: UserMeansArgs): Float32Array {
  const args = userMeansArgs(o, a);
  call("userMeans", args);
  return args.out as Float32Array;
}

export async function userMeansAsync(o: KernelOptions, a: UserMeansArgs): Promise<Float32Array> {
  const args = userMeansArgs(o, a);
  await callAsync("userMeans", args);
  return args.out as Float32Array;
}

// ---- 2. difference embedding ------------------------------------------------------------------------

export interface DiffEmbedArgs {
  emb: Float32Array | Uint16Array;
  dtype?: EmbDtype;
  d: number;
  /** [nUsers, d] F32 user means */
  means: Float32Array;
  /** [T] each target's own review row and user */
  selfRow: Int32Array;
  selfUser: Int32Array;
  /** [T + 1] CSR offsets into peerRow / peerUser */
  peerOffsets: Int32Array;
  peerRow: Int32Array;
  peerUser: Int32Array;
  /** reference: softmax(s / sum s) (default); softmax-norm: softmax(s); uniform: 1/n — s_r = ||mean[u] - mean[r]|| */
  weighting?: DiffWeighting;
  out?: Float32Array;
  /** also return the peer weights, aligned with peerRow */
  weights?: boolean;
}

export interface DiffEmbedResult {
  /** [T, d]: out[t] = e[self] - sum_r w_r e[peer_r] */
  out: Float32Array;
  weights?: Float32Array;
}

function diffArgs(o: KernelOptions, a: DiffEmbedArgs): Obj {
  const fn = "diffEmbed";
  rowsOf(fn, "emb", a?.emb, a?.d);
  const nUsers = rowsOf(fn, "means", a.means, a.d);
  if (!(a.selfRow instanceof Int32Array) || a.selfRow.length < 1)
    fail("DEP_INVALID_ARGUMENT", `${fn}: \`selfRow\` must be a non-empty Int32Array`);
  const T = a.selfRow.length;
  return {
    ...base(fn, o),
    emb: a.emb,
    dtype: dtypeOf(a.emb, a.dtype),
    d: a.d,
    means: a.means,
    nUsers,
    targets: T,
    selfRow: a.selfRow,
    selfUser: a.selfUser,
    peerOffsets: a.peerOffsets,
    peerRow: a.peerRow,
    peerUser: a.peerUser,
    weighting: a.weighting ?? "reference",
    out: a.out ?? new Float32Array(T * a.d),
    weightsOut: a.weights ? new Float32Array(a.peerRow?.length ?? 0) : undefined,
  };
}

/** Fused difference embeddings of T targets. A target without peers fails with DEP_NO_PEERS (index = t). */
export function diffEmbed(o: KernelOptions, a: DiffEmbedArgs): DiffEmbedResult {
  const args = diffArgs(o, a);
  call("diffEmbed", args);
  return { out: args.out as Float32Array, weights: args.weightsOut as Float32Array | undefined };
}

export async function diffEmbedAsync(o: KernelOptions, a: DiffEmbedArgs): Promise<DiffEmbedResult> {
  const args = diffArgs(o, a);
  await callAsync("diffEmbed", args);
  return { out: args.out as Float32Array, weights: args.weightsOut as Float32Array | undefined };
}

// ---- 3. SAE ---------------------------------------------------------------------------------------

export interface SaeConfig {
  d: number;
  h: number;
  /** X^ = z W2 + b2 instead of GELU(z W2 + b2) (the reference keeps the GELU) */
  linearOutput?: boolean;
  reconWeight?: number; // 100
  klWeight?: number; // 1e-3
  rho?: number; // 0.05
}

/** W1 [d, h], b1 [h], W2 [h, d], b2 [d] — [in, out] layout */
export interface SaeWeights {
  W1: Float32Array;
  b1: Float32Array;
  W2: Float32Array;
  b2: Float32Array;
}

export interface SaeForwardResult {
  /** [nSamples, 16, h]; zero on padding rows */
  z: Float32Array;
  /** [nSamples, 16, d] */
  xhat: Float32Array;
  /** mean over samples of each sample's SAE loss */
  loss: number;
  /** [nSamples, 2]: (SmoothL1 mean, KL) per sample */
  sampleTerms: Float32Array;
  /** activations kept for saeBackward */
  workspace: Float32Array;
}

export interface SaeBackwardOptions {
  /** upstream dL/dz [nSamples, 16, h] (from the projectors); padding rows ignored */
  dzUp?: Float32Array;
  /** write into these (and add to them when accumulate) */
  grads?: SaeWeights;
  accumulate?: boolean;
  /** also compute dL/dX */
  dX?: boolean;
}

export interface SaeGrads extends SaeWeights {
  dX?: Float32Array;
}

function saeBase(
  fn: string,
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
): Obj {
  if (c === null || typeof c !== "object") fail("DEP_INVALID_ARGUMENT", `${fn}: config { d, h } is required`);
  if (!(k instanceof Int32Array) || k.length < 1)
    fail("DEP_INVALID_ARGUMENT", `${fn}: \`k\` must be a non-empty Int32Array`);
  const rows = rowsOf(fn, "X", X, c.d);
  if (rows !== k.length * SAE_ROWS)
    fail(
      "DEP_SHAPE_MISMATCH",
      `${fn}: X holds ${rows} rows of d = ${c.d}, expected k.length * 16 = ${k.length * SAE_ROWS}`,
    );
  return {
    ...base(fn, o),
    d: c.d,
    h: c.h,
    nSamples: k.length,
    linearOutput: c.linearOutput ?? false,
    reconWeight: c.reconWeight,
    klWeight: c.klWeight,
    rho: c.rho,
    W1: w?.W1,
    b1: w?.b1,
    W2: w?.W2,
    b2: w?.b2,
    X,
    k,
  };
}

function saeFwdArgs(o: KernelOptions, c: SaeConfig, w: SaeWeights, X: Float32Array, k: Int32Array): Obj {
  const args = saeBase("saeForward", o, c, w, X, k);
  const B = k.length;
  return {
    ...args,
    z: new Float32Array(B * SAE_ROWS * c.h),
    xhat: new Float32Array(B * SAE_ROWS * c.d),
    sampleTerms: new Float32Array(2 * B),
    workspace: new Float32Array(nk().workspaceFloats({ kernel: "sae", nSamples: B, d: c.d, h: c.h })),
  };
}

function saeFwdResult(args: Obj, loss: number | undefined): SaeForwardResult {
  return {
    z: args.z as Float32Array,
    xhat: args.xhat as Float32Array,
    loss: loss as number,
    sampleTerms: args.sampleTerms as Float32Array,
    workspace: args.workspace as Float32Array,
  };
}

/** SAE forward and loss for nSamples = k.length samples of X [nSamples, 16, d]. */
export function saeForward(
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
): SaeForwardResult {
  const args = saeFwdArgs(o, c, w, X, k);
  return saeFwdResult(args, call("saeForward", args));
}

export async function saeForwardAsync(
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
): Promise<SaeForwardResult> {
  const args = saeFwdArgs(o, c, w, X, k);
  return saeFwdResult(args, await callAsync("saeForward", args));
}

function saeBwdArgs(
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
  fwd: SaeForwardResult,
  b: SaeBackwardOptions,
): Obj {
  const args = saeBase("saeBackward", o, c, w, X, k);
  const g = b.grads ?? {
    W1: new Float32Array(c.d * c.h),
    b1: new Float32Array(c.h),
    W2: new Float32Array(c.h * c.d),
    b2: new Float32Array(c.d),
  };
  return {
    ...args,
    z: fwd?.z,
    workspace: fwd?.workspace,
    dzUp: b.dzUp,
    gW1: g.W1,
    gb1: g.b1,
    gW2: g.W2,
    gb2: g.b2,
    dX: b.dX ? new Float32Array(X.length) : undefined,
    accumulate: b.accumulate ?? false,
  };
}

function saeGrads(args: Obj): SaeGrads {
  return {
    W1: args.gW1 as Float32Array,
    b1: args.gb1 as Float32Array,
    W2: args.gW2 as Float32Array,
    b2: args.gb2 as Float32Array,
    dX: args.dX as Float32Array | undefined,
  };
}

/** Gradients of the batch SAE loss (+ the upstream dzUp) w.r.t. W1, b1, W2, b2 and, if asked, X. */
export function saeBackward(
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
  fwd: SaeForwardResult,
  b: SaeBackwardOptions = {},
): SaeGrads {
  const args = saeBwdArgs(o, c, w, X, k, fwd, b);
  call("saeBackward", args);
  return saeGrads(args);
}

export async function saeBackwardAsync(
  o: KernelOptions,
  c: SaeConfig,
  w: SaeWeights,
  X: Float32Array,
  k: Int32Array,
  fwd: SaeForwardResult,
  b: SaeBackwardOptions = {},
): Promise<SaeGrads> {
  const args = saeBwdArgs(o, c, w, X, k, fwd, b);
  await callAsync("saeBackward", args);
  return saeGrads(args);
}

// ---- 4. projector ------------------------------------------------------------------------------------

/** A1 [h, H], c1 [H], A2 [H, H], c2 [H] — y = GELU(x A1 + c1) A2 + c2 */
export interface ProjWeights {
  A1: Float32Array;
  c1: Float32Array;
  A2: Float32Array;
  c2: Float32Array;
}

export interface ProjDims {
  h: number;
  H: number;
}

export interface ProjForwardResult {
  /** [nRows, H] */
  y: Float32Array;
  workspace: Float32Array;
}

export interface ProjGrads extends ProjWeights {
  dx?: Float32Array;
}

function projBase(fn: string, o: KernelOptions, dims: ProjDims, w: ProjWeights, x: Float32Array): Obj {
  if (dims === null || typeof dims !== "object")
    fail("DEP_INVALID_ARGUMENT", `${fn}: dims { h, H } are required`);
  const nRows = rowsOf(fn, "x", x, dims.h);
  return { ...base(fn, o), h: dims.h, H: dims.H, nRows, A1: w?.A1, c1: w?.c1, A2: w?.A2, c2: w?.c2, x };
}

function projFwdArgs(o: KernelOptions, dims: ProjDims, w: ProjWeights, x: Float32Array): Obj {
  const args = projBase("projForward", o, dims, w, x);
  const n = args.nRows as number;
  if (!Number.isInteger(dims.H) || dims.H < 1)
    fail("DEP_INVALID_ARGUMENT", "projForward: `H` must be a positive integer");
  return {
    ...args,
    y: new Float32Array(n * dims.H),
    workspace: new Float32Array(nk().workspaceFloats({ kernel: "proj", nRows: n, h: dims.h, H: dims.H })),
  };
}

/** Projector forward over x [nRows, h]. */
export function projForward(
  o: KernelOptions,
  dims: ProjDims,
  w: ProjWeights,
  x: Float32Array,
): ProjForwardResult {
  const args = projFwdArgs(o, dims, w, x);
  call("projForward", args);
  return { y: args.y as Float32Array, workspace: args.workspace as Float32Array };
}

export async function projForwardAsync(
  o: KernelOptions,
  dims: ProjDims,
  w: ProjWeights,
  x: Float32Array,
): Promise<ProjForwardResult> {
  const args = projFwdArgs(o, dims, w, x);
  await callAsync("projForward", args);
  return { y: args.y as Float32Array, workspace: args.workspace as Float32Array };
}

export interface ProjBackwardOptions {
  grads?: ProjWeights;
  accumulate?: boolean;
  /** also compute dL/dx (needed to reach the SAE) */
  dx?: boolean;
}

function projBwdArgs(
  o: KernelOptions,
  dims: ProjDims,
  w: ProjWeights,
  x: Float32Array,
  fwd: ProjForwardResult,
  dy: Float32Array,
  b: ProjBackwardOptions,
): Obj {
  const args = projBase("projBackward", o, dims, w, x);
  const { h, H } = dims;
  const g = b.grads ?? {
    A1: new Float32Array(h * H),
    c1: new Float32Array(H),
    A2: new Float32Array(H * H),
    c2: new Float32Array(H),
  };
  return {
    ...args,
    workspace: fwd?.workspace,
    dy,
    gA1: g.A1,
    gc1: g.c1,
    gA2: g.A2,
    gc2: g.c2,
    dx: b.dx ? new Float32Array(x.length) : undefined,
    accumulate: b.accumulate ?? false,
  };
}

function projGrads(args: Obj): ProjGrads {
  return {
    A1: args.gA1 as Float32Array,
    c1: args.gc1 as Float32Array,
    A2: args.gA2 as Float32Array,
    c2: args.gc2 as Float32Array,
    dx: args.dx as Float32Array | undefined,
  };
}

/** Projector backward for upstream dy [nRows, H]. */
export function projBackward(
  o: KernelOptions,
  dims: ProjDims,
  w: ProjWeights,
  x: Float32Array,
  fwd: ProjForwardResult,
  dy: Float32Array,
  b: ProjBackwardOptions = {},
): ProjGrads {
  const args = projBwdArgs(o, dims, w, x, fwd, dy, b);
  call("projBackward", args);
  return projGrads(args);
}

export async function projBackwardAsync(
  o: KernelOptions,
  dims: ProjDims,
  w: ProjWeights,
  x: Float32Array,
  fwd: ProjForwardResult,
  dy: Float32Array,
  b: ProjBackwardOptions = {},
): Promise<ProjGrads> {
  const args = projBwdArgs(o, dims, w, x, fwd, dy, b);
  await callAsync("projBackward", args);
  return projGrads(args);
}

// ---- 5. AdamW -------------------------------------------------------------------------------------

/** torch.optim.AdamW semantics; `step` is the 1-based number of this update. */
export interface AdamWParams {
  lr: number;
  beta1?: number; // 0.9
  beta2?: number; // 0.999
  eps?: number; // 1e-8
  weightDecay?: number; // 0.025
  step: number;
}

function adamwArgs(
  o: KernelOptions,
  p: AdamWParams,
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
): Obj {
  if (p === null || typeof p !== "object")
    fail("DEP_INVALID_ARGUMENT", "adamwStep: params { lr, step } are required");
  return {
    ...base("adamwStep", o),
    lr: p.lr,
    beta1: p.beta1,
    beta2: p.beta2,
    eps: p.eps,
    weightDecay: p.weightDecay,
    step: p.step,
    param,
    grad,
    m,
    v,
  };
}

/** One fused AdamW update of param (in place) with its moments m, v. */
export function adamwStep(
  o: KernelOptions,
  p: AdamWParams,
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
): void {
  call("adamwStep", adamwArgs(o, p, param, grad, m, v));
}

export async function adamwStepAsync(
  o: KernelOptions,
  p: AdamWParams,
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
): Promise<void> {
  await callAsync("adamwStep", adamwArgs(o, p, param, grad, m, v));
}
