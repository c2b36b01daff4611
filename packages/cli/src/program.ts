// Builds the `dep` command tree. One file per subcommand under commands/.
import { Command } from "commander";
import { registerAssets } from "./commands/assets.js";
import { registerBench } from "./commands/bench.js";
import { registerComplete } from "./commands/complete.js";
import { registerData } from "./commands/data.js";
import { registerDemo } from "./commands/demo.js";
import { registerDiff } from "./commands/diff.js";
import { registerEmbed } from "./commands/embed.js";
import { registerEval } from "./commands/eval.js";
import { registerExplain } from "./commands/explain.js";
import { registerGenerate } from "./commands/generate.js";
import { registerImportReference } from "./commands/importReference.js";
import { registerInfo } from "./commands/info.js";
import { registerLoss } from "./commands/loss.js";
import { registerMerge } from "./commands/merge.js";
import { registerPrompt } from "./commands/prompt.js";
import { registerReport } from "./commands/report.js";
import { registerSelect } from "./commands/select.js";
import { registerServe } from "./commands/serve.js";
import { registerSlurm } from "./commands/slurm.js";
import { registerTrain } from "./commands/train.js";
import { addConfigOptions } from "./config.js";
import { progressEveryOption, setProgressEvery } from "./progressLine.js";
import { readVersions } from "./versions.js";

export function buildProgram(): Command {
  const program = new Command("dep")
    .description("DEP: difference-aware embedding-based personalization of a frozen LLM")
    .version(readVersions().dep)
    .option("--verbose", "print stack traces on errors", false)
    .addOption(progressEveryOption())
    .hook("preAction", (cmd) => setProgressEvery(cmd.opts().progressEvery))
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", "\nExample:\n  $ dep info\n  $ dep demo --threads 2");
  registerInfo(program);
  registerData(program);
  registerEmbed(program);
  registerDiff(program);
  registerAssets(program);
  registerComplete(program);
  registerTrain(program);
  registerSelect(program);
  registerLoss(program);
  registerGenerate(program);
  registerServe(program);
  registerPrompt(program);
  registerImportReference(program);
  registerMerge(program);
  registerSlurm(program);
  registerEval(program);
  registerReport(program);
  registerExplain(program);
  registerDemo(program);
  registerBench(program);
  forEachLeaf(program, addConfigOptions);
  return program;
}

/** Commands that run an action (not groups such as `dep data`). */
function forEachLeaf(cmd: Command, fn: (c: Command) => void): void {
  for (const c of cmd.commands) {
    if (c.commands.length > 0) forEachLeaf(c, fn);
    else fn(c);
  }
}
