/**
 * One server socket, 1,000 concurrent associations (real UDP on loopback):
 * 1,000 clients, each on its own socket, handshake at once and each gets its
 * own message echoed back.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SctpEndpoint, type Association } from "../../../src/transport/sctp/index.ts";
import { openUdpSocket, type UdpSocket } from "../../../src/transport/udp.ts";

const CLIENTS = 1000;

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

test("1,000 concurrent associations on one server socket each handshake and echo one message", async () => {
  const serverSocket = await openUdpSocket({ host: "127.0.0.1" });
  // All 1,000 from 127.0.0.1, at once: by default one address gets 50 INIT ACKs at once, then 50 a
  // second, and the rest would wait for their INITs' retransmissions (the budget has its own tests).
  const server = SctpEndpoint.listen({ socket: serverSocket, initAcksPerSecond: 200_000 });
  let accepted = 0;
  server.on("association", (a: Association) => {
    accepted++;
    a.on("message", (stream: number, data: Uint8Array, ppid: number) => a.send(stream, data, { ppid }));
  });
  const to = { address: "127.0.0.1", port: serverSocket.localAddress().port };
  const sockets: UdpSocket[] = [];
  const clients: SctpEndpoint[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const s = await openUdpSocket({ host: "127.0.0.1", bufferSize: 256 * 1024 });
      sockets.push(s);
      // INIT retransmitted soon if the server's queue overflowed during the burst.
      clients.push(SctpEndpoint.listen({ socket: s, accept: false, rtoInitial: 300 }));
    }
    const started = performance.now();
    const durations: number[] = [];
    const echoes = clients.map(async (c, i) => {
      const t0 = performance.now();
      const a = await c.connect(to, { streams: 2 });
      durations.push(performance.now() - t0);
      const text = `hello from client ${i}`;
      const back = new Promise<string>((resolve) => a.once("message", (_s: number, d: Uint8Array) => resolve(new TextDecoder().decode(d))));
      a.send(1, new TextEncoder().encode(text), { ppid: 7 });
      const got = await back;
      return got === text;
    });
    // Usually 2–5 s; under heavy load the PLPMTUD probes of 1,000 associations (up to 64 KiB each on loopback) can overflow the one socket and cost T3 backoffs.
    const results = await within(50_000, Promise.all(echoes), "1,000 handshakes and echoes");
    const secs = (performance.now() - started) / 1000;
    assert.is(results.filter(Boolean).length, CLIENTS, "every client got its own message back");
    assert.is(accepted, CLIENTS);
    assert.is(server.associations().length, CLIENTS, "all associations live on the one server socket");
    durations.sort((x, y) => x - y);
    const q = (f: number) => durations[Math.min(durations.length - 1, Math.floor(f * durations.length))].toFixed(0);
    console.log(`  ${CLIENTS} associations handshaken and echoed in ${secs.toFixed(1)} s; handshake ms p50 ${q(0.5)}, p99 ${q(0.99)}, max ${q(1)}; server ${JSON.stringify(server.stats())}`);
  } finally {
    for (const c of clients) for (const a of c.associations()) a.abort("test over");
    for (const a of server.associations()) a.abort("test over"); // else close() would wait on peers already gone
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    await Promise.all([...sockets.map((s) => s.close()), serverSocket.close()]);
  }
});

test.run();
