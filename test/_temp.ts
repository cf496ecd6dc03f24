/**
 * Temporary directories for one test file: `tempDirs(test, prefix)` returns a
 * function that makes a fresh directory under the system's temp dir, and
 * every one it made is removed after the file's tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDirs(suite: { after(fn: () => void): void }, prefix: string): () => string {
  const dirs: string[] = [];
  suite.after(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
