// Sizes as people write them on a command line: "2GB", "512MB", "1.5GiB", "800000000".
import { DepError } from "@dep/native-cuda";

/** Bytes of a size: KB/MB/GB/TB are powers of 1000 (DuckDB's units), KiB/MiB/GiB/TiB of 1024. `what`
 * names the value in the error, e.g. "memory limit" or "--engine-memory". */
export function parseByteSize(s: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(s);
  if (!m) {
    throw new DepError("DEP_INVALID_ARGUMENT", `${what} ${JSON.stringify(s)}: use a size like 2GB or 512MB`);
  }
  const unit = (m[2] ?? "B").toUpperCase();
  const pow = { B: 0, K: 1, M: 2, G: 3, T: 4 }[unit[0] as "B" | "K" | "M" | "G" | "T"];
  const base = unit.includes("I") ? 1024 : 1000;
  return Number(m[1]) * base ** pow;
}
