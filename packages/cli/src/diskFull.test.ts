// A full disk, for real: a small tmpfs mounted for these tests (needs root; without it the file says it
// skipped, on one line), filled to a few KiB. Commands whose output lands there exit 5, leave no partial
// output and no temporary files, and the files already there are untouched.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixtureRuns } from "@dep/eval/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depRunner, expectOneLineError } from "./testing/spawnDep.js";

const dir = mkdtempSync(join(tmpdir(), "dep-disk-full-"));
const full = join(dir, "full");
mkdirSync(full);
/** Why a tmpfs cannot be mounted here, or null once it is. */
function mountFull(): string | null {
  if (process.getuid?.() !== 0) return "not root (mounting a tmpfs needs it)";
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", full], { encoding: "utf8" });
  return r.status === 0 ? null : `mount -t tmpfs failed: ${(r.stderr || r.error?.message || "").trim()}`;
}
const missing = mountFull();
if (missing) console.warn(`diskFull.test.ts: skipped: ${missing}`);

const dep = depRunner(() => join(dir, "home"));

afterAll(() => {
  if (!missing) spawnSync("umount", [full]);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing !== null)("a full disk (a 1 MiB tmpfs with 8 KiB left)", () => {
  const kept = join(full, "kept.txt");
  beforeAll(() => {
    writeFileSync(kept, "was here before");
    // fill it: the filler's last write fails once the disk is full
    const chunk = Buffer.alloc(4096, 1);
    const filler = join(full, "filler");
    writeFileSync(filler, "");
    try {
      for (let i = 0; i < 1024; i++) writeFileSync(filler, chunk, { flag: "a" });
    } catch {}
    // 8 KiB free again: small writes succeed, no command's output fits
    expect(spawnSync("truncate", ["-s", "-8K", filler]).status).toBe(0);
  });
  /** After a failed command: only the files from before. */
  const expectNothingLeft = () => expect(readdirSync(full).sort()).toEqual(["filler", "kept.txt"]);

  it("dep data synth: exit 5 naming the full disk, no dataset folder, no temporary folder", () => {
    const r = dep(["data", "synth", "--users", "50", "--out", join(full, "data")]);
    expectOneLineError(r, 5, /ENOSPC|disk is full/);
    expectNothingLeft();
  });

  it("dep data prepare: exit 5 saying the disk is full (not bad input, not --skip-bad)", () => {
    const src = join(dir, "raw-src");
    expect(dep(["data", "synth", "--users", "10", "--raw", "--out", src, "--json"]).code).toBe(0);
    const raw = join(src, "raw", "Books");
    const r = dep([
      ...["data", "prepare", "--reviews", join(raw, "reviews.jsonl"), "--meta", join(raw, "meta.jsonl")],
      ...["--category", "Books", "--out", join(full, "prepared"), "--threads", "1"],
    ]);
    expectOneLineError(r, 5, /disk is full/);
    expect(r.stderr).not.toMatch(/--skip-bad/);
    expectNothingLeft();
  });

  it("dep report --html: exit 5, no half-written report folder, no *.tmp-* files", async () => {
    const runs = await writeFixtureRuns(join(dir, "runs"), { samples: 20 });
    const r = dep(["report", "--runs", ...runs, "--out", join(full, "report"), "--html"]);
    expectOneLineError(r, 5, /ENOSPC|disk is full/);
    expectNothingLeft();
  });
});
