/**
 * One end of a two-process transfer, for the transport benchmark and the
 * two-process loopback test. The receiver prints one JSON line when ready
 * (`{"ready":true,"port":N}`) and one when done (`{"bytes","sha256","ms"}`);
 * the sender prints `{"bytes","sha256","ms"}` when everything is acknowledged.
 *
 * The bytes are a deterministic stream (a 1 MiB pseudo-random block repeated),
 * so both ends hash the same thing without reading a file.
 *
 * Usage:
 *   node bench/peer.ts receive <sctp|dgram|tcp> [--host 127.0.0.1] [--bytes N] [--packet N] [--pmtud]
 *   node bench/peer.ts send    <sctp|dgram|tcp> --to HOST:PORT [--bytes N] [--packet N] [--pmtud] [--message N] [--cc reno|cubic|bbr]
 *
 * `--packet` is the UDP payload size (sctp: fixed packet size unless --pmtud,
 * which starts at 1200 and probes up to it).
 */
import { createHash } from "node:crypto";
import { createServer, connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { SctpEndpoint, type Association } from "../src/transport/sctp/index.ts";
import { releaseReceived } from "../src/protocol/release.ts";
import { openUdpSocket } from "../src/transport/udp.ts";

const BLOCK_SIZE = 1 << 20;

/** The deterministic stream: a 1 MiB block of xorshift bytes, repeated. */
export function streamBlock(): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE);
  let s = 0x9e3779b9;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    block[i] = s & 0xff;
  }
  return block;
}

/** Copies stream bytes [pos, pos + out.length) into out. */
function fill(block: Uint8Array, pos: number, out: Uint8Array): void {
  let o = 0;
  while (o < out.length) {
    const at = (pos + o) % BLOCK_SIZE;
    const n = Math.min(out.length - o, BLOCK_SIZE - at);
    out.set(block.subarray(at, at + n), o);
    o += n;
  }
}

/** SHA-256 of the first `bytes` bytes of the stream. */
export function expectedSha256(bytes: number): string {
  const block = streamBlock();
  const h = createHash("sha256");
  for (let pos = 0; pos < bytes; pos += BLOCK_SIZE) h.update(block.subarray(0, Math.min(BLOCK_SIZE, bytes - pos)));
  return h.digest("hex");
}

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
/** User + system CPU milliseconds this process spent since `from`. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return Math.round((d.user + d.system) / 1000);
};
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

// ---------------------------------------------------------------- SCTP
async function sctpReceive(host: string, packet: number, pmtud: boolean): Promise<void> {
  const socket = await openUdpSocket({ host });
  const endpoint = SctpEndpoint.listen({ socket, maxPacketSize: packet, initialPacketSize: pmtud ? 1200 : packet, pmtud });
  endpoint.on("association", (a: Association) => {
    const h = createHash("sha256");
    let bytes = 0;
    let started = 0;
    let cpu0 = process.cpuUsage();
    a.on("message", (_s: number, data: Uint8Array) => {
      if (!started) {
        started = performance.now();
        cpu0 = process.cpuUsage();
      }
      h.update(data);
      bytes += data.length;
      releaseReceived(data); // as sfx's receiver does once a message is on disk
    });
    a.on("close", async () => {
      say({ bytes, sha256: h.digest("hex"), ms: performance.now() - started, cpuMs: cpuMs(cpu0), stats: a.stats() });
      await endpoint.close();
      await socket.close();
    });
  });
  say({ ready: true, port: socket.localAddress().port });
}

async function sctpSend(to: { address: string; port: number }, bytes: number, packet: number, pmtud: boolean, message: number): Promise<void> {
  // A client talks to one server: a connected socket skips the kernel's route lookup and Node's address parsing per datagram.
  const connect = process.argv.includes("--unconnected") ? undefined : to;
  const socket = await openUdpSocket({ host: to.address.includes(":") ? "::" : "0.0.0.0", connect });
  const cc = arg("cc") as "reno" | "cubic" | "bbr" | undefined;
  const endpoint = SctpEndpoint.listen({ socket, maxPacketSize: packet, initialPacketSize: pmtud ? 1200 : packet, pmtud, accept: false, congestionControl: cc });
  const block = streamBlock();
  const a = await endpoint.connect(to, { streams: 1 });
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let pos = 0; pos < bytes; pos += message) {
    const m = new Uint8Array(Math.min(message, bytes - pos));
    fill(block, pos, m);
    // Like sfx send: a fresh buffer per message, freed by the transport once acknowledged.
    if (!a.send(0, m, { release: true })) await new Promise<void>((r) => a.once("drain", r));
  }
  await a.close();
  say({ bytes, ms: performance.now() - started, cpuMs: cpuMs(cpu0), stats: a.stats() });
  await endpoint.close();
  await socket.close();
}

// ---------------------------------------------------------------- bare dgram sliding window
// Packet: u32 seq, then payload. ACK: u32 next expected seq. Go-back-N on a 30 ms timeout.
async function dgramReceive(host: string): Promise<void> {
  const socket = await openUdpSocket({ host });
  const h = createHash("sha256");
  let expected = 0;
  let bytes = 0;
  let started = 0;
  let total = -1;
  const ack = new Uint8Array(4);
  const ackView = new DataView(ack.buffer);
  let cpu0 = process.cpuUsage();
  let cpuDone = 0;
  let msDone = 0;
  socket.onMessage((data, from) => {
    if (!started) {
      started = performance.now();
      cpu0 = process.cpuUsage();
    }
    const v = new DataView(data.buffer, data.byteOffset, data.length);
    const seq = v.getUint32(0);
    if (seq === 0xffffffff) {
      total = v.getUint32(4) * 2 ** 32 + v.getUint32(8);
    } else if (seq === expected) {
      h.update(data.subarray(4));
      bytes += data.length - 4;
      expected++;
      releaseReceived(data); // as the SCTP receiver does
      if (expected % 16 !== 0 && bytes !== total) return;
    }
    ackView.setUint32(0, expected);
    socket.send(ack.slice(), from);
    if (total >= 0 && bytes === total && !done) {
      done = true;
      cpuDone = cpuMs(cpu0);
      msDone = performance.now() - started;
      // Keep answering for a moment in case the last ACK was lost, then report.
      setTimeout(async () => {
        say({ bytes, sha256: h.digest("hex"), ms: msDone, cpuMs: cpuDone });
        await socket.close();
      }, 200);
    }
  });
  let done = false;
  say({ ready: true, port: socket.localAddress().port });
}

async function dgramSend(to: { address: string; port: number }, bytes: number, packet: number): Promise<void> {
  const socket = await openUdpSocket({ host: "127.0.0.1", connect: to });
  const block = streamBlock();
  const payload = packet - 4;
  const count = Math.ceil(bytes / payload);
  const window = Math.max(16, Math.floor((1 << 20) / packet));
  let base = 0;
  let next = 0;
  let lastProgress = performance.now();
  let goBacks = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const header = new Uint8Array(12);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0xffffffff);
  hv.setUint32(4, Math.floor(bytes / 2 ** 32));
  hv.setUint32(8, bytes >>> 0);
  socket.send(header, to);
  const pump = () => {
    while (next < count && next - base < window) {
      const len = Math.min(payload, bytes - next * payload);
      const d = new Uint8Array(4 + len);
      new DataView(d.buffer).setUint32(0, next);
      fill(block, next * payload, d.subarray(4));
      socket.send(d, to);
      next++;
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - lastProgress > 30) {
        next = base; // go back N
        goBacks++;
        socket.send(header, to);
        lastProgress = performance.now();
        pump();
      }
    }, 10);
    socket.onMessage((data) => {
      const acked = new DataView(data.buffer, data.byteOffset, data.length).getUint32(0);
      if (acked > base) {
        base = acked;
        lastProgress = performance.now();
        if (base >= count) {
          clearInterval(timer);
          return resolve();
        }
        pump();
      }
    });
    pump();
  });
  say({ bytes, ms: performance.now() - started, cpuMs: cpuMs(cpu0), goBacks });
  await socket.close();
}

// ---------------------------------------------------------------- TCP
async function tcpReceive(host: string): Promise<void> {
  const server = createServer((conn: TcpSocket) => {
    const h = createHash("sha256");
    let bytes = 0;
    let started = 0;
    conn.on("data", (d: Buffer) => {
      if (!started) started = performance.now();
      h.update(d);
      bytes += d.length;
    });
    conn.on("end", () => {
      say({ bytes, sha256: h.digest("hex"), ms: performance.now() - started });
      conn.end();
      server.close();
    });
  });
  server.listen(0, host, () => {
    const addr = server.address();
    say({ ready: true, port: typeof addr === "object" && addr ? addr.port : 0 });
  });
}

async function tcpSend(to: { address: string; port: number }, bytes: number, message: number): Promise<void> {
  const block = streamBlock();
  const conn = tcpConnect(to.port, to.address);
  await new Promise<void>((resolve, reject) => {
    conn.once("connect", resolve);
    conn.once("error", reject);
  });
  const started = performance.now();
  for (let pos = 0; pos < bytes; pos += message) {
    const m = new Uint8Array(Math.min(message, bytes - pos));
    fill(block, pos, m);
    if (!conn.write(m)) await new Promise((r) => conn.once("drain", r));
  }
  conn.end();
  await new Promise((r) => conn.once("close", r));
  say({ bytes, ms: performance.now() - started });
}

// ---------------------------------------------------------------- memory per idle association
/** Server that reports its heap growth once `count` associations are up and idle (run with --expose-gc). */
async function idleServer(host: string, count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const socket = await openUdpSocket({ host });
  const endpoint = SctpEndpoint.listen({ socket });
  gc();
  const before = process.memoryUsage().heapUsed;
  let n = 0;
  endpoint.on("association", () => {
    if (++n === count) {
      setTimeout(() => {
        gc();
        gc();
        const after = process.memoryUsage().heapUsed;
        say({ associations: endpoint.associations().length, heapDelta: after - before, perAssociation: (after - before) / count });
        for (const a of endpoint.associations()) a.abort("bench over");
        void endpoint.close().then(() => socket.close());
      }, 500);
    }
  });
  say({ ready: true, port: socket.localAddress().port });
}

async function main(): Promise<void> {
  const [role, impl] = process.argv.slice(2);
  const host = arg("host", "127.0.0.1")!;
  const bytes = Number(arg("bytes", String(100 << 20)));
  const packet = Number(arg("packet", "1200"));
  const pmtud = process.argv.includes("--pmtud");
  const message = Number(arg("message", String(64 * 1024)));
  const toArg = arg("to");
  let to = { address: "127.0.0.1", port: 0 };
  if (toArg) {
    const i = toArg.lastIndexOf(":");
    to = { address: toArg.slice(0, i), port: Number(toArg.slice(i + 1)) };
  }
  if (role === "idle-server") return idleServer(host, Number(arg("count", "1000")));
  if (role === "receive" && impl === "sctp") return sctpReceive(host, packet, pmtud);
  if (role === "receive" && impl === "dgram") return dgramReceive(host);
  if (role === "receive" && impl === "tcp") return tcpReceive(host);
  if (role === "send" && impl === "sctp") return sctpSend(to, bytes, packet, pmtud, message);
  if (role === "send" && impl === "dgram") return dgramSend(to, bytes, packet);
  if (role === "send" && impl === "tcp") return tcpSend(to, bytes, message);
  console.error("usage: node bench/peer.ts <receive|send> <sctp|dgram|tcp> [--to HOST:PORT] [--bytes N] [--packet N] [--pmtud]");
  process.exit(2);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
