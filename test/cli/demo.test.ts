/** `sfx demo` (what `npm start` runs), through the built binary with no node on PATH. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { bareEnv, ensureBinary, runSfx, tempDir } from "./_sfx.ts";

test.before(ensureBinary);

test("sfx demo exchanges and shares a file on loopback, verifies both, and removes its temporary directory", async () => {
  const home = tempDir();
  try {
    const r = await runSfx(["demo", "--size", "2M"], { env: bareEnv(home.path), timeoutMs: 60_000 });
    assert.is(r.status, 0, r.stderr);
    const code = /sender connected, its ID is \d{3} \d{3}, its code (\d{3}-\d{3}-\d{3}-\d{3})/.exec(r.stdout)?.[1];
    assert.ok(code, r.stdout);
    assert.match(r.stdout, new RegExp(`sfx receive ${code} → 2\\.0 MiB relayed in [\\d.]+ s \\([\\d.]+ (MB|kB)/s\\), enciphered end to end under keys made with the sender's code, SHA-256 .* verified`));
    assert.match(r.stdout, /→ code [0-9A-Z]{4}(-[0-9A-Z]{4}){5} \(the key too: the server stores bytes it cannot read, and never saw it\)/);
    assert.match(r.stdout, /Demo complete/);
    assert.match(r.stdout, /removed \(--keep keeps them\)/, "the logs it named are said to be gone");
    const dir = /logs in (\S+)\/logs\)/.exec(r.stdout)?.[1];
    assert.ok(dir, "the demo names its directory");
    assert.not.ok(existsSync(dir!), "the demo's temporary directory is gone");
  } finally {
    home.remove();
  }
});

test("sfx demo refuses a bad size with exit 2", async () => {
  const r = await runSfx(["demo", "--size", "lots"]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /Invalid number 'lots'/);
});

test.run();
