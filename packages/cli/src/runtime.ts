// Process-wide plumbing for commands: one AbortSignal that Ctrl-C trips, and the default thread count.
import { availableParallelism } from "node:os";
import { Option } from "commander";
import { threadCount } from "./numbers.js";

const controller = new AbortController();
let interrupts = 0;

/** Installs the SIGINT/SIGTERM handlers: the first asks work to stop cleanly, the second exits at once. */
export function installSignalHandlers(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(`\n${signal}: stopping cleanly (press Ctrl-C again to exit now)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export const shutdownSignal: AbortSignal = controller.signal;

/** Default CPU threads: $DEP_THREADS, else the number of logical CPUs available to this process. */
export function defaultThreads(): number {
  const env = Number(process.env.DEP_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** `-t, --threads <n>`, defaulting to $DEP_THREADS or the CPU count (always pass it: oversubscription is slow). */
export function threadsOption(description = "CPU threads (default: $DEP_THREADS or the CPU count)"): Option {
  return new Option("-t, --threads <n>", description).argParser(threadCount).default(defaultThreads());
}
