/** Test helper: run a command inside a throwaway network namespace. */
import { spawnSync } from "node:child_process";

/**
 * Runs `cmd` in a fresh network namespace with only loopback, so multicast
 * never leaves the machine; returns its stdout, or undefined (with a note)
 * when namespaces are unavailable (not root, no iproute2).
 */
export function runInOwnNetns(cmd: string[]): string | undefined {
  const ns = `sfxt${process.pid}`;
  const add = spawnSync("ip", ["netns", "add", ns], { encoding: "utf8" });
  if (add.status !== 0) {
    console.log(`  (skipped: cannot create a network namespace: ${(add.stderr || String(add.error)).trim()})`);
    return undefined;
  }
  try {
    spawnSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    const r = spawnSync("ip", ["netns", "exec", ns, ...cmd], { encoding: "utf8", timeout: 30_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
    return `${r.stdout}${r.stderr}`.trim();
  } finally {
    spawnSync("ip", ["netns", "del", ns]);
  }
}

