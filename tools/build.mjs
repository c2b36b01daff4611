#!/usr/bin/env node
// `pnpm build`: one line per stage with its time. The native stages (configure, llama.cpp, addon) print their
// own lines; then turbo builds every package (the native one is up to date by then, and TypeScript compiles),
// its output kept in .turbo/build.log and shown only when it fails. DEP_BUILD_VERBOSE=1 shows everything.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const verbose = process.env.DEP_BUILD_VERBOSE === "1";

function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: options.stdio ?? "inherit", env: process.env });
    if (options.log) {
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (chunk) => {
          options.log.write(chunk);
          if (verbose) process.stdout.write(chunk);
        });
      }
    }
    child.on("error", (err) => {
      options.log?.write(`\n${err.stack ?? err}\n`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const native = await run(process.execPath, [
  join(root, "packages", "native-cuda", "scripts", "build-native.mjs"),
]);
if (native !== 0) process.exit(native);

mkdirSync(join(root, ".turbo"), { recursive: true });
const logPath = join(root, ".turbo", "build.log");
const log = createWriteStream(logPath);
const turbo = join(dirname(createRequire(import.meta.url).resolve("turbo/package.json")), "bin", "turbo");
const t0 = performance.now();
const status = await run(process.execPath, [turbo, "run", "build", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "pipe"],
  log,
});
await new Promise((resolve) => log.end(resolve));
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
if (status !== 0) {
  const tail = readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-60).join("\n");
  console.error(`${tail}\n\nbuild failed (turbo exit ${status}); the whole log is ${logPath}`);
  process.exit(status);
}
console.log(`${"typescript".padEnd(18)} ${`${seconds} s`.padStart(8)}  all packages (turbo); log ${logPath}`);
