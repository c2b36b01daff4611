#!/usr/bin/env node
// The `dep` command. Errors print one line (what, where, what to do) and exit with the code of their class.
import { DepError } from "@dep/native-cuda";
import { CommanderError } from "commander";
import { EXIT, exitCodeFor } from "./exitCodes.js";
import { buildProgram } from "./program.js";
import { installSignalHandlers, receivedSignal, signalExitCode, signalSetsExitCode } from "./runtime.js";
import { chooseThreads } from "./threads.js";

installSignalHandlers();
// `dep ... | head` closes our stdout early: that is the reader's choice, not an error
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(EXIT.ok);
  throw err;
});
// a thread setting that cannot be used is said, not silently replaced by another
for (const w of chooseThreads().ignored) console.error(`dep: warning: ${w}`);
const program = buildProgram();
const verbose = process.argv.includes("--verbose");

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed the message; help and version exit 0
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    let code = err instanceof DepError ? err.code : (err as { code?: string })?.code;
    let message = err instanceof Error ? err.message : String(err);
    // a full disk met by a plain write (the commands that map it themselves say more)
    if (code === "ENOSPC" || code === "EDQUOT") {
      const path = (err as { path?: string }).path;
      message = `the disk is full (${message}${path && !message.includes(path) ? `: ${path}` : ""}); free space there, or write the output elsewhere`;
      code = "DEP_DISK_FULL";
    }
    console.error(`dep: error: ${message}${code ? ` [${code}]` : ""}`);
    if (verbose && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = exitCodeFor(code);
  }
}
// stopped by a signal (the command returned, or threw its interrupted error): 130 for SIGINT, 143 for SIGTERM
if (
  signalSetsExitCode() &&
  (process.exitCode === EXIT.interrupted || process.exitCode === undefined || process.exitCode === 0)
) {
  process.exitCode = signalExitCode(receivedSignal());
}
