// Turns a built prompt plus its soft rows (and marker rows) into the segment list the frozen-LLM API takes.
import { DepError, type Segment } from "@dep/native-cuda";
import type { BuiltPrompt } from "./types.js";

/**
 * softRows holds the 2k rows [his_0..his_{k-1}; diff_0..diff_{k-1}] of width `width` (the LLM's nEmbd),
 * k = the prompt's soft pairs; markerRows the 4 marker rows [4, width] when the prompt has marker positions
 * (--markers rows). Consecutive rows (slots and markers) are merged into one embeddings segment.
 */
export function promptSegments(
  prompt: BuiltPrompt,
  softRows: Float32Array | null,
  width: number,
  markerRows: Float32Array | null = null,
): Segment[] {
  return promptSegmentsWithRows(prompt, softRows, width, markerRows).segments;
}

/**
 * Like promptSegments, and also says which soft rows fill each embeddings segment, in order
 * (`embeddingRows[e]` for the e-th embeddings segment; -1 for a marker row, which is frozen) — what maps
 * LLM gradients back to soft rows.
 */
export function promptSegmentsWithRows(
  prompt: BuiltPrompt,
  softRows: Float32Array | null,
  width: number,
  markerRows: Float32Array | null = null,
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
  const hasMarkers = prompt.markerIndex.some((m) => m >= 0);
  if (hasMarkers && (!markerRows || markerRows.length !== 4 * width)) {
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      `the prompt has marker rows (--markers rows) but ${markerRows ? `${markerRows.length} values` : "none"} were given; it needs 4 rows of width ${width}`,
    );
  }
  // tokens as the builder tokenized them (its BOS rule included); consecutive rows merge into one segment
  const isRow = (p: number) => prompt.slotIndex[p]! >= 0 || prompt.markerIndex[p]! >= 0;
  const out: Segment[] = [];
  const embeddingRows: number[][] = [];
  const n = prompt.inputIds.length;
  for (let p = 0; p < n; ) {
    let e = p;
    if (!isRow(p)) {
      while (e < n && !isRow(e)) e++;
      out.push({ tokens: prompt.inputIds.slice(p, e) });
    } else {
      while (e < n && isRow(e)) e++;
      const emb = new Float32Array((e - p) * width);
      const rows: number[] = [];
      for (let q = p; q < e; q++) {
        const slot = prompt.slotIndex[q]!;
        const src = slot >= 0 ? softRows! : markerRows!;
        const row = slot >= 0 ? slot : prompt.markerIndex[q]!;
        emb.set(src.subarray(row * width, (row + 1) * width), (q - p) * width);
        rows.push(slot);
      }
      out.push({ embeddings: emb });
      embeddingRows.push(rows);
    }
    p = e;
  }
  return { segments: out, embeddingRows };
}
