// Data-pipeline benchmark: prints figures, asserts nothing.
//
//   pnpm --filter @dep/core bench:data [-- --users 100000 --diff-users 12500 --embed-sample 256 --memory 1GB
//                                          --threads 2]
//
// Each stage runs in its own child process so its peak RSS (process.resourceUsage().maxRSS, which includes
// DuckDB's native memory) is that stage's alone:
//   synth     synthesize --users (raw Amazon'23 export only: the DPL form repeats every history 10x)
//   prepare   prepareAmazon on the largest category of that export, DuckDB memory limit --memory and
//             --threads threads, parquet out
//   synth-dpl synthesize --diff-users users as DPL (8 train rows per user: 100k train samples at 12,500 users)
//   embed     use-lite throughput on --embed-sample review texts
//   store     an embedding store for every text of the DPL set: random unit vectors, d = 512 (use-lite's size);
//             bench-only stand-in, since use-lite on a 2-core CPU would need hours for ~350k texts
//   diff      load + PeerIndex + difference embeddings for every train sample, streamed to safetensors
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createUseLiteEmbedder,
  datasetTexts,
  EmbeddingStore,
  loadDataset,
  prepareAmazon,
  Rng,
  synthesize,
  textKey,
  writeDiffFile,
} from "../src/index.js";

type Args = Record<string, string>;

function parseArgs(argv: string[]): Args {
  const a: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k.startsWith("--")) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) a[k.slice(2)] = "true";
      else {
        a[k.slice(2)] = v;
        i++;
      }
    }
  }
  return a;
}

async function du(path: string): Promise<number> {
  const out = execFileSync("du", ["-sb", path]).toString();
  return Number(out.split("\t")[0]);
}

async function stage(name: string, args: Args): Promise<Record<string, unknown>> {
  const work = args.work!;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r: Record<string, unknown> = {};
  switch (name) {
    case "synth": {
      const res = await synthesize({
        users: Number(args.users),
        seed: 1,
        outDir: join(work, "raw"),
        rawOnly: true,
      });
      r.users = res.users;
      r.items = res.items;
      r.reviews = res.reviews;
      r.bytes = await du(join(work, "raw"));
      break;
    }
    case "prepare": {
      const cat = "Books";
      const res = await prepareAmazon({
        reviews: join(work, "raw", "raw", cat, "reviews.jsonl"),
        meta: join(work, "raw", "raw", cat, "meta.jsonl"),
        category: cat,
        outDir: join(work, "prepared"),
        memoryLimit: args.memory,
        threads: Number(args.threads),
        format: "parquet",
      });
      r.reviewsIn = res.stats.reviewsIn;
      r.users = res.stats.users;
      r.rows = res.stats.rows;
      r.inputBytes = (await stat(join(work, "raw", "raw", cat, "reviews.jsonl"))).size;
      r.outputBytes = await du(join(work, "prepared"));
      break;
    }
    case "synth-dpl": {
      const res = await synthesize({ users: Number(args["diff-users"]), seed: 2, outDir: join(work, "dpl") });
      r.users = res.users;
      r.rows = res.rows;
      r.reviews = res.reviews;
      r.bytes = await du(join(work, "dpl"));
      break;
    }
    case "embed": {
      const ds = await loadDataset({ dir: join(work, "dpl"), splits: ["test"] });
      const texts = datasetTexts(ds).slice(0, Number(args["embed-sample"]));
      const tl = performance.now();
      const e = await createUseLiteEmbedder({ batchSize: 16 });
      r.modelLoadS = (performance.now() - tl) / 1000;
      const te = performance.now();
      await e.embed(texts);
      const s = (performance.now() - te) / 1000;
      r.texts = texts.length;
      r.meanChars = Math.round(texts.reduce((a, t) => a + t.length, 0) / texts.length);
      r.textsPerSecond = texts.length / s;
      break;
    }
    case "store": {
      const ds = await loadDataset({ dir: join(work, "dpl"), splits: ["test"] });
      const texts = datasetTexts(ds);
      const d = 512;
      const store = await EmbeddingStore.open(join(work, "emb"), {
        create: { embedder: "bench-random-512", dim: d, normalized: true, dtype: "F32" },
      });
      const rng = new Rng(3);
      const chunk = 65536;
      for (let i = 0; i < texts.length; i += chunk) {
        const part = texts.slice(i, i + chunk);
        const v = new Float32Array(part.length * d);
        for (let j = 0; j < v.length; j++) v[j] = rng.float() - 0.5;
        await store.append(part.map(textKey), v);
      }
      await store.compact();
      r.rows = store.size;
      r.bytes = await du(join(work, "emb"));
      break;
    }
    case "diff": {
      const res = await writeDiffFile({
        dataDir: join(work, "dpl"),
        embDir: join(work, "emb"),
        split: "train",
        outFile: join(work, "train.safetensors"),
      });
      r.samples = res.samples;
      r.excluded = res.excluded.count;
      r.loadS = res.timings.loadMs / 1000;
      r.indexS = res.timings.indexMs / 1000;
      r.planS = res.timings.planMs / 1000;
      r.targets = res.targets;
      r.computeS = res.timings.computeMs / 1000;
      r.kernelS = res.timings.kernelMs / 1000;
      r.writeS = res.timings.writeMs / 1000;
      r.peerIndexPlusDiffS = (res.timings.indexMs + res.timings.planMs + res.timings.computeMs) / 1000;
      r.outputBytes = (await stat(res.file)).size;
      break;
    }
    default:
      throw new Error(`unknown stage ${name}`);
  }
  const cpu = process.cpuUsage(cpu0);
  r.wallS = (performance.now() - t0) / 1000;
  r.cpuS = (cpu.user + cpu.system) / 1e6;
  r.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  return r;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.stage) {
    const r = await stage(args.stage, args);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  args.users ??= "100000";
  args["diff-users"] ??= "12500";
  args["embed-sample"] ??= "256";
  args.memory ??= "1GB";
  args.threads ??= "2";
  const work = args.work ?? (await mkdtemp(join(tmpdir(), "dep-bench-")));
  const stages = (args.stages ?? "synth,prepare,synth-dpl,embed,store,diff").split(",");
  const self = fileURLToPath(import.meta.url);
  console.log(
    `dep data bench: users=${args.users} diff-users=${args["diff-users"]} embed-sample=${args["embed-sample"]} ` +
      `duckdb-memory=${args.memory} threads=${args.threads} node=${process.version} work=${work}`,
  );
  const results: Record<string, unknown> = {};
  try {
    for (const s of stages) {
      const flat = Object.entries({ ...args, work, stage: s }).flatMap(([k, v]) => [`--${k}`, v]);
      const out = execFileSync(
        process.execPath,
        ["--max-old-space-size=16384", "--max-semi-space-size=64", self, ...flat],
        {
          stdio: ["ignore", "pipe", "inherit"],
          maxBuffer: 1 << 26,
        },
      )
        .toString()
        .trim()
        .split("\n");
      const r = JSON.parse(out[out.length - 1]!) as Record<string, unknown>;
      results[s] = r;
      const fmt = Object.entries(r)
        .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`)
        .join(" ");
      console.log(`${s.padEnd(10)} ${fmt}`);
    }
  } finally {
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
  if (args.json) console.log(JSON.stringify(results));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
