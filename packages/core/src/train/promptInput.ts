// Connects a dataset sample to the prompt builder: the target item and the history reviews whose soft
// rows fill the slots, in slot order (SPEC §3 alignment, or the reference quirk when asked).
import { DepError } from "@dep/native-cuda";
import { type Dataset, type DplRow, itemKey } from "../data/types.js";
import type { SampleInfo } from "../peers/samples.js";
import type { PromptInput, PromptItem } from "../prompt/types.js";

function item(ds: Dataset, category: string, asin: string, where: string): PromptItem {
  const meta = ds.items.get(itemKey(category, asin));
  if (!meta) {
    throw new DepError(
      "DEP_INPUT_MISSING_ITEM",
      `${where}: item ${asin} (${category}) is not in the item metadata`,
    );
  }
  return { title: meta.title, description: meta.description };
}

export function promptInputFor(
  ds: Dataset,
  row: DplRow,
  sample: Pick<SampleInfo, "id" | "promptReviews">,
): PromptInput {
  return {
    target: {
      item: item(ds, row.category, row.data.asin, sample.id),
      rating: row.data.rating,
      title: row.data.title,
    },
    history: sample.promptReviews.map((j) => {
      const r = row.profile[j];
      if (!r) throw new DepError("DEP_INPUT", `${sample.id}: profile review ${j} does not exist`);
      return {
        item: item(ds, row.category, r.asin, sample.id),
        rating: r.rating,
        title: r.title,
        text: r.text,
      };
    }),
  };
}

/** X of one sample trimmed to its first k slot pairs: [1, 16, d] with his rows 0..k-1, diff rows 8..8+k-1. */
export function trimSampleX(x: Float32Array, sampleIndex: number, k: number, d: number): Float32Array {
  const rows = 16;
  const base = sampleIndex * rows * d;
  const out = new Float32Array(rows * d);
  out.set(x.subarray(base, base + k * d), 0);
  out.set(x.subarray(base + 8 * d, base + (8 + k) * d), 8 * d);
  return out;
}
