/**
 * `sfx receive` whose output cannot be written, run from source under the
 * runtime running this test (Node, or Deno: there a failed write throws
 * instead of emitting an error), against a server in this process.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../../mod.ts";
import { ROOT } from "./_sfx.ts";

const DENO = process.env.SFX_TEST_RUNTIME === "deno";

test("sfx receive with its output on a full disk ends at once with exit 8, saying nobody could read its ID (not waiting, not an internal error); with --json too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-receive-output-"));
  const server = await startServer({ host: "127.0.0.1", port: 0, logDir: join(dir, "logs"), storage: join(dir, "shares") });
  try {
    for (const json of [[], ["--json"]]) {
      const [cmd, pre] = DENO ? [join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--unstable-net", "cli.ts"]] : [process.execPath, ["cli.ts"]];
      const full = openSync("/dev/full", "w");
      const child = spawn(cmd, [...pre, "receive", "--once", "--dir", join(dir, "in"), "--server", `127.0.0.1:${server.port}`, ...json], {
        cwd: ROOT, stdio: ["ignore", full, "pipe"], env: { ...process.env, HOME: dir },
      });
      closeSync(full);
      let stderr = "";
      child.stderr!.on("data", (c) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      clearTimeout(timer);
      assert.is(code, 8, `${json}: ${stderr}`);
      assert.match(stderr, /Cannot show this receiver's ID: its output could not be written \(ENOSPC\), so nobody could send to it/);
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
