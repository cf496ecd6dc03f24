import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../../src/server/server.ts";
import { runServer } from "../../src/server/run.ts";
import { acquirePidFile } from "../../src/server/pidfile.ts";
import { discoverServers } from "../../src/discovery/index.ts";
import { isSfxError } from "../../src/errors.ts";
import { Ping } from "../../src/protocol/index.ts";
import { type Association, SctpEndpoint } from "../../src/transport/sctp/index.ts";
import { type ClientConnection, connect } from "../../src/client/connection.ts";
import { Receiver } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import { collectShareFiles, connectionShareLink, ShareClient } from "../../src/client/share.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";
import { collectFiles } from "../../src/client/walk.ts";
import { fillUp, withTmpfs } from "../_tmpfs.ts";

const root = mkdtempSync(join(tmpdir(), "sfx-server-test-"));
let n = 0;
/** Options for a server kept on loopback, with logs and shares in a fresh temp dir. */
function opts(name = "unit") {
  const dir = join(root, `case${n++}`);
  return { dir, options: { host: "127.0.0.1", port: 0, name, logDir: dir, storage: join(dir, "shares") } };
}

test.after(() => rmSync(root, { recursive: true, force: true }));

/** The window the server advertises to `conn` as the client sees it, once it has heard from the server after `poke`. */
async function windowSeen(conn: ClientConnection, want: (w: number) => boolean, what: string, ms = 3000): Promise<number> {
  const a = conn.association as unknown as Association;
  const t0 = Date.now();
  // A shrunk window is advertised with the next SACK: a ping makes the server acknowledge something.
  while (!want(a.stats().peerRwnd) && Date.now() - t0 < ms) {
    conn.sendControl(Ping.encode({ n: 1 }));
    await new Promise((r) => setTimeout(r, 20));
  }
  const w = a.stats().peerRwnd;
  assert.ok(want(w), `${what}: window ${w}`);
  return w;
}

/** `a` sends `b` (receiving into `dir`) a 1 MiB file whose first 64 KiB go at once and the rest once `open()` is called. */
function gatedExchange(a: ClientConnection, b: ClientConnection, dir: string) {
  mkdirSync(dir, { recursive: true });
  const got = new Receiver(b, { dir, decide: async () => true }).receiveOne();
  got.catch(() => {});
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const data = new Uint8Array(1024 * 1024).fill(9);
  const file = { path: "x.bin", size: data.length, async *read() { yield data.slice(0, 65536); await gate; yield data.slice(65536); } };
  const sending = sendFiles(a, { to: b.id, files: [file] });
  sending.catch(() => {});
  return { open, sending, got };
}

test("the server's receive window is 64 KiB for a client until it sends a file or an upload, 8 MiB while it does, and 64 KiB again after", async () => {
  const { dir, options } = opts();
  const server = await startServer(options);
  const socket = await openUdpSocket({ host: "127.0.0.1" });
  const endpoint = SctpEndpoint.listen({ socket, accept: false });
  const conns: ClientConnection[] = [];
  try {
    // Before hello, a stranger can make the server hold 64 KiB.
    const raw = await endpoint.connect({ address: "127.0.0.1", port: server.port }, { streams: 4 });
    assert.is(raw.stats().peerRwnd, 64 * 1024);
    raw.abort("test over");
    const a = await connect({ server: { host: "127.0.0.1", port: server.port } });
    const b = await connect({ server: { host: "127.0.0.1", port: server.port } });
    conns.push(a, b);
    const small = (w: number) => w <= 64 * 1024;
    const large = (w: number) => w >= 7 * 1024 * 1024;
    await windowSeen(a, small, "welcomed, not sending");
    // An exchange a sends: large while it streams.
    const { open, sending, got } = gatedExchange(a, b, join(dir, "in"));
    await windowSeen(a, large, "sending an exchange");
    await windowSeen(b, small, "receiving an exchange");
    open();
    await sending;
    await got;
    await windowSeen(a, small, "after the exchange");
    // A share upload: large while it runs.
    const shares = new ShareClient(connectionShareLink(a));
    const up = join(dir, "up.bin");
    writeFileSync(up, new Uint8Array(3 * 1024 * 1024).fill(4));
    let largeDuring = 0;
    await shares.put(await collectShareFiles([up]), { onProgress: () => (largeDuring = Math.max(largeDuring, (a.association as unknown as Association).stats().peerRwnd)) });
    assert.ok(largeDuring >= 1024 * 1024, `window during the upload: ${largeDuring}`);
    shares.dispose();
    await windowSeen(a, small, "after the upload");
  } finally {
    for (const c of conns) await c.close(500).catch(() => {});
    await endpoint.close();
    await server.close("test over");
  }
});

test("a server whose UDP socket overflows halves the window of the client sending through it, says so in its log, and gives the window back once the flood stops", async () => {
  const { dir, options } = opts();
  const server = await startServer(options);
  const flood = createSocket("udp4");
  const conns: ClientConnection[] = [];
  try {
    const a = await connect({ server: { host: "127.0.0.1", port: server.port } });
    const b = await connect({ server: { host: "127.0.0.1", port: server.port } });
    conns.push(a, b);
    const { open, sending, got } = gatedExchange(a, b, join(dir, "in"));
    await windowSeen(a, (w) => w >= 7 * 1024 * 1024, "sending an exchange");
    // Datagrams the server takes for no one's (they start 00 00), sent in bursts it cannot read during.
    // 24 MB in one go, three times what its buffer holds.
    const junk = new Uint8Array(60_000);
    for (let i = 0; i < 400; i++) flood.send(junk, server.port, "127.0.0.1");
    await windowSeen(a, (w) => w <= 4 * 1024 * 1024, "after the socket overflowed");
    await windowSeen(a, (w) => w >= 7 * 1024 * 1024, "after the flood", 10_000);
    open();
    await sending;
    await got;
  } finally {
    flood.close();
    for (const c of conns) await c.close(500).catch(() => {});
    await server.close("test over");
  }
  assert.match(readFileSync(join(dir, "stream_server.log"), "utf8"), /The UDP socket dropped \d+ datagrams it had no room for .*each sending client's window is now (4194304|2097152) bytes/);
});

test("startServer() binds a real port, answers discovery there, and close() stops it and flushes the log", async () => {
  const { dir, options } = opts("unit-box");
  const server = await startServer(options);
  try {
    assert.ok(server.port > 0);
    assert.is(server.host, "127.0.0.1");
    assert.equal(server.addresses, ["127.0.0.1"]);
    assert.is(server.logDir, dir);
    const found = await discoverServers({ target: { address: "127.0.0.1", port: server.port }, timeoutMs: 2000 });
    assert.is(found.length, 1);
    assert.is(found[0].name, "unit-box");
    assert.is(found[0].port, server.port);
    assert.equal(found[0].addresses, ["127.0.0.1"], "a bound server lists its own address, not the machine's others");
  } finally {
    await server.close("test over");
    await server.close(); // idempotent
  }
  const log = readFileSync(join(dir, "stream_server.log"), "utf8");
  assert.match(log, new RegExp(`INFO  sfx\\.server: sfx \\S+ ready on 127\\.0\\.0\\.1:${server.port} as unit-box `));
  assert.match(log, /INFO  sfx\.server: sfx stopping: test over/);
  assert.match(log, /INFO  sfx\.server: sfx stopped\n$/);
  // Stopped means the port is free again.
  const probe = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.bind(server.port, "127.0.0.1", () => resolve());
  });
  probe.close();
});

test("startServer() takes the IPv6 wildcard however written: joins discovery, and lists IPv4 loopback (a dual-stack socket)", async () => {
  const { options } = opts("unit-v6");
  const server = await startServer({ ...options, host: "0:0:0:0:0:0:0:0", discoveryInterfaces: ["127.0.0.1"] });
  try {
    assert.is(server.host, "::");
    assert.ok(server.addresses.includes("::1") && server.addresses.includes("127.0.0.1"), server.addresses.join(", "));
    // Multicast, as a client given no --server asks (bound to one address, the server would answer unicast only).
    const found = await discoverServers({ port: server.port, interfaces: ["127.0.0.1"], timeoutMs: 1000, repeats: 2 });
    assert.equal(found.map((f) => f.name), ["unit-v6"]);
  } finally {
    await server.close("test over");
  }
});

test("startServer() given a host name lists, and answers discovery with, the address it resolved to", async () => {
  const { options } = opts("unit-name");
  const server = await startServer({ ...options, host: "localhost" });
  try {
    const bound = server.addresses[0];
    assert.ok(bound === "127.0.0.1" || bound === "::1", server.addresses.join(", "));
    const found = await discoverServers({ target: { address: bound, port: server.port }, timeoutMs: 1000, repeats: 2 });
    assert.equal(found.map((f) => [f.name, f.addresses]), [["unit-name", [bound]]]);
  } finally {
    await server.close("test over");
  }
});

test("startServer() refuses a port node:dgram would quietly change (99999 became 34463, 1.5 became 1)", async () => {
  for (const port of [99999, -1, 1.5]) {
    const err = await startServer({ ...opts().options, port }).then(async (s) => (await s.close(), undefined), (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), `${port}: ${err}`);
  }
});

test("startServer() on a port in use fails with SFX_IO, logs why, and leaves nothing open", async () => {
  const blocker = createSocket("udp4");
  await new Promise<void>((resolve) => blocker.bind(0, "127.0.0.1", () => resolve()));
  const { dir, options } = opts();
  try {
    await startServer({ ...options, port: blocker.address().port });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
  } finally {
    blocker.close();
  }
  assert.match(readFileSync(join(dir, "stream_server.log"), "utf8"), / ERROR sfx\.server: sfx \S+ failed to start: /);
});

test("startServer() whose share store the file system refuses (a leftover it may not remove) fails with SFX_IO naming it, not as a bug", async () => {
  const { options } = opts();
  const leftover = join(options.storage, "uploads", "0123456789abcdef01234567"); // an upload's name: an older sfx's store
  mkdirSync(leftover, { recursive: true });
  writeFileSync(join(leftover, "0"), "half an upload");
  // Immutable, so that even root cannot remove it (ext4 and most local file systems).
  if (spawnSync("chattr", ["+i", join(leftover, "0")]).status !== 0) {
    console.warn("SKIPPED: chattr +i is not supported here");
    return;
  }
  try {
    const err = await startServer(options).then(async (s) => (await s.close(), undefined), (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
    assert.match((err as Error).message, /^Cannot start the server: E[A-Z]+: .*uploads\/0123456789abcdef01234567/, (err as Error).message);
  } finally {
    spawnSync("chattr", ["-i", join(leftover, "0")]);
  }
});

test("a share store whose disk is full when the server starts (its lock cannot be written) leaves the server without shares, not down: exchanges run, each share request is told why, and the log says so", async () => {
  const { dir, options: given } = opts();
  const disk = join(dir, "disk");
  mkdirSync(disk, { recursive: true });
  const options = { ...given, storage: join(disk, "shares") };
  await withTmpfs(disk, "256k", async () => {
    // It ran before (the store is there), then its disk filled up while it was stopped.
    await (await startServer(options)).close();
    fillUp(disk);
    const server = await startServer(options);
    try {
      const a = await connect({ server: { host: "127.0.0.1", port: server.port } });
      const b = await connect({ server: { host: "127.0.0.1", port: server.port } });
      try {
        const shares = new ShareClient(connectionShareLink(a));
        const err = await shares.list("7KQ2-M9XD-4T1F-HB6R-W3NP").then(() => undefined, (e: unknown) => e);
        assert.ok(isSfxError(err, "SFX_IO"), String(err));
        assert.match((err as Error).message, /share store is not available \(its disk was full when the server started\)/);
        // The relay works all the same, on the same connection.
        const src = join(dir, "x.txt");
        writeFileSync(src, "relayed");
        const out = join(dir, "out");
        const [got] = await Promise.all([
          new Receiver(b, { dir: out, decide: async () => true }).receiveOne(),
          sendFiles(a, { to: b.id, files: await collectFiles([src]) }),
        ]);
        assert.ok(got.accepted);
        assert.is(readFileSync(join(out, "x.txt"), "utf8"), "relayed");
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await server.close();
    }
    const log = readFileSync(join(dir, "stream_server.log"), "utf8");
    assert.match(log, /ERROR .*Shares are not served: the share store cannot be opened, its disk is full/);
  });
});

test("runServer() holds the pid file while it runs; SIGTERM shuts it down with status 0 and removes the file", async () => {
  const { dir, options } = opts();
  const pidFile = join(dir, "run", "sfx.pid");
  let readyPid: string | undefined;
  const status = await runServer({
    ...options,
    pidFile,
    onReady: (server, file) => {
      assert.is(file, pidFile);
      readyPid = readFileSync(pidFile, "utf8");
      assert.ok(server.port > 0);
      process.kill(process.pid, "SIGTERM"); // handled: a graceful stop, not the end of this test process
    },
  });
  assert.is(status, 0);
  assert.is(readyPid, `${process.pid}\n`);
  assert.not.ok(existsSync(pidFile));
  assert.match(readFileSync(join(dir, "stream_server.log"), "utf8"), /sfx stopping: SIGTERM[^\n]*\n(.*\n)*.*sfx stopped\n$/);
  assert.is(process.listenerCount("SIGTERM"), 0, "signal handlers removed");
  assert.is(process.listenerCount("uncaughtException"), 0, "crash handlers removed");
});

test("runServer(): the status file's last record failing to be written (its directory gone) is in the log, which closes after it", async () => {
  const { dir, options } = opts();
  const runDir = join(dir, "run");
  const status = await runServer({
    ...options,
    pidFile: join(runDir, "sfx.pid"),
    onReady: () => {
      void (async () => {
        // Once the first figures are there (bounded), the directory goes, then the server is stopped.
        const deadline = Date.now() + 5000;
        while (!existsSync(join(runDir, "sfx.status.json")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        rmSync(runDir, { recursive: true, force: true });
        process.kill(process.pid, "SIGTERM");
      })();
    },
  });
  assert.is(status, 0);
  const log = readFileSync(join(dir, "stream_server.log"), "utf8");
  assert.match(log, /WARN .*Cannot write the status file .*sfx\.status\.json: ENOENT[^\n]*\n(.*\n)*.*sfx stopped\n$/);
});

test("runServer(): a SIGHUP while the server starts (its log may be open already, and just rotated) reopens the log once it runs", async () => {
  const { dir, options } = opts();
  const running = runServer({
    ...options,
    onReady: async () => {
      // The reopen is asynchronous: waited for (bounded), then the server is stopped.
      const deadline = Date.now() + 5000;
      while (!readFileSync(join(dir, "stream_server.log"), "utf8").includes("Log file reopened (SIGHUP)") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      process.kill(process.pid, "SIGTERM");
    },
  });
  process.emit("SIGHUP", "SIGHUP"); // runServer has listened since its first line; the server is not up yet
  assert.is(await running, 0);
  assert.match(readFileSync(join(dir, "stream_server.log"), "utf8"), /Log file reopened \(SIGHUP\)/);
});

test("runServer() with a pid file held by a live server fails with SFX_ALREADY_RUNNING before starting anything", async () => {
  const { dir, options } = opts();
  const pidFile = join(dir, "sfx.pid");
  // The holder: a live process whose command line is a server's (`node …/cli.ts serve`).
  const prog = mkdtempSync(join(tmpdir(), "sfx-fake-server-"));
  writeFileSync(join(prog, "cli.ts"), "setInterval(() => {}, 1000); process.stdout.write('up')");
  const child = spawn(process.execPath, [join(prog, "cli.ts"), "serve"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    acquirePidFile(pidFile, child.pid!);
    await runServer({ ...options, pidFile });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_ALREADY_RUNNING"), String(err));
  } finally {
    child.kill("SIGKILL");
    rmSync(prog, { recursive: true, force: true });
  }
  assert.is(readFileSync(pidFile, "utf8"), `${child.pid}\n`, "the holder's pid file is untouched");
  assert.not.ok(existsSync(join(dir, "stream_server.log")), "nothing started: not even the logs");
  assert.is(process.listenerCount("SIGTERM"), 0, "signal handlers removed");
});

test("runServer() after an uncaught exception logs it as FATAL, shuts down, removes the pid file and resolves 1", async () => {
  const { dir, options } = opts();
  const pidFile = join(dir, "sfx.pid");
  const status = await runServer({
    ...options,
    pidFile,
    onReady: () => {
      setTimeout(() => {
        throw new Error("boom in a timer");
      }, 0);
    },
  });
  assert.is(status, 1);
  assert.not.ok(existsSync(pidFile));
  const log = readFileSync(join(dir, "stream_server.log"), "utf8");
  assert.match(log, / FATAL sfx\.server: Crashed: "?Error: boom in a timer/);
  assert.match(log, /sfx stopping: crash[^\n]*\n(.*\n)*.*sfx stopped\n$/);
  assert.is(process.listenerCount("uncaughtException"), 0, "crash handlers removed");
});

test.run();
