// The DPL data model (SPEC-DEP §1.6) and its validation schemas. Validation happens at the edges (loaders);
// inside the library the types are trusted.
import { z } from "zod";

export type Split = "train" | "val" | "test";
export const SPLITS: readonly Split[] = ["train", "val", "test"];

/** One review as DPL stores it. `timestamp` is milliseconds since the epoch (Amazon Reviews'23 convention). */
export interface Review {
  asin: string;
  rating: number;
  title: string;
  text: string;
  timestamp: number;
}

/** One DPL-main row: a user's history (`profile`, time ascending) and the review to write (`data`). */
export interface DplRow {
  userId: string;
  category: string;
  split: Split;
  profile: Review[];
  data: Review;
}

/** One DPL-meta row. */
export interface ItemMeta {
  asin: string;
  title: string;
  description: string;
  category: string;
}

/** A loaded dataset. Rows keep file order within each (category, split); reviews shared between rows are one object. */
export interface Dataset {
  rows: DplRow[];
  /** key: `${category}\u0000${asin}` (see `itemKey`) */
  items: Map<string, ItemMeta>;
  categories: string[];
  skipped: SkipReport;
}

/** Row-level problems turned into skips by `skipBad`; `examples` keeps the first few messages. */
export interface SkipReport {
  count: number;
  examples: string[];
}

export function itemKey(category: string, asin: string): string {
  return `${category}\u0000${asin}`;
}

/** A stable id for a sample: unique within a dataset because a user's rows in one split differ in history length. */
export function sampleId(row: Pick<DplRow, "category" | "userId" | "split" | "profile">): string {
  return `${row.category}/${row.userId}/${row.split}/${row.profile.length}`;
}

// ---- schemas ----

const timestampSchema = z.union([
  z.number().int().nonnegative(),
  z.bigint().transform((b) => Number(b)),
  z
    .string()
    .regex(/^\d+$/, "expected an integer timestamp (ms since epoch)")
    .transform((s) => Number(s)),
]);

export const reviewSchema = z.object({
  asin: z.string().min(1),
  rating: z.union([
    z.number().finite(),
    z.bigint().transform((b) => Number(b)),
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, "expected a number")
      .transform(Number),
  ]),
  title: z.string(),
  text: z.string(),
  timestamp: timestampSchema,
});

export const mainRowSchema = z.object({
  user_id: z.string().min(1),
  profile: z.array(reviewSchema),
  data: reviewSchema,
  category: z.string().min(1).optional().nullable(),
});

export const metaRowSchema = z.object({
  asin: z.string().min(1),
  title: z
    .string()
    .nullable()
    .transform((s) => s ?? ""),
  description: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .transform((d) => (d === null ? "" : Array.isArray(d) ? d.join(" ") : d)),
  category: z.string().min(1).optional().nullable(),
});

/** Formats the first zod issue as `field a.b[2].c: message`. */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "invalid value";
  const path = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
  return `field ${path || "(row)"}: ${issue.message}`;
}
