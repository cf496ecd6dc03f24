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

// No route to the address: said at once, not after the connect timeout.
const started = performance.now();
result.unreachable = await outcome(connect({ server: { host: "192.0.2.1", port: 6969 }, timeoutMs: 20_000 }));
result.unreachableMs = Math.round(performance.now() - started);

console.log(JSON.stringify(result));
