// Process-wide plumbing for commands: one AbortSignal that Ctrl-C trips, and the default thread count.
import { Option } from "commander";
import { EXIT } from "./exitCodes.js";
import { threadCount } from "./numbers.js";
import { chooseThreads } from "./threads.js";

const controller = new AbortController();
let interrupts = 0;
let received: NodeJS.Signals | null = null;

/** The exit code for a run stopped by `signal`: 128 + its number (SIGINT 130, SIGTERM 143), as shells report. */
export function signalExitCode(signal: NodeJS.Signals | null): number {
  return signal === "SIGTERM" ? EXIT.terminated : EXIT.interrupted;
}

/** The first SIGINT/SIGTERM received, or null. */
export function receivedSignal(): NodeJS.Signals | null {
  return received;
}

/** Installs the SIGINT/SIGTERM handlers: the first asks work to stop cleanly, the second exits at once. */
export function installSignalHandlers(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    received ??= signal;
    if (interrupts > 1) process.exit(signalExitCode(received));
    process.stderr.write(`\n${signal}: stopping cleanly (press Ctrl-C again to exit now)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export const shutdownSignal: AbortSignal = controller.signal;

/** Default CPU threads: see threads.ts for the order ($DEP_THREADS, OMP, SLURM, cgroup, affinity). */
export function defaultThreads(): number {
  return chooseThreads().threads;
}

/** `-t, --threads <n>`, defaulting to $DEP_THREADS or the CPU count (always pass it: oversubscription is slow). */
export function threadsOption(
  description = "CPU threads (default: $DEP_THREADS, else the CPUs granted: see dep info)",
): Option {
  return new Option("-t, --threads <n>", description).argParser(threadCount).default(defaultThreads());
}
