// Chat formatting as the reference renders it (issue 14, row 7). The reference builds Qwen2 prompts by hand
// (DEP utils/templates.py, Qwen2PromptTemplate; a GemmaPromptTemplate beside it) and other models would go
// through HF `apply_chat_template`: the tokenizer's Jinja template in a sandboxed environment with
// trim_blocks + lstrip_blocks, `raise_exception`, and the special tokens (bos_token, eos_token) as variables.
// The rendered string is then tokenized with add_special_tokens=False (data/personal_dataset.py), so a BOS
// appears only where the template writes one. llama.cpp's built-in heuristic is the fallback for a GGUF
// without a template.
import { readFileSync } from "node:fs";
import { DepError } from "@dep/native-cuda";
import { Template } from "@huggingface/jinja";

/** `--chat-template reference|jinja|llama.cpp|FILE` (llama.cpp: its built-in heuristic, what runs before issue 14 used). */
export type ChatTemplateChoice =
  | { kind: "reference" }
  | { kind: "jinja" }
  | { kind: "llama.cpp" }
  | { kind: "file"; path: string; source: string };

export const REFERENCE_CHAT_TEMPLATE: ChatTemplateChoice = { kind: "reference" };

/** Parses the flag's value; a path is read now, so a bad file fails before any work. */
export function chatTemplateChoice(value: string): ChatTemplateChoice {
  if (value === "reference" || value === "jinja" || value === "llama.cpp") return { kind: value };
  try {
    return { kind: "file", path: value, source: readFileSync(value, "utf8") };
  } catch (err) {
    throw new DepError(
      "DEP_USAGE",
      `--chat-template ${value}: not "reference", "jinja", "llama.cpp" or a readable Jinja template file (${(err as Error).message})`,
    );
  }
}

/** The flag's value back as a string (what run settings and checkpoints record). */
export function chatTemplateName(choice: ChatTemplateChoice): string {
  return choice.kind === "file" ? choice.path : choice.kind;
}

/** What rendering needs from the model (structurally satisfied by `Llm`). */
export interface ChatModel {
  readonly info: {
    addBos: boolean;
    /** GGUF general.architecture, e.g. "qwen2", "gemma2", "llama" */
    arch?: string;
    /** the GGUF's tokenizer.chat_template (Jinja source) */
    chatTemplate?: string | null;
    bos?: number;
    eos?: number;
  };
  detokenize?(tokens: Int32Array, options?: { removeSpecial?: boolean; unparseSpecial?: boolean }): string;
  applyChatTemplate(
    messages: ReadonlyArray<{ role: string; content: string }>,
    options?: { addAssistant?: boolean },
  ): string;
}

export interface RenderedChat {
  text: string;
  /** prepend the model's BOS when tokenizing (only llama.cpp's heuristic; otherwise BOS comes from the text) */
  addBos: boolean;
  /** which renderer produced it: "reference-qwen2", "reference-gemma2", "jinja", "file", "llama.cpp" */
  renderer: string;
}

/** DEP utils/templates.py Qwen2PromptTemplate, with a system prompt: note no newline after the system turn. */
export function referenceQwen2(system: string, user: string): string {
  return `<|im_start|>system\n${system}<|im_end|><|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
}

/** DEP utils/templates.py GemmaPromptTemplate: the system text opens the user turn. */
export function referenceGemma2(system: string, user: string): string {
  return `<bos><start_of_turn>user\n${system}\n\n${user}<end_of_turn>\n<start_of_turn>model\n`;
}

/** Renders a Jinja chat template as HF apply_chat_template(add_generation_prompt) does. */
export function renderJinja(
  source: string,
  messages: ReadonlyArray<{ role: string; content: string }>,
  vars: { bos_token: string; eos_token: string },
  where: string,
): string {
  let template: Template;
  try {
    template = new Template(source); // @huggingface/jinja: trim_blocks + lstrip_blocks, like HF's environment
  } catch (err) {
    throw new DepError(
      "DEP_MODEL_CHAT_TEMPLATE",
      `${where}: the chat template does not parse: ${(err as Error).message}`,
    );
  }
  try {
    return template.render({ messages, add_generation_prompt: true, ...vars });
  } catch (err) {
    throw new DepError(
      "DEP_MODEL_CHAT_TEMPLATE",
      `${where}: the chat template failed: ${(err as Error).message}`,
    );
  }
}

function specialText(model: ChatModel, id: number | undefined): string {
  if (id === undefined || id < 0 || !model.detokenize) return "";
  return model.detokenize(Int32Array.of(id), { unparseSpecial: true });
}

/** Renders [system, user] + the assistant opening with the chosen template. */
export function renderChat(
  model: ChatModel,
  system: string,
  user: string,
  choice: ChatTemplateChoice = REFERENCE_CHAT_TEMPLATE,
): RenderedChat {
  const messages = [
    { role: "system", content: system },
    { role: "user", content: user },
  ];
  if (choice.kind === "reference") {
    if (model.info.arch === "qwen2")
      return { text: referenceQwen2(system, user), addBos: false, renderer: "reference-qwen2" };
    if (model.info.arch === "gemma2")
      return { text: referenceGemma2(system, user), addBos: false, renderer: "reference-gemma2" };
  }
  const source =
    choice.kind === "file" ? choice.source : choice.kind === "llama.cpp" ? null : model.info.chatTemplate;
  if (source) {
    const vars = {
      bos_token: specialText(model, model.info.bos),
      eos_token: specialText(model, model.info.eos),
    };
    const where = choice.kind === "file" ? choice.path : "the model's tokenizer.chat_template";
    return {
      text: renderJinja(source, messages, vars, where),
      addBos: false,
      renderer: choice.kind === "file" ? "file" : "jinja",
    };
  }
  return {
    text: model.applyChatTemplate(messages, { addAssistant: true }),
    addBos: model.info.addBos,
    renderer: "llama.cpp",
  };
}
