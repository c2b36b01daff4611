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
  // tokens as the builder tokenized them (its BOS rule included); consecutive slots merge into one segment
  const out: Segment[] = [];
  const embeddingRows: number[][] = [];
  const n = prompt.inputIds.length;
  for (let p = 0; p < n; ) {
    let e = p;
    if (prompt.slotIndex[p]! < 0) {
      while (e < n && prompt.slotIndex[e]! < 0) e++;
      out.push({ tokens: prompt.inputIds.slice(p, e) });
    } else {
      const rows: number[] = [];
      while (e < n && prompt.slotIndex[e]! >= 0) rows.push(prompt.slotIndex[e++]!);
      const emb = new Float32Array(rows.length * width);
      rows.forEach((row, i) => {
        emb.set(softRows!.subarray(row * width, (row + 1) * width), i * width);
      });
      out.push({ embeddings: emb });
      embeddingRows.push(rows);
    }
    p = e;
  }
  return { segments: out, embeddingRows };
}
