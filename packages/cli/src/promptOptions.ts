// The prompt options shared by the commands that build DEP prompts (issue 14): which reviews label the soft
// slots, and which chat template renders the turns. Without a default (generate, loss, prompt) the
// checkpoint's recorded choice applies, else the reference's.
import { chatTemplateChoice, type MarkerMode, type PromptAlignment } from "@dep/core";
import { type Command, Option } from "commander";

export interface PromptFlags {
  prompt?: PromptAlignment;
  /** reference | jinja | llama.cpp | a template file (checked when parsed; see chatTemplateChoice) */
  chatTemplate?: string;
  markers?: MarkerMode;
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
  const markers = new Option(
    "--markers <m>",
    "rows: each marker (<his_token_start> ...) is one frozen embedding row, as the reference's added tokens; text: the marker names as plain text",
  ).choices(["rows", "text"]);
  if (withDefaults) {
    prompt.default("reference");
    template.default("reference");
    markers.default("rows");
  } else {
    for (const opt of [prompt, template, markers])
      opt.description += " (default: the checkpoint's, else the reference's)";
  }
  return cmd.addOption(prompt).addOption(template).addOption(markers);
}
