// The RAG baseline: the k history reviews most relevant to the target item (BM25 of each history review's
// item title + review title + text against the target item's title and description), shown as text.
import type { Dataset, DplRow } from "../data/types.js";
import { itemKey } from "../data/types.js";
import type { PromptInput, PromptItem } from "../prompt/types.js";
import { Bm25, bm25Tokens } from "./bm25.js";

/** `targetItem` replaces the item metadata of `row.data.asin` (an item the dataset does not have). */
export function ragPromptInput(ds: Dataset, row: DplRow, k: number, targetItem?: PromptItem): PromptInput {
  const meta = (asin: string) => ds.items.get(itemKey(row.category, asin));
  const target = targetItem ?? meta(row.data.asin);
  const docs = row.profile.map((r) => bm25Tokens(`${meta(r.asin)?.title ?? ""} ${r.title} ${r.text}`));
  const chosen = new Bm25(docs).top(bm25Tokens(`${target?.title ?? ""} ${target?.description ?? ""}`), k);
  return {
    target: {
      item: { title: target?.title ?? "", description: target?.description ?? "" },
      rating: row.data.rating,
      title: row.data.title,
    },
    history: chosen.map((j) => {
      const r = row.profile[j]!;
      const m = meta(r.asin);
      return {
        item: { title: m?.title ?? "", description: m?.description ?? "" },
        rating: r.rating,
        title: r.title,
        text: r.text,
      };
    }),
  };
}
