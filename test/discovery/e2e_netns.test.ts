/**
 * Discovery across a LAN: two network namespaces ("server" and "client"),
 * each with a veth whose peer sits on a bridge in a third namespace. Only
 * 10.x addresses, only inside namespaces this test creates, all deleted at
 * the end. `sfx serve` runs in one with its defaults, `sfx discover` in the
 * other with its defaults; the client must find the server at its bridge
 * address. Needs root and iproute2: skipped with a loud banner otherwise.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { VERSION } from "../../src/version.ts";
import {
  deleteAtExit,
  deleteNamespaces,
  ip,
  loudSkip,
  netnsUnavailable,
  requireBinary,
  runSfx,
  sfxEnv,
  startServe,
  tempDir,
  uniqueName,
  waitUntilAnswering,
} from "./_e2e.ts";

const TITLE = "sfx discover in one network namespace finds sfx serve in another across a bridge";
const why = netnsUnavailable();

if (why !== undefined) {
  loudSkip(`${TITLE} (test/discovery/e2e_netns.test.ts)`, why);
  test.skip(TITLE, () => {});
} else {
  requireBinary();
  const namespaces = new Set<string>();
  deleteAtExit(namespaces);
  // A random /24 in 10.0.0.0/8 per run, so concurrent runs never look alike.
  const net = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const SERVER_IP = `${net}.1`;
  const CLIENT_IP = `${net}.2`;
  const SECOND_IP = `${net}.3`;

  /** server ns, second server ns, client ns: each —veth— a bridge ns */
  function buildLan(): { server: string; second: string; client: string } {
    const bridge = uniqueName("br");
    const server = uniqueName("srv");
    const second = uniqueName("sr2");
    const client = uniqueName("cli");
    for (const ns of [bridge, server, second, client]) {
      ip("netns", "add", ns);
      namespaces.add(ns);
      ip("-n", ns, "link", "set", "lo", "up");
    }
    ip("-n", bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    ip("-n", bridge, "link", "set", "br0", "up");
    for (const [ns, addr, port] of [[server, SERVER_IP, "p-srv"], [second, SECOND_IP, "p-sr2"], [client, CLIENT_IP, "p-cli"]]) {
      // Created inside the namespaces: nothing ever appears in the host's.
      ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", bridge);
      ip("-n", bridge, "link", "set", port, "master", "br0");
      ip("-n", bridge, "link", "set", port, "up");
      ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
    }
    return { server, second, client };
  }

  test(TITLE, async () => {
    const home = tempDir("sfx-netns-");
    const env = sfxEnv(home.path);
    const lan = buildLan();
    const name = `netns-${process.pid}`;
    const server = startServe(["--name", name, "--log-dir", home.path], { env, ns: lan.server });
    try {
      // Ready once it answers a unicast query across the bridge.
      await waitUntilAnswering(server, SERVER_IP, { env, ns: lan.client });

      const r = await runSfx(["discover", "--timeout", "1s", "--json"], { env, ns: lan.client });
      assert.is(r.code, 0, `stderr: ${r.stderr}\nserver: ${server.output()}`);
      const found = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.is(found.length, 1, r.stdout);
      assert.is(found[0].name, name);
      assert.is(found[0].host, SERVER_IP, "the reply's source: the server's address on the bridge");
      assert.is(found[0].port, 6969);
      assert.is(found[0].version, VERSION);
      assert.ok(found[0].addresses.includes(SERVER_IP), `advertised ${found[0].addresses}`);

      const table = await runSfx(["discover", "--timeout", "1s"], { env, ns: lan.client });
      assert.is(table.code, 0);
      assert.match(table.stdout, `${SERVER_IP}:6969`);

      // The one server is used by a command given no --server ...
      const share = await runSfx(["share", "ls", "AAAA-AAAA-AAAA-AAAA-AAAA"], { env, ns: lan.client });
      assert.is(share.code, 9, `connected and asked: ${share.stderr}`);

      // ... but with a second server on the LAN, such a command would take whichever answered first, and
      // a receiver and a sender could land on different servers: it names both and asks for --server.
      const second = startServe(["--name", "second", "--log-dir", home.path, "--storage", `${home.path}/second`], { env, ns: lan.second });
      try {
        await waitUntilAnswering(second, SECOND_IP, { env, ns: lan.client });
        const both = await runSfx(["receive"], { env, ns: lan.client });
        assert.is(both.code, 3, both.stdout + both.stderr);
        assert.match(both.stderr, `"${name}" at ${SERVER_IP}:6969`);
        assert.match(both.stderr, `"second" at ${SECOND_IP}:6969`);
        assert.match(both.stderr, "Name one by its address with --server ADDRESS:PORT");
      } finally {
        assert.is(await second.stop(), 0, second.output());
      }

      // Once the server has stopped, the client finds nobody.
      assert.is(await server.stop(), 0, `sfx serve did not exit cleanly on SIGTERM:\n${server.output()}`);
      const none = await runSfx(["discover", "--timeout", "500ms"], { env, ns: lan.client });
      assert.is(none.code, 3, none.stdout + none.stderr);
    } finally {
      await server.stop();
      deleteNamespaces(namespaces);
      namespaces.clear();
      home.remove();
    }
  });

  test.after(() => deleteNamespaces(namespaces));
}

test.run();
