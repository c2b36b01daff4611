// `dep bench`: runs one of the project's benchmark scripts with this node and forwards its exit code. The
// scripts live beside the packages' sources (not in dist), so this works in a source checkout.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { DepError } from "@dep/native-cuda";
import type { Command } from "commander";
import { threadCount } from "../numbers.js";

interface Benchmark {
  name: string;
  description: string;
  /** the package whose folder holds the script */
  pkg: string;
  /** the script, relative to the package folder */
  script: string;
  /** a TypeScript source compiled (tsc -p tsconfig) into `script` first */
  compile?: { source: string; tsconfig: string };
  /** the script's own options, for the help */
  options: string;
  example: string;
}

const BENCHMARKS: Benchmark[] = [
  {
    name: "kernels",
    description: "SAE, projector, AdamW and difference-embedding kernels (the C++ bench_kernels)",
    pkg: "@dep/native-cuda",
    script: "bench/run.mjs",
    options:
      "  --json                 one JSON document instead of the table\n" +
      "  --runs <n>             timed runs per kernel, median shown (default: 20)\n" +
      "  --quick                smaller shapes\n" +
      "  --reference            also time the scalar reference kernels\n" +
      "  --backend <b>          cpu | cuda | all (default: all)",
    example: "dep bench kernels --threads 2 -- --quick --backend cpu",
  },
  {
    name: "llm",
    description: "TinyLlama prompt and generation tokens/s (dep and node-llama-cpp), and lossAndGrad",
    pkg: "@dep/native-cuda",
    script: "bench/llm.mjs",
    options:
      "  --json                 one JSON document instead of the tables\n" +
      "  --model <gguf>         the LLM (default: the cached TinyLlama)\n" +
      "  --gen <n>              generated tokens (default: 32)\n" +
      "  --repeat <n>           runs, the best is shown (default: 2)\n" +
      "  --grad <modes>         lossAndGrad modes (default: f32/f16,f16/f16)\n" +
      "  --skip-peer            no node-llama-cpp comparison",
    example: "dep bench llm --threads 2 -- --gen 16 --skip-peer",
  },
  {
    name: "engine",
    description:
      "one training step (lossAndGrad) on TinyLlama: the ggml graph and the native engine, f32 and bf16",
    pkg: "@dep/native-cuda",
    script: "bench/engine.mjs",
    options:
      "  --json                 one JSON object on the last line instead of the table\n" +
      "  --model <gguf>         the LLM (default: the cached TinyLlama)\n" +
      "  --positions <list>     prompt + target positions (default: 384,1024,3072)\n" +
      "  --skip-3072            leave out the 3072-position rows (slow on the ggml graph)\n" +
      "  --engines <list>       ggml,native (default: both)\n" +
      "  --dtypes <list>        the native engine's dtypes (default: f32,bf16, those this machine runs)",
    example: "dep bench engine --threads 2 -- --positions 384 --json",
  },
  {
    name: "data",
    description: "the data pipeline stage by stage: synth, prepare, embed, store, diff (wall, CPU, peak RSS)",
    pkg: "@dep/core",
    script: "build/bench/bench/data.bench.js",
    compile: { source: "bench/data.bench.ts", tsconfig: "tsconfig.bench.json" },
    options:
      "  --users <n>            users of the raw export (default: 100000)\n" +
      "  --diff-users <n>       users of the DPL set of store, diff (default: 12500)\n" +
      "  --embed-sample <n>     texts timed through use-lite (default: 256)\n" +
      "  --memory <size>        DuckDB memory limit of prepare (default: 1GB)\n" +
      "  --stages <list>        default: synth,prepare,synth-dpl,embed,store,diff\n" +
      "  --work <dir>           work folder (default: a temp folder); --keep keeps it\n" +
      "  --json                 also print every stage's figures as JSON",
    example: "dep bench data -- --users 2000 --diff-users 500",
  },
  {
    name: "serve",
    description: "dep serve under a bounded load on loopback: req/s, p50/p95 latency, gen tok/s, RSS",
    pkg: "@dep/cli",
    script: "bench/serve.mjs",
    options:
      "  --json                 one JSON document instead of the table\n" +
      "  --model <gguf>         the LLM (default: the cached TinyLlama)\n" +
      "  --parallel <n>         dep serve --parallel (default: 4)\n" +
      "  --clients <list>       concurrent clients per row (default: 1,4,16)\n" +
      "  --per-client <n>       requests each client sends in turn (default: 2)\n" +
      "  --gen <n>              new tokens per request (default: 16)\n" +
      "  --prompt <kind>        chat (a short message, default) | item (the DEP prompt of a test item)\n" +
      "  --checkpoint <dir>     serve with soft rows (default: none, the no-soft prompt)\n" +
      "  --rss-requests <n>     short requests while RSS is sampled (default: 1000)",
    example: "dep bench serve --threads 2 -- --clients 1,4 --rss-requests 200",
  },
  {
    name: "serve-batching",
    description:
      "dep serve's continuous batching vs batch-to-completion under a staggered load: req/s, gen tok/s, latency",
    pkg: "@dep/cli",
    script: "bench/serveBatching.mjs",
    options:
      "  --json                 one JSON document instead of the table\n" +
      "  --model <gguf>         the LLM (default: the cached TinyLlama)\n" +
      "  --parallel <n>         dep serve --parallel (default: 4)\n" +
      "  --requests <n>         greedy chat requests, sent one every --gap-ms (default: 24)\n" +
      "  --gap-ms <ms>          between two requests, whatever the answers (default: 300)\n" +
      "  --long <n>             new tokens of every fourth request (default: 64)\n" +
      "  --short <n>            new tokens of the others (default: 8)",
    example: "dep bench serve-batching --threads 2 -- --requests 12 --gap-ms 200",
  },
];

const require = createRequire(import.meta.url);

function packageDir(pkg: string): string {
  return dirname(require.resolve(`${pkg}/package.json`));
}

function missing(path: string, what: string): DepError {
  return new DepError(
    "DEP_ASSET_MISSING",
    `${path}: ${what} is missing; dep bench runs the benchmarks of a source checkout (git clone, pnpm install, pnpm build)`,
  );
}

/** Runs `node args` in `cwd` with the terminal's stdio; resolves to its exit code (128 + signal if killed). */
function runNode(args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

/** Runs a benchmark (compiling it first if it is TypeScript); resolves to the exit code to forward. */
async function runBenchmark(b: Benchmark, args: string[]): Promise<number> {
  const dir = packageDir(b.pkg);
  if (b.compile) {
    const source = join(dir, b.compile.source);
    if (!existsSync(source)) throw missing(source, "the benchmark source");
    let tsc: string;
    try {
      tsc = createRequire(join(dir, "package.json")).resolve("typescript/bin/tsc");
    } catch {
      throw missing(
        join(dir, "node_modules", "typescript"),
        "TypeScript (a dev dependency that compiles it)",
      );
    }
    const code = await runNode([tsc, "-p", b.compile.tsconfig], dir);
    if (code !== 0) return code;
  } else if (!existsSync(join(dir, b.script))) {
    throw missing(join(dir, b.script), "the benchmark script");
  }
  return runNode([join(dir, b.script), ...args], dir);
}

export function registerBench(program: Command): void {
  const bench = program
    .command("bench")
    .description("run the project's benchmarks and print their figures (a source checkout's scripts)")
    .addHelpText("after", "\nExample:\n  $ dep bench kernels --threads 2\n  $ dep bench llm -- --json");
  for (const b of BENCHMARKS) {
    bench
      .command(b.name)
      .description(`${b.description}; exits with the script's exit code`)
      .argument("[args...]", "options for the benchmark script, after --")
      .option("-t, --threads <n>", "CPU threads (default: the benchmark's own, 2)", threadCount)
      .addHelpText(
        "after",
        `\nThe script (${b.pkg}/${b.compile?.source ?? b.script}) takes, after --:\n${b.options}\n` +
          `\nExample:\n  $ ${b.example}`,
      )
      .action(async (extra: string[], o: { threads?: number }) => {
        const args = [...extra];
        if (o.threads !== undefined && !args.includes("--threads")) args.push("--threads", String(o.threads));
        process.exitCode = await runBenchmark(b, args);
      });
  }
}
