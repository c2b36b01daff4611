// The trained methods: DEP, its ablations and the pplug-style baseline, with the model architecture and
// the prompt slots each uses. All are trained the same way, through the frozen LLM (SPEC §6).
import type { Architecture } from "../model/params.js";
import type { SoftSlotKinds } from "../prompt/text.js";

/** DEP, its ablations, and the pplug-style baseline: all trained the same way through the frozen LLM. */
export type DepVariant = "dep" | "his-only" | "diff-only" | "no-sae" | "pplug-style";
export const DEP_VARIANTS: readonly DepVariant[] = ["dep", "his-only", "diff-only", "no-sae", "pplug-style"];

export function slotKindsOf(variant: DepVariant): SoftSlotKinds {
  return variant === "his-only"
    ? "his"
    : variant === "diff-only"
      ? "diff"
      : variant === "pplug-style"
        ? "user"
        : "both";
}

export function architectureOf(variant: DepVariant): Architecture {
  return variant === "no-sae" ? "no-sae" : variant === "pplug-style" ? "pplug" : "dep";
}

/** The method an architecture is trained as by default (his-only / diff-only share dep's). */
export function variantOf(architecture: Architecture): DepVariant {
  return architecture === "no-sae" ? "no-sae" : architecture === "pplug" ? "pplug-style" : "dep";
}
