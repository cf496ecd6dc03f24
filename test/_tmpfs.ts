/**
 * A small tmpfs for full-disk tests: `fn` runs with `dir` mounted as a tmpfs
 * of `size` (mount's syntax: "256k", "1m"; `readOnly`: mounted read-only; `inodes`: at most that many files) and it is unmounted afterwards,
 * whatever happens. Without the right to mount (not root) the test says it
 * is skipped and `fn` does not run.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

export async function withTmpfs(dir: string, size: string, fn: () => Promise<void>, opts: { readOnly?: boolean; inodes?: number } = {}): Promise<void> {
  try {
    const more = `${opts.readOnly ? ",ro" : ""}${opts.inodes ? `,nr_inodes=${opts.inodes}` : ""}`;
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}${more}`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    console.log("  (skipped: cannot mount a tmpfs here; needs root)");
    return;
  }
  try {
    await fn();
  } finally {
    execFileSync("umount", [dir]);
  }
}

/**
 * Fills the (small) file system under `dir` to its last byte with a file
 * named `filler`, and returns its path: removing it gives the room back.
 * Throws when it is not full after 64 MiB.
 */
export function fillUp(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  try {
    for (let i = 0; i < 4096; i++) writeSync(fd, new Uint8Array(16 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") return path;
    throw err;
  } finally {
    closeSync(fd);
  }
  throw new Error(`${dir} did not fill up`);
}
