/**
 * Run by addresses.test.ts inside a fresh mount and network namespace whose
 * /etc/hosts lists `localhost` as 127.0.0.1 and ::1, ::1 first (as Debian
 * and Ubuntu ship it), and which has only `lo` (no route anywhere else).
 * Prints one JSON line of what happened.
 */
import { lookup } from "node:dns/promises";
import { connect } from "../../src/client/connection.ts";
import { startServer } from "../../src/server/server.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";
import { bareEnv, runSfx } from "../cli/_sfx.ts";
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const outcome = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: Error & { code?: string }) => ({ code: e.code, message: e.message }));
const result: Record<string, unknown> = { resolved: (await lookup("localhost", { all: true })).map((a) => a.address) };

// A udp4 socket bound by name gets the name's IPv4 address.
result.bind = await outcome(openUdpSocket({ host: "localhost", port: 0 }).then(async (s) => {
  const at = s.localAddress().address;
  await s.close();
  return at;
}));

// A server on 127.0.0.1 only, reached as `localhost`: ::1 refuses, 127.0.0.1 answers.
const storage = mkdtempSync(join(tmpdir(), "sfx-addresses-"));
const server = await startServer({ host: "127.0.0.1", port: 0, storage: join(storage, "shares"), logDir: join(storage, "logs") });
try {
  result.connect = await outcome(connect({ server: { host: "localhost", port: server.port }, timeoutMs: 5000 }).then(async (c) => {
    const id = c.id;
    await c.close();
    return id;
  }));
} finally {
  await server.close();
  rmSync(storage, { recursive: true, force: true });
}

// Happy Eyeballs: ::1 blackholed (a socket that takes datagrams and never answers, as a
// firewall that drops them would), the server on 127.0.0.1 at the same port. The name's
// first address never answers, so its second must be tried beside it.
const silent = async (address: string, port: number) => {
  const socket = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
  let datagrams = 0;
  socket.on("message", () => datagrams++);
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => resolve());
  });
  return { port: socket.address().port, datagrams: () => datagrams, close: () => new Promise<void>((r) => socket.close(() => r())) };
};
const eyeballsStorage = mkdtempSync(join(tmpdir(), "sfx-addresses-"));
const dual = await startServer({ host: "127.0.0.1", port: 0, storage: join(eyeballsStorage, "shares"), logDir: join(eyeballsStorage, "logs") });
const blackhole = await silent("::1", dual.port);
try {
  const began = performance.now();
  result.blackholed = await outcome(connect({ server: { host: "localhost", port: dual.port }, timeoutMs: 5000 }).then(async (c) => {
    const id = c.id;
    await c.close();
    return id;
  }));
  result.blackholedMs = Math.round(performance.now() - began);
  result.blackholedDatagrams = blackhole.datagrams();
  // The binary, as a user runs it: a share code that does not exist is asked for, which takes a welcome first.
  const cliBegan = performance.now();
  const cli = await runSfx(["share", "ls", "7KQ2-M9XD-4T1F-HB6R-W3NP", "--server", `localhost:${dual.port}`], { env: bareEnv(eyeballsStorage) });
  result.cli = { status: cli.status, stderr: cli.stderr.trim(), ms: Math.round(performance.now() - cliBegan) };
} finally {
  await blackhole.close();
  await dual.close();
  rmSync(eyeballsStorage, { recursive: true, force: true });
}

// Both of the name's addresses blackholed: one error when the timeout comes (not one timeout each), naming both.
const v4 = await silent("127.0.0.1", 0);
const v6 = await silent("::1", v4.port);
try {
  const began = performance.now();
  result.allSilent = await outcome(connect({ server: { host: "localhost", port: v4.port }, timeoutMs: 1000 }));
  result.allSilentMs = Math.round(performance.now() - began);
  result.allSilentPort = v4.port;
  result.allSilentDatagrams = [v6.datagrams(), v4.datagrams()];
} finally {
  await v4.close();
  await v6.close();
}

// A name with an address that has no route and one that refuses: the refusal is the error told.
const refusing = await silent("127.0.0.1", 0);
await refusing.close(); // nothing listens there now: the port refuses
result.twoWays = await outcome(connect({ server: { host: "twoways", port: refusing.port }, timeoutMs: 5000 }));
result.twoWaysResolved = (await lookup("twoways", { all: true })).map((a) => a.address);
result.twoWaysPort = refusing.port;

// ::1 refuses (nothing there), 127.0.0.1 is silent.
const silentV4 = await silent("127.0.0.1", 0);
try {
  result.mixed = await outcome(connect({ server: { host: "localhost", port: silentV4.port }, timeoutMs: 1000 }));
  result.mixedPort = silentV4.port;
} finally {
  await silentV4.close();
}

// No route to the address: said at once, not after the connect timeout.
const started = performance.now();
result.unreachable = await outcome(connect({ server: { host: "192.0.2.1", port: 6969 }, timeoutMs: 20_000 }));
result.unreachableMs = Math.round(performance.now() - started);

console.log(JSON.stringify(result));
