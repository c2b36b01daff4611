import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readJsonLines } from "./jsonLines.js";

const dir = mkdtempSync(join(tmpdir(), "dep-jsonl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (row: unknown) => {
  if (typeof (row as { id?: unknown })?.id !== "number") throw new Error("no id");
  return row as { id: number };
};

describe("readJsonLines", () => {
  it("reads every line of a whole file and leaves it as it is", () => {
    const f = join(dir, "whole.jsonl");
    writeFileSync(f, '{"id":1}\n{"id":2}\n');
    expect(readJsonLines(f, "a line", check)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(readFileSync(f, "utf8")).toBe('{"id":1}\n{"id":2}\n');
  });

  it("drops a torn last line and cuts it off the file", () => {
    const f = join(dir, "torn.jsonl");
    writeFileSync(f, '{"id":1}\n{"id":2}\n{"id":3, "te');
    expect(readJsonLines(f, "a line", check)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(readFileSync(f, "utf8")).toBe('{"id":1}\n{"id":2}\n');
  });

  it("gives back the newline of a last line torn just before it", () => {
    const f = join(dir, "newline.jsonl");
    writeFileSync(f, '{"id":1}\n{"id":2}');
    expect(readJsonLines(f, "a line", check)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(readFileSync(f, "utf8")).toBe('{"id":1}\n{"id":2}\n');
  });

  it("refuses a bad line before the end, naming file and line", () => {
    const f = join(dir, "bad.jsonl");
    writeFileSync(f, '{"id":1}\n{"name":"x"}\n{"id":3}\n');
    expect(() => readJsonLines(f, "a test line", check)).toThrow(`${f}:2: not a test line`);
    expect(readFileSync(f, "utf8")).toBe('{"id":1}\n{"name":"x"}\n{"id":3}\n');
  });

  it("reads a missing file as empty", () => {
    expect(readJsonLines(join(dir, "none.jsonl"), "a line", check)).toEqual([]);
  });
});
