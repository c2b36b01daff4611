// The prompt options shared by the commands that build DEP prompts (issue 14): which reviews label the soft
// slots, and which chat template renders the turns. Without a default (generate, loss, prompt) the
// checkpoint's recorded choice applies, else the reference's.
import { chatTemplateChoice, type PromptAlignment } from "@dep/core";
import { type Command, Option } from "commander";

export interface PromptFlags {
  prompt?: PromptAlignment;
  /** reference | jinja | llama.cpp | a template file (checked when parsed; see chatTemplateChoice) */
  chatTemplate?: string;
}

export function addPromptOptions(cmd: Command, withDefaults: boolean): Command {
  const prompt = new Option(
    "--prompt <mode>",
    "reference: show the k newest reviews while soft slot i holds the i-th qualifying one (the reference's quirk); aligned: label each slot pair with its own review",
  ).choices(["reference", "aligned"]);
  const template = new Option(
    "--chat-template <t>",
    "reference: the reference's hand-built Qwen2/Gemma-2 string, else the GGUF's Jinja template; jinja: always the GGUF's template; llama.cpp: its built-in heuristic; or a Jinja template FILE",
  ).argParser((v: string) => {
    chatTemplateChoice(v); // a bad value or unreadable file fails as the flag is parsed
    return v;
  });
  if (withDefaults) {
    prompt.default("reference");
    template.default("reference");
  } else {
    prompt.description += " (default: the checkpoint's, else reference)";
    template.description += " (default: the checkpoint's, else reference)";
  }
  return cmd.addOption(prompt).addOption(template);
}
