// A model's identity for checks that must not confuse two checkpoints (the shards of one job must all use
// the same): its configuration and every parameter value, hashed; ~0.1 s per 30M parameters.
import { createHash } from "node:crypto";
import type { DepModel } from "./DepModel.js";
import { paramSlots } from "./params.js";

/** sha256 of a model's configuration and every parameter value: two checkpoints differ, two copies do not. */
export function modelFingerprint(model: DepModel): string {
  const h = createHash("sha256").update(JSON.stringify(model.config));
  for (const slot of paramSlots(model.config)) {
    const a = slot.get(model.params);
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest("hex");
}
