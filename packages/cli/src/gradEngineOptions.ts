// `--engine` / `--engine-dtype`, shared by `dep train` and `dep demo`: which computation gives training
// its dL/d(soft rows) (see @dep/core's openGradSource).
import { DEFAULT_GRAD_SOURCE, type GradSourceChoice } from "@dep/core";
import { type Command, Option } from "commander";

export interface GradEngineFlags {
  engine: GradSourceChoice["engine"];
  engineDtype: GradSourceChoice["dtype"];
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
    );
}

export function gradSourceChoice(o: GradEngineFlags): GradSourceChoice {
  return { engine: o.engine, dtype: o.engineDtype };
}
