// `dep train --dump-grads FILE`: one sample through the whole model without an update, written as a
// safetensors file that anyone can compare with the reference implementation: every parameter under its
// reference name (PyTorch layout), its gradient under `grad.<name>`, the sample's x [2k, d] (every row the
// SAE saw: all k qualifying pairs by default, also those the prompt budget left out), input_ids
// (-1 at soft slots), slot_index (row of x per position: his rows 0..k-1, diff rows k..2k-1), target_ids (EOS included) and
// the loss terms as F32 scalars: loss = loss_lm + 100 * (loss_recon + 1e-3 * loss_kl).
import { writeSafetensors } from "../io/safetensors.js";
import type { DepModel } from "../model/DepModel.js";
import { toTorchTensors } from "../model/params.js";
import { runSample, type SampleData, type StepResult, type TrainingLlm } from "./step.js";

export async function dumpGrads(
  llm: TrainingLlm,
  model: DepModel,
  sample: SampleData,
  file: string,
  maxLength: number,
): Promise<StepResult> {
  const grads = model.zeroGrads();
  const r = await runSample(llm, model, sample, { maxLength, grads });
  const dims = model.config;
  const tensors: Record<string, { dtype: "F32" | "I32"; shape: number[]; data: Float32Array | Int32Array }> =
    {};
  for (const [name, t] of Object.entries(toTorchTensors(model.params, dims)))
    tensors[name] = { dtype: "F32", ...t };
  for (const [name, t] of Object.entries(toTorchTensors(grads, dims)))
    tensors[`grad.${name}`] = { dtype: "F32", ...t };
  const k = r.saePairs;
  const x = new Float32Array(2 * k * dims.d);
  x.set(r.x.subarray(0, k * dims.d), 0);
  x.set(r.x.subarray(8 * dims.d, (8 + k) * dims.d), k * dims.d);
  tensors.x = { dtype: "F32", shape: [2 * k, dims.d], data: x };
  tensors.input_ids = { dtype: "I32", shape: [r.prompt.nPositions], data: r.prompt.inputIds };
  tensors.slot_index = { dtype: "I32", shape: [r.prompt.nPositions], data: r.prompt.slotIndex };
  tensors.target_ids = { dtype: "I32", shape: [r.targetIds.length], data: r.targetIds };
  const scalar = (v: number) => ({ dtype: "F32" as const, shape: [] as number[], data: Float32Array.of(v) });
  tensors.loss = scalar(r.lossLm + r.saeLoss);
  tensors.loss_lm = scalar(r.lossLm);
  tensors.loss_recon = scalar(r.recon);
  tensors.loss_kl = scalar(r.kl);
  await writeSafetensors(file, tensors, { producer: "dep", format: "dep-dump-grads/1" });
  return r;
}
