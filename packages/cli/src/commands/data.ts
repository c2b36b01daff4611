import { inspectDataset, prepareAmazon, synthesize } from "@dep/core";
import type { Command } from "commander";
import { type DataFlags, dataSource, mainOption, metaOption } from "../dataOptions.js";
import { integer, positiveInt, seed } from "../numbers.js";
import { addForceWithOldOverwrite, assertNotOnInputs } from "../outputs.js";
import { Progress } from "../progress.js";
import { shutdownSignal, threadsOption } from "../runtime.js";

export function registerData(program: Command): void {
  const data = program
    .command("data")
    .description("datasets: synthesize, prepare Amazon Reviews'23, inspect")
    .addHelpText(
      "after",
      "\nExample:\n  $ dep data synth --users 200 --out data/synth\n  $ dep data inspect data/synth",
    );

  const synth = data
    .command("synth")
    .description(
      "write a synthetic population with planted user differences, in the DPL format (+ ground truth)",
    )
    .option("--users <n>", "number of users (>= 10)", integer(10, 10_000_000), 200)
    .option("--items <n>", "approximate number of items (default: about one per 10 reviews)", positiveInt)
    .option("--seed <n>", "seed (same seed, same data)", seed, 42)
    .requiredOption("--out <dir>", "output dataset folder")
    .option("--categories <names...>", "categories (default: Books Movies_and_TV CDs_and_Vinyl)")
    .option("--raw", "also write the reviews in the raw Amazon Reviews'23 schema under OUT/raw/", false)
    .option("--json", "print the result as JSON", false);
  addForceWithOldOverwrite(synth)
    .addHelpText("after", "\nExample:\n  $ dep data synth --users 200 --seed 42 --out data/synth")
    .action(async (o) => {
      const progress = new Progress({ label: "synth", unit: "users", quiet: o.json });
      const r = await synthesize({
        users: o.users,
        ...(o.items ? { items: o.items } : {}),
        seed: o.seed,
        outDir: o.out,
        ...(o.categories ? { categories: o.categories } : {}),
        raw: o.raw,
        overwrite: o.force,
        signal: shutdownSignal,
        onProgress: (p) => progress.update(p.users, p.total),
      });
      progress.done();
      const summary = { out: o.out, users: r.users, items: r.items, reviews: r.reviews, rows: r.rows };
      console.log(
        o.json
          ? JSON.stringify(summary)
          : `${o.out}: ${r.users} users, ${r.items} items, ${r.reviews} reviews, ${r.rows} rows`,
      );
    });

  const prepare = data
    .command("prepare")
    .description("turn raw Amazon Reviews'23 files into the DPL format (SPEC §1), out of core on DuckDB")
    .requiredOption("--reviews <files...>", "raw review files or folders (.jsonl, .jsonl.gz, .parquet)")
    .requiredOption("--meta <files...>", "raw item metadata files or folders")
    .requiredOption("--category <name>", "category name for the output")
    .requiredOption("--out <dir>", "output dataset folder")
    .option("--memory-limit <size>", "DuckDB memory limit (it spills to disk beyond)", "2GB")
    .addOption(threadsOption("DuckDB threads"))
    .option("--temp-dir <dir>", "where DuckDB spills")
    .option("--format <f>", "output format: jsonl or parquet", "jsonl")
    .option("--skip-bad", "skip malformed JSON lines instead of failing", false)
    .option("--json", "print the result as JSON", false);
  addForceWithOldOverwrite(prepare)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep data prepare --reviews Books.jsonl.gz --meta meta_Books.jsonl.gz --category Books --out data/books",
    )
    .action(async (o) => {
      assertNotOnInputs(o.out, [...o.reviews, ...o.meta]);
      if (o.tempDir) assertNotOnInputs(o.tempDir, [...o.reviews, ...o.meta], "--temp-dir");
      const r = await prepareAmazon({
        reviews: o.reviews,
        meta: o.meta,
        category: o.category,
        outDir: o.out,
        memoryLimit: o.memoryLimit,
        threads: o.threads,
        ...(o.tempDir ? { tempDir: o.tempDir } : {}),
        format: o.format,
        skipBad: o.skipBad,
        overwrite: o.force,
        onProgress: (p) => {
          if (!o.json && process.stderr.isTTY)
            process.stderr.write(`[${(p.elapsedMs / 1000).toFixed(1)}s] ${p.stage}: ${p.message}\n`);
        },
      });
      console.log(
        o.json
          ? JSON.stringify(r)
          : `${o.out}: prepared in ${r.seconds.toFixed(1)} s; ${JSON.stringify(r.manifest.counts)}`,
      );
    });

  data
    .command("inspect")
    .description("counts per split and category, history-length and peers-per-item distributions")
    .argument("[dir]", "dataset folder (or give --main and --meta)")
    .addOption(mainOption())
    .addOption(metaOption())
    .option("--json", "print the report as JSON", false)
    .addHelpText("after", "\nExample:\n  $ dep data inspect data/synth")
    .action(async (dir: string | undefined, o: DataFlags & { json: boolean }) => {
      const report = await inspectDataset(dataSource({ ...o, ...(dir !== undefined ? { data: dir } : {}) }));
      if (o.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`categories: ${report.categories.join(", ")}`);
      for (const c of report.categories) {
        console.log(
          `  ${c}: rows ${JSON.stringify(report.rows[c])}, users ${report.users[c]}, items ${report.items[c]}`,
        );
      }
      for (const [split, d] of Object.entries(report.historyLength)) {
        console.log(`history length (${split}): ${JSON.stringify(d)}`);
      }
      console.log(`reviewers per item: ${JSON.stringify(report.reviewersPerItem)}`);
      console.log(`items with peers: ${(100 * report.itemsWithPeers).toFixed(1)}%`);
      console.log(`review length: ${JSON.stringify(report.reviewLength)}`);
      if (report.skipped) console.log(`skipped rows: ${report.skipped}`);
    });
}
