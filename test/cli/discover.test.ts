import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChildProcess } from "node:child_process";
import { type Ended, runToEnd } from "../_spawn.ts";
import { join } from "node:path";
import { formatTable, resolveServer } from "../../src/cli/discover.ts";
import { startDiscoveryResponder } from "../../src/discovery/index.ts";
import { openDiscoverySocket } from "../../src/discovery/udp_socket.ts";
import { VERSION } from "../../src/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const DENO = process.env.SFX_TEST_RUNTIME === "deno";

/** Runs `cli.ts …args` from source under the runtime running this test. */
function sfx(args: string[], started?: (child: ChildProcess) => void): Promise<Ended> {
  const [cmd, pre] = DENO ? [join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--unstable-net", "cli.ts"]] : [process.execPath, ["cli.ts"]];
  return runToEnd(cmd, [...pre, ...args], { cwd: ROOT, started });
}

test("formatTable() sorts by name, aligns columns and brackets IPv6 hosts", () => {
  const base = { version: "0.1.0", addresses: [], instanceId: "0".repeat(16) };
  const text = formatTable([
    { ...base, name: "zeta", host: "fd00::2", port: 6969 },
    { ...base, name: "alpha", host: "10.0.0.1", port: 7000 },
  ]);
  assert.is(
    text,
    "NAME   ADDRESS         VERSION\n" +
      "alpha  10.0.0.1:7000   0.1.0\n" +
      "zeta   [fd00::2]:6969  0.1.0\n",
  );
});

test("formatTable() aligns columns by display width: a name in wide characters (two cells each) does not push its row's address", () => {
  const base = { version: "0.1.0", addresses: [], instanceId: "0".repeat(16) };
  const text = formatTable([
    { ...base, name: "会议室", host: "10.0.0.2", port: 6969 },
    { ...base, name: "lab", host: "10.0.0.1", port: 6969 },
  ]);
  assert.is(
    text,
    "NAME    ADDRESS        VERSION\n" +
      "lab     10.0.0.1:6969  0.1.0\n" +
      "会议室  10.0.0.2:6969  0.1.0\n",
  );
});

test("sfx discover --json prints one JSON object per server that answered, exit 0", async () => {
  const responder = await startDiscoveryResponder({ name: "cli-test", advertisePort: 7001, bind: { host: "127.0.0.1", port: 0 }, group: null });
  try {
    const r = await sfx(["discover", "--to", `127.0.0.1:${responder.localAddress().port}`, "--timeout", "500ms", "--json"]);
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.is(lines.length, 1);
    const s = JSON.parse(lines[0]);
    assert.equal([s.name, s.host, s.port, s.version, s.instanceId], ["cli-test", "127.0.0.1", 7001, VERSION, responder.instanceId]);
  } finally {
    await responder.close();
  }
});

test("sfx discover with nobody answering exits 3 with one line on stderr", async () => {
  const silent = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  try {
    const port = silent.localAddress().port;
    const r = await sfx(["discover", "--to", `127.0.0.1:${port}`, "--timeout", "200ms"]);
    assert.is(r.code, 3);
    assert.is(r.stdout, "");
    assert.is(r.stderr, `sfx: No sfx server answered within 0.2 s at 127.0.0.1:${port}\n`);
  } finally {
    await silent.close();
  }
});

test("sfx discover with a bad --timeout or --port exits 2 naming the value", async () => {
  const a = await sfx(["discover", "--timeout", "soon"]);
  assert.is(a.code, 2);
  assert.match(a.stderr, "soon");
  const b = await sfx(["discover", "--port", "70000"]);
  assert.is(b.code, 2);
  assert.match(b.stderr, "70000");
  // Port 0 and an IPv6 interface: the usage error, not a raw socket error with exit 3.
  const c = await sfx(["discover", "--port", "0"]);
  assert.is(c.code, 2);
  assert.match(c.stderr, /Invalid port '0': use a number from 1 to 65535/);
  const d = await sfx(["discover", "--interface", "::1"]);
  assert.is(d.code, 2);
  assert.match(d.stderr, /Invalid --interface '::1': give an IPv4 address/);
  const e = await sfx(["send", "--to", "123456", "--server", "127.0.0.1:0", new URL(import.meta.url).pathname]);
  assert.is(e.code, 2);
  assert.match(e.stderr, /Invalid port '0'/);
});

test("Ctrl-C during a long sfx discover prints the servers that had answered (exit 130), or says none had", async () => {
  const responder = await startDiscoveryResponder({ name: "early", advertisePort: 7003, bind: { host: "127.0.0.1", port: 0 }, group: null });
  try {
    // Queries go at 0, 0.5 and 1 s of a 2 s window: at the second reply the first has long arrived.
    const run = sfx(["discover", "--to", `127.0.0.1:${responder.localAddress().port}`, "--timeout", "2s"], (child) => {
      const deadline = Date.now() + 10_000;
      const poll = setInterval(() => {
        if (responder.stats().replies < 2 && Date.now() < deadline) return;
        clearInterval(poll);
        process.kill(child.pid!, "SIGINT"); // not child.kill(): Deno may then report the signal instead of the exit status
      }, 10);
    });
    const r = await run;
    assertInterrupted(r);
    assert.match(r.stdout, /^NAME +ADDRESS +VERSION\nearly +127\.0\.0\.1:7003 /);
    assert.match(r.stderr, /^sfx: Stopped after \d+\.\d s; the servers that had answered:\n$/);
  } finally {
    await responder.close();
  }
  const silent = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  try {
    const r = await sfx(["discover", "--to", `127.0.0.1:${silent.localAddress().port}`, "--timeout", "20s"], (child) => {
      // Once it has sent a query, it is searching.
      let sent = false;
      silent.onMessage(() => {
        if (!sent) process.kill(child.pid!, "SIGINT");
        sent = true;
      });
    });
    assertInterrupted(r);
    assert.is(r.stdout, "");
    assert.match(r.stderr, /^sfx: Stopped after \d+\.\d s: no sfx server had answered\n$/);
  } finally {
    await silent.close();
  }
});

function assertInterrupted(r: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): void {
  assert.equal([r.code, r.signal], [130, null], r.stderr);
}

test("sfx discover --interface with an address this machine does not have says so (exit 2), not a bare EADDRNOTAVAIL", async () => {
  const r = await sfx(["discover", "--interface", "203.0.113.77", "--timeout", "200ms"]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /Invalid --interface '203\.0\.113\.77': no interface of this machine has that address \(its IPv4 addresses: [^)]*127\.0\.0\.1/);
});

test("resolveServer() uses --server when given, else the one server discovery finds", async () => {
  assert.equal(await resolveServer("10.0.0.9"), { host: "10.0.0.9", port: 6969 });
  assert.equal(await resolveServer("[fd00::1]:7000"), { host: "fd00::1", port: 7000 });
  const responder = await startDiscoveryResponder({ name: "found", advertisePort: 7002, bind: { host: "127.0.0.1", port: 0 }, group: null });
  try {
    const target = { address: "127.0.0.1", port: responder.localAddress().port };
    assert.equal(await resolveServer(undefined, { discover: { target } }), { host: "127.0.0.1", port: 7002, name: "found" });
  } finally {
    await responder.close();
  }
  const silent = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  try {
    await resolveServer(undefined, { timeoutMs: 100, discover: { target: { address: "127.0.0.1", port: silent.localAddress().port } } });
    assert.unreachable("resolved with nobody answering");
  } catch (err) {
    assert.is((err as { code?: string }).code, "SFX_NO_SERVER");
    // What a first user of `sfx send` needs next: discovery only asks this network.
    assert.match((err as Error).message, /^No sfx server answered within 0\.1 s at 127\.0\.0\.1:\d+: start one with 'sfx serve', or name one with --server ADDRESS\[:PORT\]$/);
  } finally {
    await silent.close();
  }
  // Two answering: the user is told to choose, in the CLI's words.
  const a = await startDiscoveryResponder({ name: "alpha", bind: { host: "0.0.0.0", port: 0, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  const port = a.localAddress().port;
  const b = await startDiscoveryResponder({ name: "beta", bind: { host: "0.0.0.0", port, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  try {
    await resolveServer(undefined, { defaultPort: port, discover: { interfaces: ["127.0.0.1"] } });
    assert.unreachable("resolved with two servers answering");
  } catch (err) {
    assert.is((err as { code?: string }).code, "SFX_SEVERAL_SERVERS");
    assert.match((err as Error).message, /^2 sfx servers answered: .*\. Name one by its address with --server ADDRESS:PORT$/);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test.run();
