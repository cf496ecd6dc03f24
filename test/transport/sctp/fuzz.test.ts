/**
 * Fuzzing with a fixed seed, over real UDP on loopback. Valid packets are
 * captured from real associations (handshake, data, fragments, SACKs,
 * heartbeats and PMTU probes, shutdown, abort), then mutated — bit flips,
 * truncations, extensions, length fields, chunk types and flags, tags — with
 * the CRC32c mostly recomputed so the mutations reach the chunk decoders:
 *
 * 1. from a stranger's address (another IP address: a packet from the peer's
 *    address and the right tag may move the association to its UDP port, as
 *    RFC 6951 §5.4 wants) to the listening server (including packets carrying
 *    the live association's verification tag: they must not touch it);
 * 2. from a stranger to the client;
 * 3. from the association's real peer address, limited to chunk types that a
 *    peer may legitimately send without ending or rewriting the association
 *    (heartbeats, errors, unknown types, padding …).
 *
 * Afterwards: no exception escaped, neither endpoint counted an internal
 * error, and the association still moves 1 MiB each way byte-exact.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SctpEndpoint, type Association, type CloseReason } from "../../../src/transport/sctp/index.ts";
import { sctpChecksum } from "../../../src/transport/sctp/crc32c.ts";
import type { DatagramHandler, DatagramSocket, RemoteAddress } from "../../../src/transport/datagram.ts";
import { openUdpSocket, type UdpSocket } from "../../../src/transport/udp.ts";
import { prng } from "../../_bridge.ts";

const SEED = 0x5f3c7a11;
const PER_PHASE = [6000, 2000, 3000];

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** Wraps a socket and keeps a copy of every datagram sent through it. */
class Recorder implements DatagramSocket {
  readonly sent: Uint8Array[] = [];
  readonly inner: UdpSocket;
  recording = true;
  constructor(inner: UdpSocket) {
    this.inner = inner;
  }
  send(data: Uint8Array, to: RemoteAddress): void {
    if (this.recording && this.sent.length < 5000) this.sent.push(data.slice());
    this.inner.send(data, to);
  }
  onMessage(h: DatagramHandler): void {
    this.inner.onMessage(h);
  }
  onError(h: (err: Error) => void): void {
    this.inner.onError(h);
  }
  localAddress() {
    return this.inner.localAddress();
  }
  maxDatagramSize(to: RemoteAddress) {
    return this.inner.maxDatagramSize(to);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
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

function setChecksum(p: Uint8Array): void {
  if (p.length < 12) return;
  const c = sctpChecksum(p);
  p[8] = c & 0xff;
  p[9] = (c >>> 8) & 0xff;
  p[10] = (c >>> 16) & 0xff;
  p[11] = c >>> 24;
}

/** Chunk types of a packet, walking the length fields as a decoder would. */
function chunkTypes(p: Uint8Array): number[] {
  const types: number[] = [];
  for (let off = 12; off + 4 <= p.length && types.length < 64; ) {
    types.push(p[off]);
    const len = (p[off + 2] << 8) | p[off + 3];
    if (len < 4) break;
    off += (len + 3) & ~3;
  }
  return types;
}

/** Chunk types a genuine peer may send mid-association without ending it or changing its data (phase 3). */
const HARMLESS = new Set([4, 5, 9, 11, 12, 13, 132]);
const isHarmless = (t: number) => HARMLESS.has(t) || (t !== 0 && t !== 64 && t !== 1 && t !== 2 && t !== 3 && t !== 6 && t !== 7 && t !== 8 && t !== 10 && t !== 14 && t !== 130 && t !== 192 && t !== 194);

function mutate(rand: () => number, seeds: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(rand() * n);
  const r = rand();
  if (r < 0.08 || seeds.length === 0) {
    // Pure noise, sometimes with a valid checksum.
    const p = new Uint8Array(pick(1500));
    for (let i = 0; i < p.length; i++) p[i] = pick(256);
    if (rand() < 0.5) setChecksum(p);
    return p;
  }
  let p = seeds[pick(seeds.length)].slice();
  const rounds = 1 + pick(4);
  for (let k = 0; k < rounds; k++) {
    const m = pick(9);
    if (m === 0 && p.length > 0) {
      // bit flips
      for (let f = 1 + pick(8); f > 0; f--) p[pick(p.length)] ^= 1 << pick(8);
    } else if (m === 1) {
      p = p.slice(0, pick(p.length + 1)); // truncate
    } else if (m === 2) {
      const extra = new Uint8Array(pick(64));
      for (let i = 0; i < extra.length; i++) extra[i] = pick(256);
      const q = new Uint8Array(p.length + extra.length);
      q.set(p);
      q.set(extra, p.length);
      p = q; // extend with junk
    } else if (m === 3 || m === 4) {
      // a chunk or parameter length field: 0, 1-3, huge, off by one, random
      const offs = [];
      for (let off = 12; off + 4 <= p.length; ) {
        offs.push(off);
        const len = (p[off + 2] << 8) | p[off + 3];
        if (len < 4) break;
        off += (len + 3) & ~3;
      }
      const at = offs.length && rand() < 0.7 ? offs[pick(offs.length)] + 2 : 12 + pick(Math.max(1, p.length - 13));
      if (at + 1 < p.length) {
        const old = (p[at] << 8) | p[at + 1];
        const v = [0, 1, 3, 4, 0xffff, old + 1, old - 1, old + 4, old - 4, pick(65536)][pick(10)] & 0xffff;
        p[at] = v >> 8;
        p[at + 1] = v & 0xff;
      }
    } else if (m === 5 && p.length > 12) {
      // chunk type: a known one, an unknown one with each upper-two-bit action
      const types = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 64, 130, 132, 192, 194, 0x3f, 0x7f, 0xbf, 0xff];
      p[12] = types[pick(types.length)];
    } else if (m === 6 && p.length > 13) {
      p[13] = pick(256); // chunk flags
    } else if (m === 7 && p.length >= 12) {
      // verification tag or ports
      const at = [4, 5, 6, 7, 0, 2][pick(6)];
      p[at] = pick(256);
    } else if (m === 8 && p.length > 16) {
      // overwrite a run inside the chunk values
      const at = 16 + pick(p.length - 16);
      for (let i = at; i < Math.min(p.length, at + 1 + pick(16)); i++) p[i] = [0, 0xff, pick(256)][pick(3)];
    }
  }
  if (rand() < 0.85) setChecksum(p);
  return p;
}

async function yieldToIo(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

test(`${PER_PHASE.reduce((x, y) => x + y)} random and mutated packets (seed ${SEED.toString(16)}): no crash, no escaped exception, the association still works`, async () => {
  const escaped: unknown[] = [];
  const onEscape = (err: unknown) => escaped.push(err);
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
  const serverSock = new Recorder(await openUdpSocket({ host: "127.0.0.1" }));
  const clientSock = new Recorder(await openUdpSocket({ host: "127.0.0.1" }));
  const stranger = await openUdpSocket({ host: "127.0.0.2" });
  stranger.onMessage(() => {}); // answers (ABORTs, INIT ACKs) are fine
  const opts = { rtoInitial: 200, heartbeatIntervalMs: 200, failureTimeoutMs: 60_000 };
  const server = SctpEndpoint.listen({ socket: serverSock, ...opts });
  const client = SctpEndpoint.listen({ socket: clientSock, ...opts });
  const accepted: Association[] = [];
  server.on("association", (a: Association) => {
    accepted.push(a);
    a.on("message", () => {}); // the main association's data is checked below
  });
  const serverAddr = { address: "127.0.0.1", port: serverSock.localAddress().port };
  const clientAddr = { address: "127.0.0.1", port: clientSock.localAddress().port };
  try {
    // --- capture: the association we keep, one closed gracefully, one aborted
    const main = await within(10_000, client.connect(serverAddr, { streams: 4 }), "handshake");
    const extraSock = new Recorder(await openUdpSocket({ host: "127.0.0.1" }));
    const extra = SctpEndpoint.listen({ socket: extraSock, ...opts });
    const x1 = await within(10_000, extra.connect(serverAddr), "second handshake");
    x1.send(0, pattern(5000, 1), { ppid: 3 });
    x1.send(1, pattern(10, 2), { unordered: true });
    await within(10_000, x1.close(), "graceful close");
    const x2 = await within(10_000, extra.connect(serverAddr), "third handshake");
    x2.abort("fuzz capture");
    for (let i = 0; i < 20; i++) main.send(i % 4, pattern(1 + i * 300, i), { ppid: i });
    // Wait for a heartbeat round and the data to be acknowledged (bounded).
    await within(10_000, new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (main.stats().heartbeatsSent > 0 && main.bufferedAmount === 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    }), "heartbeats and acknowledgements");
    await extra.close();
    serverSock.recording = clientSock.recording = false;
    const toServerSeeds = clientSock.sent.concat(extraSock.sent);
    const toClientSeeds = serverSock.sent;
    assert.ok(toServerSeeds.length >= 10 && toClientSeeds.length >= 10, `captured ${toServerSeeds.length} / ${toClientSeeds.length} packets`);
    const rand = prng(SEED);
    let sent = 0;

    // --- phase 1: stranger → server
    for (let i = 0; i < PER_PHASE[0]; i++) {
      stranger.send(mutate(rand, toServerSeeds), serverAddr);
      sent++;
      if (i % 100 === 99) await yieldToIo();
    }
    // --- phase 2: stranger → client
    for (let i = 0; i < PER_PHASE[1]; i++) {
      stranger.send(mutate(rand, toClientSeeds), clientAddr);
      sent++;
      if (i % 100 === 99) await yieldToIo();
    }
    // --- phase 3: the real peer's address → server, harmless chunk types only
    let skipped = 0;
    for (let i = 0; i < PER_PHASE[2]; ) {
      const p = mutate(rand, toServerSeeds);
      const types = chunkTypes(p);
      if (p.length >= 12 && !types.every(isHarmless)) {
        if (++skipped > 200_000) break;
        continue;
      }
      clientSock.inner.send(p, serverAddr);
      sent++;
      i++;
      if (i % 100 === 99) await yieldToIo();
    }
    assert.ok(sent >= 10_000, `sent ${sent} fuzz packets`);
    await yieldToIo();

    // --- afterwards: nothing escaped, nothing broke
    assert.is(main.state, "established", `main association state after fuzzing: ${main.state} ${JSON.stringify(main.closeReason)}`);
    const peer = accepted[0];
    assert.ok(peer && peer.state === "established", "the server side of the main association is still established");
    const mib = pattern(1 << 20, 77);
    const receive = (a: Association) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Uint8Array[] = [];
        let n = 0;
        a.removeAllListeners("message");
        a.on("message", (stream: number, d: Uint8Array) => {
          if (stream !== 3) return;
          chunks.push(d);
          n += d.length;
          if (n >= mib.length) resolve(Buffer.concat(chunks));
        });
        a.once("close", (r: CloseReason) => reject(new Error(`closed: ${r.kind} ${r.message}`)));
      });
    const atServer = receive(peer);
    const atClient = receive(main);
    for (let off = 0; off < mib.length; off += 16_384) {
      main.send(3, mib.subarray(off, off + 16_384));
      peer.send(3, mib.subarray(off, off + 16_384));
    }
    const [s, c] = await within(30_000, Promise.all([atServer, atClient]), "1 MiB each way after fuzzing");
    assert.ok(Buffer.from(s).equals(Buffer.from(mib)), "client → server byte-exact");
    assert.ok(Buffer.from(c).equals(Buffer.from(mib)), "server → client byte-exact");
    assert.equal(escaped, [], "no exception escaped");
    const ss = server.stats();
    const cs = client.stats();
    assert.is(ss.internalErrors, 0, `server internal errors: ${String((server as unknown as { lastInternalError?: unknown }).lastInternalError)}`);
    assert.is(cs.internalErrors, 0, `client internal errors: ${String((client as unknown as { lastInternalError?: unknown }).lastInternalError)}`);
    assert.ok(ss.malformedPackets > 1000, `the server saw malformed packets: ${JSON.stringify(ss)}`);
    console.log(`  ${sent} fuzz packets; server ${JSON.stringify(ss)}; client ${JSON.stringify(cs)}`);
  } finally {
    process.off("uncaughtException", onEscape);
    process.off("unhandledRejection", onEscape);
    for (const a of [...client.associations(), ...server.associations()]) a.abort("test over");
    await Promise.all([client.close(), server.close()]);
    await stranger.close();
  }
});

test.run();
