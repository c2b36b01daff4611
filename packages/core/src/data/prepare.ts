// `prepareAmazon`: raw Amazon Reviews'23 files -> DPL, by SPEC-DEP §1 exactly, out of core on DuckDB.
// DuckDB works in a file-backed database beside the output with a memory limit, spilling to disk beyond it,
// so peak memory does not grow with the input (Books: ~29M reviews). The open choices in §1 (tie orders,
// dedup semantics, duplicate meta rows) are fixed as documented in prepareReference.ts, which is the in-memory
// transcription this implementation is tested against.
import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { writeDirAtomic, writeJsonAtomic } from "../io/atomic.js";
import { parseByteSize } from "../util/byteSize.js";
import { discoverFiles, type SourceFile } from "./files.js";
import type { DatasetManifest } from "./load.js";
import type { PrepareStats } from "./prepareReference.js";

export interface PrepareAmazonOptions {
  /** raw review files or folders (.jsonl, .jsonl.gz, .parquet; Amazon Reviews'23 schema) */
  reviews: string | readonly string[];
  /** raw item metadata files or folders (same formats) */
  meta: string | readonly string[];
  /** category name for the output (letters, digits, `_ . -`) */
  category: string;
  /** output dataset folder (our layout; must not exist unless `overwrite`) */
  outDir: string;
  /** DuckDB memory limit, e.g. "2GB" (default "2GB"); beyond it DuckDB spills to `tempDir` */
  memoryLimit?: string;
  /** DuckDB threads (default: available parallelism) */
  threads?: number;
  /** where DuckDB spills (default: a work folder beside `outDir`, removed afterwards) */
  tempDir?: string;
  /** output file format (default "jsonl"; "parquet" writes snappy-compressed hub-style files) */
  format?: "jsonl" | "parquet";
  /** skip malformed JSON lines instead of failing (DuckDB's ignore_errors; they are not counted individually) */
  skipBad?: boolean;
  overwrite?: boolean;
  /** stage-by-stage progress */
  onProgress?: (p: { stage: string; message: string; elapsedMs: number }) => void;
}

export interface PrepareAmazonResult {
  manifest: DatasetManifest;
  stats: PrepareStats;
  seconds: number;
}

const WS_RE2 =
  "[\\t\\n\\x{0b}\\x{0c}\\r\\x{1c}-\\x{1f} \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]+";

function q(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function source(files: SourceFile[], columns: Record<string, string>, skipBad: boolean): string {
  const parts: string[] = [];
  const json = files.filter((f) => f.kind !== "parquet").map((f) => q(f.path));
  const pq = files.filter((f) => f.kind === "parquet").map((f) => q(f.path));
  const cols = Object.keys(columns);
  if (json.length > 0) {
    const spec = `{${cols.map((c) => `${q(c)}: ${q(columns[c]!)}`).join(", ")}}`;
    parts.push(
      `SELECT ${cols.map((c) => `"${c}"`).join(", ")} FROM read_json([${json.join(", ")}], format='newline_delimited', ` +
        `compression='auto_detect', columns=${spec}${skipBad ? ", ignore_errors=true" : ""})`,
    );
  }
  if (pq.length > 0) {
    parts.push(
      `SELECT ${cols.map((c) => `TRY_CAST("${c}" AS ${columns[c]}) AS "${c}"`).join(", ")} FROM read_parquet([${pq.join(", ")}], union_by_name=true)`,
    );
  }
  return parts.join(" UNION ALL ");
}

async function count(c: DuckDBConnection, sql: string): Promise<number> {
  const r = await c.runAndReadAll(sql);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/** Prepares one category of raw Amazon Reviews'23 into a DPL dataset folder (atomically). */
export async function prepareAmazon(options: PrepareAmazonOptions): Promise<PrepareAmazonResult> {
  const t0 = performance.now();
  const cat = options.category;
  if (!/^[A-Za-z0-9_.-]+$/.test(cat)) {
    throw new DepError(
      "DEP_INVALID_ARGUMENT",
      `category ${JSON.stringify(cat)}: use letters, digits, _ . - only`,
    );
  }
  const reviewFiles = await discoverFiles(options.reviews);
  const metaFiles = await discoverFiles(options.meta);
  if (reviewFiles.length === 0) throw new DepError("DEP_INPUT", "prepare: no review files found");
  if (metaFiles.length === 0) throw new DepError("DEP_INPUT", "prepare: no meta files found");
  const format = options.format ?? "jsonl";
  const progress = (stage: string, message: string) =>
    options.onProgress?.({ stage, message, elapsedMs: Math.round(performance.now() - t0) });

  const diskFull = (err: unknown) =>
    new DepError(
      "DEP_DISK_FULL",
      `prepare: the disk is full (${(err as Error).message.split("\n")[0]!.trim()}); free space under ${dirname(options.outDir)}${options.tempDir ? ` and ${options.tempDir}` : ""}, or point --temp-dir at a larger disk`,
      { cause: err },
    );
  return writeDirAtomic(
    options.outDir,
    async (dir) => {
      const work = join(dir, ".work");
      parseByteSize(options.memoryLimit ?? "2GB", "memory limit");
      await mkdir(work, { recursive: true });
      const db = await DuckDBInstance.create(join(work, "prepare.duckdb"), {
        memory_limit: options.memoryLimit ?? "2GB",
        threads: String(options.threads ?? availableParallelism()),
        temp_directory: options.tempDir ?? join(work, "spill"),
        preserve_insertion_order: "false",
      });
      const c = await db.connect();
      const run = async (sql: string) => {
        try {
          await c.run(sql);
        } catch (err) {
          const msg = (err as Error).message;
          // a full disk is not bad input: DuckDB reports it as an IO Error too
          if (isDiskFull(err)) throw diskFull(err);
          const isInput = /JSON|Parquet|parquet|cast|Conversion|No files found|IO Error/i.test(msg);
          throw new DepError(
            isInput ? "DEP_INPUT" : "DEP_PREPARE",
            isInput
              ? `prepare: bad input: ${msg}${options.skipBad ? "" : " (fix the file, or pass --skip-bad to skip malformed lines)"}`
              : `prepare: DuckDB failed in \`${sql.trim().replace(/\s+/g, " ").slice(0, 80)}...\`: ${msg}`,
            { cause: err },
          );
        }
      };
      try {
        // ---- inputs ----
        progress("read", `reading ${metaFiles.length} meta file(s)`);
        await run(
          `CREATE TABLE raw_meta AS ${source(
            metaFiles,
            {
              parent_asin: "VARCHAR",
              title: "VARCHAR",
              description: "VARCHAR[]",
              categories: "VARCHAR[]",
              rating_number: "DOUBLE",
            },
            options.skipBad ?? false,
          )}`,
        );
        const itemsIn = await count(c, "SELECT count(*) FROM raw_meta");
        // ---- step 1 ----
        await run(`CREATE TABLE items AS
          WITH d AS (
            SELECT parent_asin AS asin, title, rating_number, categories,
              CASE WHEN description IS NULL OR len(description) = 0 THEN ''
                   WHEN len(description) = 1 AND description[1] = 'Product Description' THEN ''
                   WHEN description[1] = 'Product Description' THEN array_to_string(description[2:], ' ')
                   ELSE array_to_string(description, ' ') END AS description
            FROM raw_meta WHERE parent_asin IS NOT NULL)
          SELECT asin, title, description FROM d
          WHERE length(description) BETWEEN 100 AND 2000 AND title IS NOT NULL AND title <> ''
            AND categories IS NOT NULL AND len(categories) > 0 AND rating_number > 0
          QUALIFY row_number() OVER (PARTITION BY asin ORDER BY rating_number DESC, title ASC, description ASC) = 1`);
        await run("DROP TABLE raw_meta");
        const itemsAfterStep1 = await count(c, "SELECT count(*) FROM items");
        progress("step1", `${itemsAfterStep1} of ${itemsIn} items kept`);

        // ---- step 2 ----
        progress("read", `reading ${reviewFiles.length} review file(s)`);
        await run(
          `CREATE TABLE raw_reviews AS ${source(
            reviewFiles,
            {
              user_id: "VARCHAR",
              parent_asin: "VARCHAR",
              title: "VARCHAR",
              text: "VARCHAR",
              rating: "DOUBLE",
              timestamp: "BIGINT",
            },
            options.skipBad ?? false,
          )}`,
        );
        const reviewsIn = await count(c, "SELECT count(*) FROM raw_reviews");
        await run(`CREATE TABLE r AS
          SELECT row_number() OVER () AS rid, user_id AS u, parent_asin AS asin, title, text, rating, "timestamp" AS ts
          FROM raw_reviews
          WHERE user_id IS NOT NULL AND text IS NOT NULL AND length(text) >= 200 AND rating IS NOT NULL
            AND title IS NOT NULL AND title <> '' AND "timestamp" IS NOT NULL
            AND parent_asin IN (SELECT asin FROM items)`);
        await run("DROP TABLE raw_reviews");
        const reviewsAfterStep2 = await count(c, "SELECT count(*) FROM r");
        progress("step2", `${reviewsAfterStep2} of ${reviewsIn} reviews kept`);

        // ---- step 3: dedup (greedy newest-first walk, resolved in rounds), then the fixed-point loop ----
        // Both run on narrow tables (row id, user, item, text hash); the full rows are joined back in step 4.
        await run(`CREATE TABLE flagged AS
          WITH rn AS (
            SELECT rid, u, asin, md5_number(text) AS th,
              row_number() OVER (PARTITION BY u ORDER BY ts DESC, asin DESC, text DESC) AS ord
            FROM r)
          SELECT *, ord = min(ord) OVER (PARTITION BY u, asin) AND ord = min(ord) OVER (PARTITION BY u, th) AS first
          FROM rn`);
        await run("CREATE TABLE kept AS SELECT rid, u, asin, th, ord FROM flagged WHERE first");
        await run(`CREATE TABLE cand AS SELECT rid, u, asin, th, ord FROM flagged f
          WHERE NOT first
            AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.u = f.u AND k.asin = f.asin)
            AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.u = f.u AND k.th = f.th)`);
        await run("DROP TABLE flagged");
        while ((await count(c, "SELECT count(*) FROM cand")) > 0) {
          await run(`CREATE OR REPLACE TABLE nk AS SELECT rid, u, asin, th, ord FROM cand
            QUALIFY ord = min(ord) OVER (PARTITION BY u, asin) AND ord = min(ord) OVER (PARTITION BY u, th)`);
          await run("INSERT INTO kept SELECT * FROM nk");
          await run(`CREATE OR REPLACE TABLE cand AS SELECT * FROM cand f
            WHERE NOT EXISTS (SELECT 1 FROM nk k WHERE k.u = f.u AND k.asin = f.asin)
              AND NOT EXISTS (SELECT 1 FROM nk k WHERE k.u = f.u AND k.th = f.th)`);
        }
        await run("DROP TABLE cand");
        await run("DROP TABLE IF EXISTS nk");
        const reviewsAfterDedup = await count(c, "SELECT count(*) FROM kept");
        progress("step3", `${reviewsAfterDedup} reviews after per-user dedup`);
        let step3Iterations = 0;
        let n = reviewsAfterDedup;
        for (;;) {
          step3Iterations++;
          await run(`CREATE OR REPLACE TABLE kept AS SELECT * FROM kept
            WHERE asin IN (SELECT asin FROM kept GROUP BY asin HAVING count(DISTINCT u) >= 8)`);
          await run(`CREATE OR REPLACE TABLE kept AS SELECT * FROM kept
            WHERE u IN (SELECT u FROM kept GROUP BY u HAVING count(*) BETWEEN 18 AND 500)`);
          const m = await count(c, "SELECT count(*) FROM kept");
          progress("step3", `iteration ${step3Iterations}: ${m} reviews`);
          if (m === n) break;
          n = m;
        }
        const usersAfterStep3 = await count(c, "SELECT count(DISTINCT u) FROM kept");

        // ---- step 4 ----
        await run(`CREATE TABLE s4 AS SELECT r.u, r.asin, r.title, r.rating, r.ts,
            regexp_replace(regexp_replace(r.text, '${WS_RE2}', ' ', 'g'), '^ | $', '', 'g') AS text,
            row_number() OVER (PARTITION BY r.u ORDER BY r.ts, r.asin, r.text) AS pos,
            count(*) OVER (PARTITION BY r.u) AS n
          FROM r WHERE r.rid IN (SELECT rid FROM kept)`);
        await run("DROP TABLE kept");
        await run("DROP TABLE r");
        // ---- step 5 ----
        await run("CREATE TABLE pk AS SELECT u, asin FROM s4 WHERE pos <= n - 10");
        let step5Iterations = 0;
        let np = await count(c, "SELECT count(*) FROM pk");
        for (;;) {
          step5Iterations++;
          await run(`CREATE OR REPLACE TABLE pk AS SELECT * FROM pk
            WHERE asin IN (SELECT asin FROM pk GROUP BY asin HAVING count(DISTINCT u) >= 5)`);
          await run(`CREATE OR REPLACE TABLE pk AS SELECT * FROM pk
            WHERE u IN (SELECT u FROM pk GROUP BY u HAVING count(*) >= 8)`);
          const m = await count(c, "SELECT count(*) FROM pk");
          progress("step5", `iteration ${step5Iterations}: ${m} profile reviews`);
          if (m === np) break;
          np = m;
        }
        // ---- step 6 ----
        // The final reviews, then per-user lists built and written in buckets of users (in user order) small
        // enough for the memory limit: DuckDB's list aggregate does not spill, so one big GROUP BY would.
        await run(`CREATE TABLE fin AS
          SELECT s.u, s.asin, s.title, s.rating, s.ts, s.text, s.pos FROM s4 s
          WHERE s.u IN (SELECT u FROM pk)
            AND (s.pos > s.n - 10 OR EXISTS (SELECT 1 FROM pk WHERE pk.u = s.u AND pk.asin = s.asin))`);
        await run("DROP TABLE s4");
        await run("DROP TABLE pk");
        // Memory in this step is per vector of users (each train row repeats a user's history), so users are cut
        // into buckets of about 1/64 of the memory limit of review bytes and at most 1024 users; each bucket is
        // written as its own shard (`<split>-NNNNN-of-NNNNN`). (An ORDER BY inside list() allocates per group and
        // does not spill, so lists are sorted afterwards instead.)
        const bucketBytes = Math.max(
          1 << 20,
          Math.floor(parseByteSize(options.memoryLimit ?? "2GB", "memory limit") / 64),
        );
        await run(`CREATE TABLE ub AS
          WITH ub0 AS (SELECT u, sum(strlen(text) + strlen(title) + 64) AS b FROM fin GROUP BY u)
          SELECT u,
            CAST(floor(coalesce(sum(b) OVER (ORDER BY u ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / ${bucketBytes}) AS BIGINT) AS b1,
            CAST(floor((row_number() OVER (ORDER BY u) - 1) / 1024) AS BIGINT) AS b2
          FROM ub0`);
        await run(`CREATE TABLE ub2 AS
          SELECT u, dense_rank() OVER (ORDER BY b1, b2) - 1 AS bucket FROM ub`);
        await run("DROP TABLE ub");
        // stored in bucket order, so each bucket's scan skips the other row groups (zone maps); from here on
        // insertion order is kept (the COPYs below rely on it too)
        await run("SET preserve_insertion_order = true");
        await run(
          "CREATE TABLE finb AS SELECT f.*, ub2.bucket FROM fin f JOIN ub2 USING (u) ORDER BY ub2.bucket, f.u",
        );
        await run("DROP TABLE fin");
        const users = await count(c, "SELECT count(*) FROM ub2");
        const buckets = users === 0 ? 0 : (await count(c, "SELECT max(bucket) FROM ub2")) + 1;
        const items = await count(c, "SELECT count(DISTINCT asin) FROM finb");
        progress("step6", `${users} users, ${items} items; writing DPL files in ${buckets} part(s)`);
        await mkdir(join(dir, "main", cat), { recursive: true });
        await mkdir(join(dir, "meta", cat), { recursive: true });
        const fmt =
          format === "parquet"
            ? "(FORMAT PARQUET, COMPRESSION SNAPPY, ROW_GROUP_SIZE 2048)"
            : "(FORMAT JSON)";
        const ext = format === "parquet" ? ".parquet" : ".jsonl";
        const splits: Array<[string, string]> = [
          ["train", "range(0, 8)"],
          ["val", "range(8, 9)"],
          ["test", "range(9, 10)"],
        ];
        const shard = (b: number, n: number) =>
          n <= 1 && format === "jsonl"
            ? ""
            : `-${String(b).padStart(5, "0")}-of-${String(Math.max(1, n)).padStart(5, "0")}`;
        for (let b = 0; b < Math.max(1, buckets); b++) {
          await run(`CREATE OR REPLACE TABLE ul AS
            SELECT f.u,
              list_transform(
                list_sort(list({'pos': pos, 'asin': asin, 'rating': rating, 'title': title, 'text': text, 'timestamp': ts})),
                x -> {'asin': x.asin, 'rating': x.rating, 'title': x.title, 'text': x.text, 'timestamp': x.timestamp}) AS l,
              count(*) - 10 AS p0
            FROM finb f WHERE f.bucket = ${b} GROUP BY f.u ORDER BY f.u`);
          // no ORDER BY here (a sort of the 10x-expanded nested rows would not spill well): rows come out in table
          // order, user by user (ul is stored sorted; insertion order is preserved for these plain scans)
          for (const [split, range] of splits) {
            await run(`COPY (
                SELECT u AS user_id, ${q(cat)} AS category, r.profile AS profile, r.data AS data FROM (
                  SELECT u, unnest(list_transform(${range}, i -> {'profile': l[1:p0 + i], 'data': l[p0 + i + 1]})) AS r
                  FROM ul))
              TO ${q(join(dir, "main", cat, `${split}${shard(b, buckets)}${ext}`))} ${fmt}`);
          }
          progress("write", `part ${b + 1} of ${Math.max(1, buckets)}`);
        }
        await run("DROP TABLE IF EXISTS ul");
        await run(`COPY (
            SELECT asin, title, description FROM items
            WHERE asin IN (SELECT DISTINCT asin FROM finb) ORDER BY asin)
          TO ${q(join(dir, "meta", cat, format === "parquet" ? "full-00000-of-00001.parquet" : "meta.jsonl"))} ${fmt}`);
        const stats: PrepareStats = {
          itemsIn,
          itemsAfterStep1,
          reviewsIn,
          reviewsAfterStep2,
          reviewsAfterDedup,
          step3Iterations,
          usersAfterStep3,
          step5Iterations,
          users,
          items,
          rows: users * 10,
        };
        if (users === 0) {
          // an empty dataset is never what was asked for: say which stage emptied it
          throw new DepError(
            "DEP_NO_ROWS",
            `no user survived the DPL filters (SPEC §1): read ${reviewsIn} reviews and ${itemsIn} items; ` +
              `${itemsAfterStep1} items passed step 1, ${reviewsAfterStep2} reviews step 2, ${usersAfterStep3} users step 3, 0 step 5. ` +
              (reviewsAfterStep2 === 0 && reviewsIn > 0 && itemsAfterStep1 > 0
                ? "No review is of a kept item: is --meta the metadata of the same category as --reviews?"
                : "Give more data (each user needs >= 18 reviews, each item >= 8 reviewers)"),
          );
        }
        c.closeSync();
        db.closeSync();
        await rm(work, { recursive: true, force: true });
        const manifest: DatasetManifest = {
          format: "dep-dpl",
          version: 1,
          source: "amazon-reviews-2023",
          categories: [cat],
          counts: { [cat]: { train: users * 8, val: users, test: users } },
          items: { [cat]: items },
          prepare: stats,
        };
        await writeJsonAtomic(join(dir, "dataset.json"), manifest);
        progress("done", `${users} users, ${items} items`);
        return { manifest, stats, seconds: (performance.now() - t0) / 1000 };
      } catch (err) {
        try {
          c.closeSync();
          db.closeSync();
        } catch {
          // already closed
        }
        throw err;
      }
    },
    { overwrite: options.overwrite ?? false },
  ).catch((err: unknown) => {
    // also when DuckDB cannot even create its database file, or one of our own writes fails
    if (isDiskFull(err) && !(err instanceof DepError && err.code === "DEP_DISK_FULL")) throw diskFull(err);
    throw err;
  });
}

/** ENOSPC / EDQUOT from Node, or DuckDB's IO error for the same. */
function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  const message = (err as Error | null)?.message ?? "";
  return (
    code === "ENOSPC" ||
    code === "EDQUOT" ||
    /No space left on device|ENOSPC|disk is full|quota exceeded/i.test(message)
  );
}
