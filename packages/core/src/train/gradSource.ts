// Where training's dL/d(soft rows) comes from. The default ("auto") is dep's native engine (cpp/engine:
// oneDNN matmuls, bf16 where the CPU computes bf16 itself, else F32) when the addon was built with oneDNN;
// without it the engine has only plain loops, slower than ggml's, so "auto" takes the ggml graph inside
// `Llm` (the oracle, also `--engine ggml`). The tokenizer, chat template and model facts are the `Llm`'s.
import {
  defaultGradEngineDtype,
  type GradEngine,
  type GradEngineDtype,
  gradEngineBuild,
  type Llm,
  type Segment,
} from "@dep/native-cuda";
import type { TrainingLlm } from "./step.js";

export type GradEngineKind = "auto" | "native" | "ggml";

export interface GradSourceChoice {
  engine: GradEngineKind;
  /** native engine only: "auto" is bf16 where the matmul library runs it here, else f32 */
  dtype: "auto" | GradEngineDtype;
  /**
   * native engine only: the activation memory a step may keep; layers past it are recomputed in the
   * backward (same gradients, one more forward's work per layer). Default 1 GiB.
   */
  activationBudgetBytes?: number;
}

export const DEFAULT_GRAD_SOURCE: GradSourceChoice = { engine: "auto", dtype: "auto" };

/** The engine "auto" means on this build: native with oneDNN, else the ggml graph. */
export function resolvedGradEngine(engine: GradEngineKind): "native" | "ggml" {
  if (engine !== "auto") return engine;
  return gradEngineBuild().onednn ? "native" : "ggml";
}

/** The frozen LLM as training sees it, with the engine its gradients come from. */
export interface TrainingModel extends TrainingLlm {
  readonly path?: string;
  /** e.g. "native bf16, onednn 2.6.3 (avx512_core_bf16)" or "ggml": recorded in run.json */
  readonly gradSource: string;
}

/** An open gradient source; dispose() frees the engine (the `Llm` stays the caller's). */
export interface OpenGradSource extends AsyncDisposable {
  readonly model: TrainingModel;
  dispose(): Promise<void>;
}

/** The `Llm` with its gradients from the chosen engine (the native engine is created here, once). */
export async function openGradSource(
  llm: Llm,
  choice: GradSourceChoice,
  o: { threads: number; path?: string },
): Promise<OpenGradSource> {
  const engine =
    resolvedGradEngine(choice.engine) === "native"
      ? await llm.createGradEngine({
          threads: o.threads,
          dtype: choice.dtype === "auto" ? defaultGradEngineDtype() : choice.dtype,
          ...(choice.activationBudgetBytes !== undefined
            ? { activationBudgetBytes: choice.activationBudgetBytes }
            : {}),
        })
      : null;
  const model = new EngineModel(llm, engine, o.path);
  const dispose = async () => {
    await engine?.dispose();
  };
  return { model, dispose, [Symbol.asyncDispose]: dispose };
}

class EngineModel implements TrainingModel {
  readonly gradSource: string;
  constructor(
    private readonly llm: Llm,
    private readonly engine: GradEngine | null,
    readonly path?: string,
  ) {
    this.gradSource = engine ? `native ${engine.info.dtype}, ${engine.info.matmul}` : "ggml";
  }
  get info() {
    return this.llm.info;
  }
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array {
    return this.llm.tokenize(text, options);
  }
  detokenize(tokens: Int32Array, options?: { removeSpecial?: boolean; unparseSpecial?: boolean }): string {
    return this.llm.detokenize(tokens, options);
  }
  applyChatTemplate(
    messages: ReadonlyArray<{ role: string; content: string }>,
    options?: { addAssistant?: boolean },
  ): string {
    return this.llm.applyChatTemplate(messages, options);
  }
  lossAndGrad(segments: Segment[], targetTokens: Int32Array) {
    return this.engine
      ? this.engine.lossAndGrad(segments, targetTokens)
      : this.llm.lossAndGrad(segments, targetTokens);
  }
}
