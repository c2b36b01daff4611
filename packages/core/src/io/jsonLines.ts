// Append-only JSONL logs (predictions, profile summaries): each batch of finished lines is appended in one
// write, so the only damage a kill can do is a torn last line, which reading drops (and truncates away).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { DepError } from "@dep/native-cuda";

/**
 * The rows of an append-only JSONL file, in order. `check` throws on a row of the wrong shape. A bad last
 * line is a torn append and is cut off the file; a bad line before the end is an error naming the file
 * and line. A missing file has no rows.
 */
export function readJsonLines<T>(path: string, what: string, check: (row: unknown) => T): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const rows: T[] = [];
  let keep = 0; // characters up to and including the newline of the last good line
  let end = 0;
  for (const [i, line] of lines.entries()) {
    end += line.length + 1;
    if (!line.trim()) continue;
    try {
      rows.push(check(JSON.parse(line)));
      keep = end;
    } catch {
      if (lines.slice(i + 1).some((l) => l.trim())) {
        throw new DepError("DEP_INPUT", `${path}:${i + 1}: not ${what}; remove the file to start over`);
      }
    }
  }
  // a good last line torn off just before its newline gets the newline back
  const fixed = `${text}\n`.slice(0, keep);
  if (fixed !== text) writeFileSync(path, fixed);
  return rows;
}
