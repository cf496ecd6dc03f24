/**
 * A small tmpfs for full-disk tests: `fn` runs with `dir` mounted as a tmpfs
 * of `size` (mount's syntax: "256k", "1m"; `readOnly`: mounted read-only; `inodes`: at most that many files) and it is unmounted afterwards,
 * whatever happens. Without the right to mount (not root) the test says it
 * is skipped and `fn` does not run.
 */
import { execFileSync } from "node:child_process";

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
