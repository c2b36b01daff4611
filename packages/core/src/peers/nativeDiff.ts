// The fused native difference-embedding kernel (@dep/native-cuda diffEmbed) behind the DiffKernel contract;
// the default kernel of planDifferences/materializeDifferences. `computeDifferences` stays as its oracle.
import { diffEmbedAsync, type KernelBackend } from "@dep/native-cuda";
import type { DiffKernel } from "./samples.js";

export function nativeDiffKernel(options: { threads?: number; backend?: KernelBackend } = {}): DiffKernel {
  const threads = options.threads ?? Math.max(1, Number(process.env.DEP_THREADS) || 2);
  return async (csr, means, embeddings, dim, weighting) =>
    (
      await diffEmbedAsync(
        { threads, backend: options.backend ?? "auto" },
        {
          emb: embeddings,
          d: dim,
          means,
          selfRow: csr.selfRow,
          selfUser: csr.selfUser,
          peerOffsets: csr.peerPtr,
          peerRow: csr.peerRow,
          peerUser: csr.peerUser,
          weighting,
        },
      )
    ).out;
}
