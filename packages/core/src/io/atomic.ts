// Atomic file writes: everything is written under a temporary name beside the target and renamed into place,
// so a crash or an error never leaves a half-written file under the final name.
import { randomBytes } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DepError } from "@dep/native-cuda";

/** A temporary path beside `path` (same directory, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Writes `data` to `path` atomically (temp file + fsync + rename). Creates the parent directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw wrapIo(err, path, "write");
  }
}

/** Writes JSON (2-space indented, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A line-oriented writer to a temporary file that becomes `path` only on `commit()`; `abort()` removes it.
 * Respects back-pressure (await `write`).
 */
export class AtomicLineWriter {
  readonly path: string;
  readonly tmp: string;
  #stream: WriteStream;
  #failed: unknown = null;
  #lines = 0;

  private constructor(path: string, tmp: string, stream: WriteStream) {
    this.path = path;
    this.tmp = tmp;
    this.#stream = stream;
    stream.on("error", (err) => {
      this.#failed = err;
    });
  }

  static async create(path: string): Promise<AtomicLineWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    return new AtomicLineWriter(path, tmp, createWriteStream(tmp, { highWaterMark: 1 << 20 }));
  }

  get lines(): number {
    return this.#lines;
  }

  /** Appends one line (a newline is added). */
  async write(line: string): Promise<void> {
    if (this.#failed) throw wrapIo(this.#failed, this.path, "write");
    this.#lines++;
    if (!this.#stream.write(`${line}\n`)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.#stream.off("error", onError);
          resolve();
        };
        const onError = (err: unknown) => {
          this.#stream.off("drain", onDrain);
          reject(wrapIo(err, this.path, "write"));
        };
        this.#stream.once("drain", onDrain);
        this.#stream.once("error", onError);
      });
    }
  }

  async commit(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#stream.end((err?: unknown) => (err ? reject(err) : resolve()));
    }).catch(async (err) => {
      await rm(this.tmp, { force: true });
      throw wrapIo(err, this.path, "write");
    });
    if (this.#failed) {
      await rm(this.tmp, { force: true });
      throw wrapIo(this.#failed, this.path, "write");
    }
    await rename(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    this.#stream.destroy();
    await rm(this.tmp, { force: true });
  }
}

/**
 * Builds a whole output directory atomically: `fn` writes into a temporary sibling directory, which is renamed
 * to `outDir` when `fn` resolves, and removed when it throws. `outDir` must not exist unless `overwrite`.
 */
export async function writeDirAtomic<T>(
  outDir: string,
  fn: (tmpDir: string) => Promise<T>,
  /** `flag`: the option that allows replacing, for the message (default --force) */
  options: { overwrite?: boolean; flag?: string } = {},
): Promise<T> {
  const exists = await stat(outDir).then(
    () => true,
    () => false,
  );
  if (exists && !options.overwrite) {
    throw new DepError(
      "DEP_OUTPUT_EXISTS",
      `output directory ${outDir} already exists; choose another --out or pass ${options.flag ?? "--force"}`,
    );
  }
  await mkdir(dirname(outDir), { recursive: true });
  const tmp = tempPathFor(outDir);
  await mkdir(tmp, { recursive: true });
  let result: T;
  try {
    result = await fn(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  // move the old folder aside before moving the new one in: a kill between the two renames leaves the
  // old folder under `.NAME.old-*`, which recoverReplacedDir puts back
  const aside = join(dirname(outDir), `.${basename(outDir)}.old-${process.pid}`);
  if (exists) await rename(outDir, aside);
  await rename(tmp, outDir);
  if (exists) await rm(aside, { recursive: true, force: true });
  return result;
}

/** Restores a folder left aside by an interrupted writeDirAtomic (call before reading `outDir`). */
export async function recoverReplacedDir(outDir: string): Promise<void> {
  const present = await stat(outDir).then(
    () => true,
    () => false,
  );
  if (present) return;
  const prefix = `.${basename(outDir)}.old-`;
  const aside = (await readdir(dirname(outDir)).catch(() => [] as string[]))
    .filter((f) => f.startsWith(prefix))
    .sort();
  const last = aside.at(-1);
  if (last) await rename(join(dirname(outDir), last), outDir);
}

export function wrapIo(err: unknown, path: string, what: string): DepError {
  if (err instanceof DepError) return err;
  const e = err as { code?: string; message?: string };
  return new DepError("DEP_IO", `cannot ${what} ${path}: ${e?.message ?? String(err)}`, { cause: err });
}
