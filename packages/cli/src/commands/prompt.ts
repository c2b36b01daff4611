// `dep prompt`: the exact prompt one sample gives the LLM — the rendered chat string with each soft slot as
// <<soft:his:i>> / <<soft:diff:i>> (<<soft:user:0>> for pplug-style), or with --json its token ids and
// slot positions (tokens -1 at soft slots, -2 at marker rows). This is how a user checks what the model is given.
import {
  type BuiltPrompt,
  chatTemplateChoice,
  DEFAULT_MAX_LENGTH,
  ensureModel,
  type GenerationMethod,
  isTrainedMethod,
  loadModelCheckpoint,
  loadTrainingSamples,
  MARKERS,
  methodPrompt,
  recipeOf,
  TINYLLAMA,
} from "@dep/core";
import { DepError, Llm } from "@dep/native-cuda";
import { type Command, Option } from "commander";
import { positiveInt, seed } from "../numbers.js";
import { addPromptOptions, type PromptFlags } from "../promptOptions.js";
import { threadsOption } from "../runtime.js";
import { METHODS, numRetrievedOption } from "./generate.js";
import { dplStagesText, dplStageViews } from "./promptDpl.js";

interface PromptCommandFlags extends PromptFlags {
  data: string;
  embeddings: string;
  model?: string;
  checkpoint?: string;
  split: "train" | "val" | "test";
  sampleId: string;
  method: GenerationMethod;
  maxLength?: number;
  maxDescriptionChars?: number;
  ragK: number;
  numRetrieved: number;
  seed: number;
  dplOutputs?: string;
  threads: number;
  json: boolean;
}

export interface PromptSlot {
  kind: "his" | "diff" | "user";
  index: number;
  position: number;
}

/** The slots of a built prompt, by position; `pairs` = the his rows before the diff rows. */
export function promptSlots(p: BuiltPrompt, kind: "dep" | "user"): PromptSlot[] {
  const pairs = p.nSoftRows / 2;
  const out: PromptSlot[] = [];
  p.slotIndex.forEach((row, position) => {
    if (row < 0) return;
    if (kind === "user") out.push({ kind: "user", index: row, position });
    else
      out.push(
        row < pairs ? { kind: "his", index: row, position } : { kind: "diff", index: row - pairs, position },
      );
  });
  return out;
}

/** The rendered string with `<<soft:KIND:i>>` where each soft row goes. */
export function promptText(p: BuiltPrompt, slots: readonly PromptSlot[]): string {
  let s = 0;
  return p.pieces
    .map((piece) => {
      if ("text" in piece) return piece.text;
      if ("marker" in piece) return piece.name; // one position with its marker row (--markers rows)
      const slot = slots[s++]!;
      return `<<soft:${slot.kind}:${slot.index}>>`;
    })
    .join("");
}

export function registerPrompt(program: Command): void {
  const cmd = program
    .command("prompt")
    .description(
      "print the exact prompt of one sample as the LLM sees it (soft slots as <<soft:his|diff:i>>; dpl: each of its three stages)",
    )
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--embeddings <dir>", "embedding store (dep embed)")
    .option(
      "-m, --model <gguf>",
      "LLM GGUF whose tokenizer and chat template apply (default: the cached TinyLlama)",
    )
    .option(
      "--checkpoint <dir>",
      "take --prompt, --chat-template, --max-length and the method from this checkpoint's run",
    )
    .addOption(new Option("--split <s>", "which split").choices(["train", "val", "test"]).default("test"))
    .requiredOption("--sample-id <id>", "the sample (as in predictions' sample_id or dep diff's sidecar)")
    .addOption(
      new Option("--method <m>", "generation method whose prompt to show").choices(METHODS).default("dep"),
    )
    .option(
      "--max-length <n>",
      `prompt budget in positions (default: the checkpoint's, else ${DEFAULT_MAX_LENGTH})`,
      positiveInt,
    )
    .option("--max-description-chars <n>", "cut item descriptions as the model was trained", positiveInt)
    .option("--rag-k <n>", "history reviews shown by the rag and pag methods", positiveInt, 4)
    .addOption(numRetrievedOption())
    .option("--seed <n>", "dpl: the seed of its peer k-means (as dep generate --seed)", seed, 42)
    .option(
      "--dpl-outputs <predictions>",
      "dpl: fill stages 2 and 3 with the outputs of the dep generate --method dpl run that wrote this predictions file (default: placeholders)",
    )
    .addOption(threadsOption())
    .option(
      "--json",
      'print {"text", "tokens", "slots", "nHistory"} (dpl: {"stages": [{"stage", "text", "tokens", ...}]})',
      false,
    );
  addPromptOptions(cmd, false)
    .addHelpText(
      "after",
      "\nExample:\n  $ dep prompt --data data/ --embeddings emb/ --split test --sample-id Books/U1/test --json",
    )
    .action(async (o: PromptCommandFlags) => {
      if (o.method === "pag")
        throw new DepError(
          "DEP_USAGE",
          "--method pag: its prompt holds an LLM-written summary; run dep generate --method pag",
        );
      const hp = o.checkpoint ? (await loadModelCheckpoint(o.checkpoint)).config.hyperparameters : {};
      const recipe = recipeOf(o.checkpoint ? hp : { prompt: "reference" });
      const { data, samples, rows, dataset } = await loadTrainingSamples(o.data, o.embeddings, o.split, {
        weighting: (hp.weighting as "reference" | undefined) ?? "reference",
        prompt: o.prompt ?? recipe.prompt,
        seed: (hp.seed as number | undefined) ?? 42,
      });
      const i = samples.samples.findIndex((s) => s.id === o.sampleId);
      if (i < 0) {
        const ids = samples.samples.slice(0, 3).map((s) => s.id);
        throw new DepError(
          "DEP_INPUT",
          `${o.data}: no ${o.split} sample ${o.sampleId} with a qualifying review (e.g. ${ids.join(", ")})`,
        );
      }
      const modelPath = o.model ?? (await ensureModel(TINYLLAMA));
      const llm = await Llm.load(modelPath, { threads: o.threads, contextSize: 512 });
      try {
        const maxLength = o.maxLength ?? (hp.maxLength as number | undefined) ?? DEFAULT_MAX_LENGTH;
        const chatTemplate = chatTemplateChoice(o.chatTemplate ?? recipe.chatTemplate);
        if (o.method === "dpl") {
          const views = await dplStageViews(llm, {
            dataset,
            splitRows: rows,
            row: rows[samples.samples[i]!.row]!,
            sampleId: o.sampleId,
            embeddings: o.embeddings,
            numRetrieved: o.numRetrieved,
            maxLength,
            chatTemplate,
            seed: o.seed,
            ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
            ...(o.dplOutputs ? { outputs: o.dplOutputs } : {}),
          });
          if (o.json) {
            const stages = views.map((v) => ({
              stage: v.stage,
              ...(v.asin ? { asin: v.asin } : {}),
              shows: v.shows,
              text: v.prompt.text,
              tokens: Array.from(v.prompt.tokens),
              renderer: v.prompt.renderer,
            }));
            console.log(JSON.stringify({ method: "dpl", stages }));
          } else process.stdout.write(dplStagesText(views));
          return;
        }
        const p = methodPrompt(llm, {
          method: o.method,
          dataset,
          row: rows[samples.samples[i]!.row]!,
          sample: data[i]!,
          maxLength,
          ragK: o.ragK,
          chatTemplate,
          markers: o.markers ?? recipe.markers,
          ...(o.maxDescriptionChars ? { maxDescriptionChars: o.maxDescriptionChars } : {}),
        });
        const slots = promptSlots(p, o.method === "pplug-style" ? "user" : "dep");
        const text = promptText(p, isTrainedMethod(o.method) ? slots : []);
        if (o.json) {
          console.log(
            JSON.stringify({
              text,
              tokens: Array.from(p.inputIds),
              slots,
              markers: [...p.markerIndex.entries()]
                .filter(([, m]) => m >= 0)
                .map(([position, m]) => ({ name: MARKERS[m], position })),
              nHistory: p.nHistory,
              renderer: p.renderer,
            }),
          );
        } else process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
      } finally {
        await llm.dispose();
      }
    });
}
