// `--engine` / `--engine-dtype` / `--engine-memory`, shared by `dep train`, `dep demo` and `dep loss`: which
// computation gives training its dL/d(soft rows) (see @dep/core's openGradSource).
import { DEFAULT_GRAD_SOURCE, type GradSourceChoice, parseByteSize, resolvedGradEngine } from "@dep/core";
import { type Command, InvalidArgumentError, Option } from "commander";

export interface GradEngineFlags {
  engine: GradSourceChoice["engine"];
  engineDtype: GradSourceChoice["dtype"];
  engineMemory?: number;
}

function byteSize(v: string): number {
  try {
    return parseByteSize(v, "size");
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

export function addGradEngineOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--engine <e>",
        "LLM gradients: native (dep's own engine, oneDNN matmuls), ggml (the ggml graph: the oracle), or auto (native when built with oneDNN, else ggml)",
      )
        .choices(["auto", "native", "ggml"])
        .default(DEFAULT_GRAD_SOURCE.engine),
    )
    .addOption(
      new Option(
        "--engine-dtype <t>",
        "native engine: auto (bf16 where this CPU's matmul library runs it, else f32), f32 (exact) or bf16",
      )
        .choices(["auto", "f32", "bf16"])
        .default(DEFAULT_GRAD_SOURCE.dtype),
    )
    .addOption(
      new Option(
        "--engine-memory <size>",
        "native engine: activation memory a step may keep (e.g. 4GB); past it layers are recomputed in the backward, same gradients, slower (default 1GiB)",
      ).argParser(byteSize),
    );
}

export function gradSourceChoice(o: GradEngineFlags): GradSourceChoice {
  if (o.engineMemory !== undefined && resolvedGradEngine(o.engine) === "ggml") {
    console.error("dep: warning: --engine-memory applies to the native engine; the ggml graph ignores it");
  }
  return {
    engine: o.engine,
    dtype: o.engineDtype,
    ...(o.engineMemory !== undefined ? { activationBudgetBytes: o.engineMemory } : {}),
  };
}
