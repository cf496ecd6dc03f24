/**
 * Names and unreachable addresses, in a mount and network namespace of the
 * test's own (`unshare`; root only, skipped loudly otherwise): a name that
 * resolves to ::1 before 127.0.0.1, as `localhost` does on Debian and
 * Ubuntu (also with ::1 blackholed: Happy Eyeballs, through the library and
 * the built binary), and an address with no route.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../cli/_sfx.ts";

const TITLE = "a name resolving to ::1 first binds and connects by its IPv4 address, also when ::1 is blackholed (Happy Eyeballs); no route is said at once";
const CHILD = new URL("./_addresses_child.ts", import.meta.url).pathname;

function unavailable(): string | undefined {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return "not root";
  const probe = spawnSync("unshare", ["--mount", "--net", "true"], { encoding: "utf8" });
  if (probe.status !== 0) return `'unshare --mount --net' failed: ${(probe.stderr || String(probe.error)).trim()}`;
  return undefined;
}

const why = unavailable();
if (why !== undefined) {
  console.warn(`\n!!! SKIPPED: ${TITLE} (test/client/addresses.test.ts): ${why}\n`);
  test.skip(TITLE, () => {});
} else {
  test(TITLE, async () => {
    await ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), "sfx-hosts-"));
    try {
      const hosts = join(dir, "hosts");
      writeFileSync(hosts, "::1 localhost ip6-localhost\n127.0.0.1 localhost\n192.0.2.1 twoways\n127.0.0.1 twoways\n");
      const script = 'ip link set lo up && mount --bind "$HOSTS" /etc/hosts && exec "$NODE" "$CHILD"';
      const r = spawnSync("unshare", ["--mount", "--net", "sh", "-c", script], {
        env: { ...process.env, HOSTS: hosts, NODE: process.execPath, CHILD },
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.is(r.status, 0, `child: ${r.stdout}\n${r.stderr}`);
      const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
      assert.equal(result.resolved, ["::1", "127.0.0.1"], "the namespace's hosts file is read");
      assert.equal(result.bind, { ok: "127.0.0.1" }, "a udp4 socket bound to localhost");
      assert.ok(typeof result.connect.ok === "string", `connect to localhost: ${JSON.stringify(result.connect)}`);
      assert.ok(typeof result.blackholed.ok === "string", `connect to localhost with ::1 blackholed: ${JSON.stringify(result.blackholed)}`);
      assert.ok(result.blackholedMs < 2500, `with ::1 blackholed, connecting took ${result.blackholedMs} ms (timeout 5 s)`);
      assert.ok(result.blackholedDatagrams >= 1, "::1, the name's first address, was tried");
      assert.is(result.cli.status, 9, `sfx share ls through the blackholed name: ${JSON.stringify(result.cli)}`);
      assert.match(result.cli.stderr, /No share with that code/);
      assert.is(result.allSilent.code, "SFX_CONNECT_FAILED");
      assert.is(result.allSilent.message, `No answer from localhost:${result.allSilentPort} within 1 s; tried ::1, 127.0.0.1`);
      assert.ok(result.allSilentMs < 1900, `both addresses silent took ${result.allSilentMs} ms, for a 1 s timeout`);
      assert.ok(result.allSilentDatagrams.every((n: number) => n >= 1), `both addresses were tried: ${result.allSilentDatagrams}`);
      assert.equal(result.twoWaysResolved, ["127.0.0.1", "192.0.2.1"], "the resolver puts the address with no route last");
      assert.is(
        result.twoWays.message,
        `Nothing is listening at twoways:${result.twoWaysPort} (connection refused); 127.0.0.1: connection refused, 192.0.2.1: no route (ENETUNREACH)`,
        "a refusal tells more than a missing route, and each address's failure is said",
      );
      assert.is(
        result.mixed.message,
        `No answer from localhost:${result.mixedPort} within 1 s; ::1: connection refused, 127.0.0.1: no answer`,
        "what the user waited for leads, and the refusal is said too",
      );
      assert.is(result.unreachable.code, "SFX_CONNECT_FAILED");
      assert.match(result.unreachable.message, /^Cannot reach 192\.0\.2\.1:6969: .*ENETUNREACH/);
      assert.ok(result.unreachableMs < 10_000, `no route took ${result.unreachableMs} ms (the connect timeout was 20 s)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
