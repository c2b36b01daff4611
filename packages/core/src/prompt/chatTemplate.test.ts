// Chat templates as the reference renders them (issue 14, row 7). Expected strings are written by hand from
// each template and Jinja's documented whitespace rules under HF's environment (trim_blocks: the newline
// after a block tag is dropped; lstrip_blocks: whitespace before a block tag on its line is dropped;
// `{{-`/`{%-` strip to the left; `x | trim` binds tighter than `+`), not produced by our renderer.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ChatModel, chatTemplateChoice, referenceQwen2, renderChat } from "./chatTemplate.js";

const SYS = "Be helpful.\n";
const USER = "[Item Title]: X\n";

/** A model double: the GGUF fields renderChat reads, special tokens by id. */
function model(arch: string, template: string | null, bos = "<s>", eos = "</s>"): ChatModel {
  return {
    info: { addBos: true, arch, chatTemplate: template, bos: 1, eos: 2 },
    detokenize: (t) => (t[0] === 1 ? bos : eos),
    applyChatTemplate: () => "llama.cpp heuristic",
  };
}

// TinyLlama-1.1B-Chat-v1.0's tokenizer.chat_template (Zephyr style)
const ZEPHYR = `{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>\\n' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>\\n' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>\\n'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}`;

// Qwen2.5-Instruct's template without its tools branch (ChatML)
const CHATML = `{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- else %}
    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

// Meta-Llama-3-8B-Instruct
const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

// gemma-2-9b-it
const GEMMA2 =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

const dir = mkdtempSync(join(tmpdir(), "dep-chat-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("chat templates (reference | jinja | FILE)", () => {
  it("reference, qwen2: the hand-built string of utils/templates.py, no newline after the system turn", () => {
    const r = renderChat(model("qwen2", CHATML), SYS, USER);
    expect(r.text).toBe(
      "<|im_start|>system\nBe helpful.\n<|im_end|><|im_start|>user\n[Item Title]: X\n<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(r.text).toBe(referenceQwen2(SYS, USER));
    expect(r.addBos).toBe(false);
  });
  it("jinja, Qwen2.5's own template (ChatML): a newline after every turn", () => {
    const r = renderChat(model("qwen2", CHATML), SYS, USER, { kind: "jinja" });
    expect(r.text).toBe(
      "<|im_start|>system\nBe helpful.\n<|im_end|>\n<|im_start|>user\n[Item Title]: X\n<|im_end|>\n<|im_start|>assistant\n",
    );
  });
  it("TinyLlama (Zephyr): eos after each turn, the {{ }} lines keep their newline, no BOS", () => {
    for (const choice of [undefined, { kind: "jinja" as const }]) {
      const r = renderChat(model("llama", ZEPHYR), SYS, USER, choice);
      expect(r.text).toBe("<|system|>\nBe helpful.\n</s>\n<|user|>\n[Item Title]: X\n</s>\n<|assistant|>\n");
      expect(r.addBos).toBe(false); // HF tokenizes with add_special_tokens=False: no BOS the template does not write
      expect(r.renderer).toBe("jinja");
    }
  });
  it("Llama-3: bos_token from the GGUF, contents trimmed", () => {
    const r = renderChat(model("llama", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"), SYS, USER);
    expect(r.text).toBe(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe helpful.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\n[Item Title]: X<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
  });
  it("Gemma-2: the reference's Gemma string by default; its own template refuses a system turn", () => {
    const m = model("gemma2", GEMMA2, "<bos>", "<eos>");
    expect(renderChat(m, SYS, USER).text).toBe(
      "<bos><start_of_turn>user\nBe helpful.\n\n\n[Item Title]: X\n<end_of_turn>\n<start_of_turn>model\n",
    );
    expect(() => renderChat(m, SYS, USER, { kind: "jinja" })).toThrow(/System role not supported/);
  });
  it("FILE: a template read from disk; llama.cpp's heuristic only without any template", () => {
    const file = join(dir, "t.jinja");
    writeFileSync(file, "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}");
    const r = renderChat(model("llama", ZEPHYR), SYS, USER, chatTemplateChoice(file));
    expect(r.text).toBe("[system]Be helpful.\n[user][Item Title]: X\n</s>");
    const none = renderChat(model("llama", null), SYS, USER);
    expect(none).toEqual({ text: "llama.cpp heuristic", addBos: true, renderer: "llama.cpp" });
    expect(() => chatTemplateChoice(join(dir, "missing.jinja"))).toThrow(/--chat-template .*missing.jinja/);
  });
});
