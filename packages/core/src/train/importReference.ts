// `dep import-reference`: the released reference model (a Hugging Face checkpoint of DEP's `DEPModel`, a
// Qwen2ForCausalLM subclass saved by HF Trainer: sharded `model-0000i-of-0000n.safetensors` with
// `model.safetensors.index.json`, bf16) -> our checkpoint. Only DEP's own tensors are read (by byte range
// through the shard headers) plus the 20 added token rows of `model.embed_tokens.weight`; the 7B frozen
// weights are never loaded.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DepError } from "@dep/native-cuda";
import { readSafetensors, readSafetensorsHeader, toFloat32 } from "../io/safetensors.js";
import { type DepDims, fromTorchTensors, PARAM_SLOTS } from "../model/params.js";
import { type ModelCheckpointConfig, markerTensors, saveModelCheckpoint } from "./checkpoint.js";

/** The reference's added tokens, in create-dataset.py's order: 16 slot tokens, then the 4 markers. */
export const REFERENCE_ADDED_TOKENS: readonly string[] = [
  ...Array.from({ length: 8 }, (_, i) => `[HIS_TOKEN_${i}]`),
  ...Array.from({ length: 8 }, (_, i) => `[DIFF_TOKEN_${i}]`),
  "<his_token_start>",
  "<his_token_end>",
  "<diff_token_start>",
  "<diff_token_end>",
];

const EMBED = "model.embed_tokens.weight";

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new DepError("DEP_CHECKPOINT", `${path}: not readable JSON (${(err as Error).message})`);
  }
}

/** tensor name -> shard file, from the index (sharded) or the one model.safetensors. */
async function weightMap(dir: string): Promise<Map<string, string>> {
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const map = (readJson(index) as { weight_map?: Record<string, string> }).weight_map;
    if (!map || typeof map !== "object")
      throw new DepError("DEP_CHECKPOINT", `${index}: no "weight_map" object`);
    return new Map(Object.entries(map).map(([name, file]) => [name, join(dir, file)]));
  }
  const single = join(dir, "model.safetensors");
  if (!existsSync(single)) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${dir}: neither model.safetensors.index.json nor model.safetensors; point at the reference model's folder (e.g. a download of SnowCharmQ/DEP-model)`,
    );
  }
  const header = await readSafetensorsHeader(single);
  return new Map([...header.tensors.keys()].map((name) => [name, single]));
}

/** Token ids of the reference's added tokens, from added_tokens.json or tokenizer.json's added_tokens. */
function addedTokenIds(dir: string): number[] {
  const ids = new Map<string, number>();
  const added = join(dir, "added_tokens.json");
  const tokenizer = join(dir, "tokenizer.json");
  if (existsSync(added)) {
    for (const [tok, id] of Object.entries(readJson(added) as Record<string, number>)) ids.set(tok, id);
  } else if (existsSync(tokenizer)) {
    const list =
      (readJson(tokenizer) as { added_tokens?: { id: number; content: string }[] }).added_tokens ?? [];
    for (const t of list) ids.set(t.content, t.id);
  } else {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${dir}: no added_tokens.json or tokenizer.json to find the added tokens' ids in`,
    );
  }
  return REFERENCE_ADDED_TOKENS.map((tok) => {
    const id = ids.get(tok);
    if (!Number.isInteger(id))
      throw new DepError(
        "DEP_CHECKPOINT",
        `${dir}: the added token ${tok} has no id (is this a DEP checkpoint?)`,
      );
    return id!;
  });
}

export interface ImportResult {
  out: string;
  dims: DepDims;
  addedTokenIds: number[];
  tensorsRead: number;
}

export async function importReferenceCheckpoint(dir: string, out: string): Promise<ImportResult> {
  const map = await weightMap(dir);
  const names = PARAM_SLOTS.map((s) => s.name);
  const missing = names.filter((n) => !map.has(n));
  if (missing.length > 0)
    throw new DepError(
      "DEP_CHECKPOINT",
      `${dir}: no tensor ${missing[0]} (not a DEP checkpoint: sae.* and align_mlp_* are DEP's)`,
    );
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const byShard = new Map<string, string[]>();
  for (const n of names) byShard.set(map.get(n)!, [...(byShard.get(map.get(n)!) ?? []), n]);
  for (const [shard, list] of byShard) {
    const file = await readSafetensors(shard, { names: list });
    for (const [name, t] of file.tensors) tensors.set(name, { shape: t.shape, data: toFloat32(t) });
  }
  const enc = tensors.get("sae.encoder.0.weight")!.shape;
  const dims: DepDims = { d: enc[1]!, h: enc[0]!, H: tensors.get("align_mlp_his.2.weight")!.shape[0]! };
  const params = fromTorchTensors(tensors, dims, dir);

  // the 20 added rows of the input embeddings (the marker rows the prompt's --markers rows mode feeds)
  const ids = addedTokenIds(dir);
  const embedShard = map.get(EMBED);
  if (!embedShard) throw new DepError("DEP_CHECKPOINT", `${dir}: no tensor ${EMBED}`);
  const lo = Math.min(...ids);
  const hi = Math.max(...ids) + 1;
  const header = await readSafetensorsHeader(embedShard);
  const shape = header.tensors.get(EMBED)?.shape ?? [];
  if (shape.length !== 2 || shape[1] !== dims.H || shape[0]! < hi) {
    throw new DepError(
      "DEP_CHECKPOINT",
      `${embedShard}: ${EMBED} has shape [${shape}], expected [>= ${hi}, ${dims.H}] for the added tokens`,
    );
  }
  const rowsFile = await readSafetensors(embedShard, { names: [EMBED], rows: { start: lo, end: hi } });
  const block = toFloat32(rowsFile.tensors.get(EMBED)!);
  const rows = new Float32Array(ids.length * dims.H);
  ids.forEach((id, i) => {
    rows.set(block.subarray((id - lo) * dims.H, (id - lo + 1) * dims.H), i * dims.H);
  });

  const config: ModelCheckpointConfig = {
    format: "dep-checkpoint/1",
    ...dims,
    linearOutput: false,
    llm: { file: "Qwen2.5-7B-Instruct (the reference's frozen LLM)", sha256: null, nEmbd: dims.H },
    embedder: null,
    hyperparameters: {
      source: "reference",
      importedFrom: dir,
      variant: "dep",
      prompt: "reference",
      chatTemplate: "reference",
      markers: "rows",
      init: "reference",
      addedTokens: REFERENCE_ADDED_TOKENS,
      addedTokenIds: ids,
    },
    epoch: null,
    optimizerStep: 0,
  };
  await saveModelCheckpoint(out, params, config, {
    added_token_rows: { shape: [ids.length, dims.H], data: rows },
    ...markerTensors(rows.slice(16 * dims.H)), // the 4 markers follow the 16 slot tokens
  });
  return { out, dims, addedTokenIds: ids, tensorsRead: names.length + 1 };
}
