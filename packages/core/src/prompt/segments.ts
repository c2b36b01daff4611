// Turns a built prompt plus its soft rows into the segment list the frozen-LLM API takes.
import { DepError, type Segment } from "@dep/native-cuda";
import type { BuiltPrompt } from "./types.js";

/**
 * softRows holds the 2k rows [his_0..his_{k-1}; diff_0..diff_{k-1}] of width `width` (the LLM's nEmbd),
 * k = prompt.nHistory. Consecutive soft slots are merged into one embeddings segment.
 */
export function promptSegments(prompt: BuiltPrompt, softRows: Float32Array | null, width: number): Segment[] {
  return promptSegmentsWithRows(prompt, softRows, width).segments;
}

/**
 * Like promptSegments, and also says which soft rows fill each embeddings segment, in order
 * (`embeddingRows[e]` for the e-th embeddings segment) — what maps LLM gradients back to soft rows.
 */
export function promptSegmentsWithRows(
  prompt: BuiltPrompt,
  softRows: Float32Array | null,
  width: number,
): { segments: Segment[]; embeddingRows: number[][] } {
  const nSlots = prompt.pieces.filter((p) => "softRow" in p).length;
  if (nSlots > 0) {
    if (!softRows)
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `the prompt has ${nSlots} soft slots but no soft rows were given`,
      );
    // DEP's layout has 2k rows (also when a prompt uses only one kind); pplug-style's one user row
    const expected = prompt.nSoftRows;
    if (softRows.length !== expected * width) {
      throw new DepError(
        "DEP_INVALID_ARGUMENT",
        `soft rows hold ${softRows.length} values; the prompt needs ${expected} rows of width ${width}`,
      );
    }
  }
  const out: Segment[] = [];
  const embeddingRows: number[][] = [];
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const emb = new Float32Array(pending.length * width);
    pending.forEach((row, i) => {
      emb.set(softRows!.subarray(row * width, (row + 1) * width), i * width);
    });
    out.push({ embeddings: emb });
    embeddingRows.push(pending);
    pending = [];
  };
  for (const piece of prompt.pieces) {
    if ("softRow" in piece) {
      pending.push(piece.softRow);
    } else {
      flush();
      out.push({ text: piece.text });
    }
  }
  flush();
  return { segments: out, embeddingRows };
}
