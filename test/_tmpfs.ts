/**
 * A small tmpfs for full-disk tests: `fn` runs with `dir` mounted as a tmpfs
 * of `size` (mount's syntax: "256k", "1m"; `readOnly`: mounted read-only) and it is unmounted afterwards,
 * whatever happens. Without the right to mount (not root) the test says it
 * is skipped and `fn` does not run.
 */
import { execFileSync } from "node:child_process";

export async function withTmpfs(dir: string, size: string, fn: () => Promise<void>, opts: { readOnly?: boolean } = {}): Promise<void> {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}${opts.readOnly ? ",ro" : ""}`, "tmpfs", dir], { stdio: "ignore" });
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
