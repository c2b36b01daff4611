// lossAndGrad as Llm (the ggml graph) and GradEngine (the native engine) both run it: the targets checked,
// the call queued on the native handle, an AbortSignal wired to the handle's abort(), a native failure
// turned into a DepError; `shape` makes the public result out of the native one.
import { DepError, fromNative } from "../../errors.js";
import type { NativeSegment } from "../../native.js";
import { withAbort } from "./handleQueue.js";

interface LossAndGradHandle<R> {
  abort(): void;
  lossAndGrad(segments: NativeSegment[], targets: Int32Array): Promise<R>;
}

export async function runLossAndGrad<R, O>(
  enqueue: (call: (handle: LossAndGradHandle<R>) => Promise<O>) => Promise<O>,
  toNative: () => NativeSegment[],
  targetTokens: Int32Array,
  signal: AbortSignal | undefined,
  shape: (result: R) => O,
): Promise<O> {
  checkTargetTokens(targetTokens, signal);
  const segments = toNative();
  try {
    return await enqueue(async (handle) =>
      shape(
        await withAbort(
          signal,
          () => handle.abort(),
          () => handle.lossAndGrad(segments, targetTokens),
        ),
      ),
    );
  } catch (err) {
    throw fromNative(err);
  }
}

function checkTargetTokens(targetTokens: Int32Array, signal: AbortSignal | undefined): void {
  if (!(targetTokens instanceof Int32Array) || targetTokens.length === 0) {
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      "lossAndGrad: targetTokens must be a non-empty Int32Array (the tokens the model should predict)",
    );
  }
  if (signal?.aborted) throw new DepError("DEP_ABORTED", "lossAndGrad was aborted");
}
