/**
 * The SCTP stack on the runtime's own datagram socket: under Deno (the runner
 * also runs test/transport/deno* files with `deno run -A --unstable-net`)
 * that is `Deno.listenDatagram`; under Node, node:dgram. A loopback
 * handshake, a 4 MiB transfer both ways byte-exact, and a graceful close.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { type Association, SctpEndpoint } from "../../src/transport/sctp/index.ts";
import { defaultDatagramImpl, openDatagramSocket } from "../../src/transport/socket.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

function receiveAll(a: Association, total: number): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const out = new Uint8Array(total);
    let n = 0;
    a.on("message", (_s: number, d: Uint8Array) => {
      out.set(d, n);
      n += d.length;
      if (n >= total) resolve(out);
    });
  });
}

async function sendAll(a: Association, data: Uint8Array, size: number): Promise<void> {
  for (let off = 0; off < data.length; off += size) {
    if (!a.send(1, data.subarray(off, Math.min(data.length, off + size)))) await new Promise<void>((r) => a.once("drain", r));
  }
}

test(`SCTP over ${isDeno ? "Deno.listenDatagram" : "node:dgram"}: loopback handshake, 4 MiB each way byte-exact, graceful close`, async () => {
  assert.is(defaultDatagramImpl(), isDeno ? "deno" : "node");
  const s1 = await openDatagramSocket({ host: "127.0.0.1" });
  const s2 = await openDatagramSocket({ host: "127.0.0.1" });
  assert.is(s1.constructor.name, isDeno ? "DenoUdpSocket" : "UdpSocket");
  // Deno cannot enlarge the kernel's socket buffers: a smaller window keeps bursts within them.
  const opts = isDeno ? { receiveBufferSize: 128 * 1024 } : {};
  const server = SctpEndpoint.listen({ socket: s1, ...opts });
  const client = SctpEndpoint.listen({ socket: s2, accept: false, ...opts });
  try {
    const accepted = new Promise<Association>((resolve) => server.once("association", resolve));
    const c = await within(10_000, client.connect({ address: "127.0.0.1", port: s1.localAddress().port }, { streams: 4 }), "handshake");
    const s = await within(10_000, accepted, "accept");
    const up = pattern(4 << 20, 1);
    const down = pattern(4 << 20, 2);
    const atServer = receiveAll(s, up.length);
    const atClient = receiveAll(c, down.length);
    const started = performance.now();
    await within(60_000, Promise.all([sendAll(c, up, 32 * 1024), sendAll(s, down, 32 * 1024)]), "sending");
    const [gotUp, gotDown] = await within(60_000, Promise.all([atServer, atClient]), "receiving");
    const secs = (performance.now() - started) / 1000;
    assert.is(sha(gotUp), sha(up));
    assert.is(sha(gotDown), sha(down));
    await within(10_000, c.close(), "graceful close");
    assert.is(c.closeReason?.kind, "shutdown");
    console.log(`  ${isDeno ? "deno" : "node"}: 8 MiB in ${secs.toFixed(2)} s, retransmissions ${c.stats().retransmissions + s.stats().retransmissions}`);
  } finally {
    await Promise.all([client.close(), server.close()]);
  }
});

test.run();
