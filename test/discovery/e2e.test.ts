/**
 * End to end through the built binary: `sfx serve` and `sfx discover` as
 * separate processes. As root, both run in a fresh network namespace holding
 * only loopback (so nothing reaches the host's real interfaces, and the
 * default port and group are used as a user would); otherwise on this host,
 * on a free port, with serve's group membership and discover's query
 * restricted to loopback.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { VERSION } from "../../src/version.ts";
import {
  deleteAtExit,
  deleteNamespaces,
  freeUdpPort,
  ip,
  netnsUnavailable,
  requireBinary,
  runSfx,
  sfxEnv,
  startServe,
  tempDir,
  uniqueName,
  waitUntilAnswering,
} from "./_e2e.ts";

requireBinary();
const why = netnsUnavailable();
const namespaces = new Set<string>();
deleteAtExit(namespaces);
let ns: string | undefined;
if (why === undefined) {
  ns = uniqueName("lo");
  ip("netns", "add", ns);
  namespaces.add(ns);
  ip("-n", ns, "link", "set", "lo", "up");
  ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo");
} else {
  console.warn(`note: running the discovery end-to-end test on this host's loopback (${why}), not in a network namespace`);
}

interface Setup {
  port: number;
  serveArgs: string[];
  discoverArgs: string[];
}

async function setup(): Promise<Setup> {
  if (ns) return { port: 6969, serveArgs: [], discoverArgs: [] }; // the defaults, alone in the namespace
  const port = await freeUdpPort();
  // Loopback only on both sides: no IGMP join and no query leaves by a real interface.
  return {
    port,
    serveArgs: ["--port", String(port), "--discovery-interface", "127.0.0.1"],
    discoverArgs: ["--port", String(port), "--interface", "127.0.0.1"],
  };
}

test("sfx discover with no server answering exits 3 with one line", async () => {
  const home = tempDir("sfx-e2e-");
  try {
    const { discoverArgs } = await setup();
    const r = await runSfx(["discover", "--timeout", "300ms", ...discoverArgs], { env: sfxEnv(home.path), ns });
    assert.is(r.code, 3, `stderr: ${r.stderr}`);
    assert.is(r.stdout, "");
    assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /No sfx server answered within 0\.3 s on multicast group 239\.255\.69\.69 port \d+/);
  } finally {
    home.remove();
  }
});

test("sfx serve and sfx discover, as separate processes, find each other within 1 s", async () => {
  const home = tempDir("sfx-e2e-");
  const name = `e2e-${process.pid}`;
  const { port, serveArgs, discoverArgs } = await setup();
  const env = sfxEnv(home.path);
  const server = startServe(["--name", name, "--log-dir", home.path, ...serveArgs], { env, ns });
  let passed = false;
  try {
    await waitUntilAnswering(server, `127.0.0.1:${port}`, { env, ns });

    const table = await runSfx(["discover", "--timeout", "1s", ...discoverArgs], { env, ns });
    assert.is(table.code, 0, `stderr: ${table.stderr}`);
    const lines = table.stdout.trimEnd().split("\n");
    assert.equal(lines[0].split(/\s+/), ["NAME", "ADDRESS", "VERSION"]);
    assert.is(lines.length, 2, table.stdout);
    assert.equal(lines[1].split(/\s+/), [name, `127.0.0.1:${port}`, VERSION]);
    // It listened for its 1 s timeout and no more (plus the binary's start-up).
    assert.ok(table.ms >= 1000 && table.ms < 6000, `discover took ${table.ms.toFixed(0)} ms`);

    const json = await runSfx(["discover", "--timeout", "1s", "--json", ...discoverArgs], { env, ns });
    assert.is(json.code, 0, `stderr: ${json.stderr}`);
    const servers = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.is(servers.length, 1);
    assert.is(servers[0].name, name);
    assert.is(servers[0].host, "127.0.0.1");
    assert.is(servers[0].port, port);
    assert.is(servers[0].version, VERSION);
    assert.match(servers[0].instanceId, /^[0-9a-f]{16}$/);
    assert.ok(Array.isArray(servers[0].addresses));
    passed = true;
  } finally {
    const code = await server.stop();
    home.remove();
    // Reported only when the rest passed, so it never hides the first failure.
    if (passed) assert.is(code, 0, `sfx serve did not exit cleanly on SIGTERM:\n${server.output()}`);
  }
});

test.after(() => deleteNamespaces(namespaces));

test.run();
