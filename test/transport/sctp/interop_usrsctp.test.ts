/**
 * Interoperability with usrsctp, a C SCTP stack, over UDP encapsulation
 * (RFC 6951) on loopback, using the example programs of Debian's
 * `libusrsctp-examples` (`.ci/run` installs it):
 *
 * - we connect to `echo_server` (SCTP port 7) and get every message back,
 *   byte-exact, on the same stream with the same PPID;
 * - we connect to `discard_server` (port 9) and to `tsctp` in server mode
 *   (port 5001), send bulk data, and close gracefully; tsctp reports the
 *   bytes and messages it received;
 * - usrsctp's `client` and `tsctp` connect to our endpoint: we receive what
 *   they send, byte-exact, and `client` prints our echo.
 *
 * Each program takes its local UDP encapsulation port on the command line;
 * we pick a free one. No fixed ports; every process is killed at the end.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { type Association, type CloseReason, SctpEndpoint } from "../../../src/transport/sctp/index.ts";
import { openUdpSocket, type UdpSocket } from "../../../src/transport/udp.ts";

const BIN = "/usr/lib/usrsctp";
const PROGRAMS = ["echo_server", "discard_server", "tsctp", "client"];

/** A UDP port nobody uses right now (bound on all addresses, as usrsctp binds). */
async function freeUdpPort(): Promise<number> {
  const s = await openUdpSocket({ host: "0.0.0.0" });
  const port = s.localAddress().port;
  await s.close();
  return port;
}

interface Program {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

function run(name: string, args: string[], stdin?: string): Program {
  const child = spawn(`${BIN}/${name}`, args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString("latin1")));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString("latin1")));
  // Not installed: each test fails on its own, rather than the whole file on an unhandled event.
  child.on("error", (err) => (out += `cannot run ${BIN}/${name}: ${err.message}\n`));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  if (stdin !== undefined) child.stdin!.end(stdin);
  return {
    child,
    output: () => out,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** Waits until `program` printed a line matching `re` (bounded). */
async function waitForOutput(program: Program, re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  const started = Date.now();
  return within(
    ms,
    new Promise<RegExpExecArray>((resolve) => {
      const check = () => {
        const m = re.exec(program.output());
        if (m) return resolve(m);
        if (Date.now() - started < ms) program.child.stdout!.once("data", () => setImmediate(check));
      };
      check();
    }),
    what,
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

async function sendAll(a: Association, stream: number, data: Uint8Array, size: number): Promise<void> {
  for (let off = 0; off < data.length; off += size) {
    if (!a.send(stream, data.subarray(off, Math.min(data.length, off + size)))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          a.off("close", onClose);
          resolve();
        };
        const onClose = (r: CloseReason) => reject(new Error(`closed while waiting for drain: ${r.kind} ${r.message}`));
        a.once("drain", onDrain);
        a.once("close", onClose);
      });
    }
  }
}

/** Our endpoint on a fresh loopback socket; INIT retried quickly while the C program starts. */
async function ourEndpoint(port = 6969): Promise<{ endpoint: SctpEndpoint; socket: UdpSocket }> {
  const socket = await openUdpSocket({ host: "127.0.0.1" });
  const endpoint = SctpEndpoint.listen({ socket, port, rtoInitial: 100, maxInitRetransmits: 40 });
  return { endpoint, socket };
}

/**
 * Connects, retrying while the C program is still starting: before it listens,
 * usrsctp answers an INIT with an ABORT (bounded: 10 s).
 */
async function connectWhenReady(endpoint: SctpEndpoint, encaps: number, port: number, streams = 8): Promise<Association> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await within(10_000, endpoint.connect({ address: "127.0.0.1", port: encaps }, { port, streams }), `handshake with SCTP port ${port}`);
    } catch (err) {
      if (Date.now() > deadline || attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 50)); // the peer is starting: try again shortly
    }
  }
}

test("libusrsctp-examples is installed (apt-get install libusrsctp-examples; .ci/run does it)", () => {
  const missing = PROGRAMS.filter((p) => !existsSync(`${BIN}/${p}`));
  assert.equal(missing, [], `missing usrsctp example programs in ${BIN}: ${missing.join(", ")} — install the Debian package libusrsctp-examples`);
});

test("we connect to usrsctp's echo_server and every message comes back byte-exact, same stream and PPID", async () => {
  const encaps = await freeUdpPort();
  const server = run("echo_server", [String(encaps)]);
  const { endpoint, socket } = await ourEndpoint();
  try {
    const a = await connectWhenReady(endpoint, encaps, 7);
    // Sizes from 1 byte to 10000 (echo_server reads up to 10240 per message): many are fragmented at 1200-byte packets.
    const sizes = [1, 2, 3, 100, 1000, 1199, 1200, 1201, 2500, 4096, 8000, 10_000];
    const sent: Array<{ stream: number; ppid: number; hash: string; unordered: boolean }> = [];
    const echoed: Array<{ stream: number; ppid: number; hash: string }> = [];
    const done = new Promise<void>((resolve) =>
      a.on("message", (stream: number, data: Uint8Array, ppid: number) => {
        echoed.push({ stream, ppid, hash: createHash("sha256").update(data).digest("hex") });
        if (echoed.length === sent.length) resolve();
      }),
    );
    let i = 0;
    for (let round = 0; round < 3; round++) {
      for (const size of sizes) {
        const data = pattern(size, ++i);
        const stream = i % 8;
        const ppid = 1000 + i;
        const unordered = round === 2 && i % 2 === 0;
        sent.push({ stream, ppid, hash: createHash("sha256").update(data).digest("hex"), unordered });
        a.send(stream, data, { ppid, unordered });
      }
    }
    await within(20_000, done, `echoes (${echoed.length} of ${sent.length})`);
    const key = (m: { stream: number; ppid: number; hash: string }) => `${m.stream}/${m.ppid}/${m.hash}`;
    assert.equal(echoed.map(key).sort(), sent.map(key).sort(), "every message echoed once, byte-exact");
    // Ordered messages come back in order within their stream.
    for (let s = 0; s < 8; s++) {
      const want = sent.filter((m) => m.stream === s && !m.unordered).map(key);
      const got = echoed.filter((m) => m.stream === s && want.includes(key(m))).map(key);
      assert.equal(got, want, `order on stream ${s}`);
    }
    await within(10_000, a.close(), "graceful close");
    assert.is(a.closeReason?.kind, "shutdown");
  } finally {
    await endpoint.close();
    await socket.close();
    await server.kill();
  }
});

test("we send 8 MiB to usrsctp's discard_server and the graceful close completes (all data acknowledged)", async () => {
  const encaps = await freeUdpPort();
  const server = run("discard_server", [String(encaps)]);
  const { endpoint, socket } = await ourEndpoint();
  try {
    const a = await connectWhenReady(endpoint, encaps, 9);
    await within(30_000, sendAll(a, 0, pattern(8 << 20, 3), 64 * 1024), "sending 8 MiB");
    await within(30_000, a.close(), "graceful close after 8 MiB");
    assert.is(a.closeReason?.kind, "shutdown");
    const st = a.stats();
    assert.ok(st.bytesSent >= 8 << 20, `bytesSent ${st.bytesSent}`);
  } finally {
    await endpoint.close();
    await socket.close();
    await server.kill();
  }
});

test("we send 4000 messages of 1000 bytes to tsctp (server mode); it counts exactly that", async () => {
  const encaps = await freeUdpPort();
  const server = run("tsctp", ["-E", String(encaps), "-p", "5001"]);
  const { endpoint, socket } = await ourEndpoint();
  try {
    const a = await connectWhenReady(endpoint, encaps, 5001);
    const msg = pattern(1000, 9);
    for (let i = 0; i < 4000; i++) {
      if (!a.send(0, msg)) await within(20_000, new Promise<void>((r) => a.once("drain", r)), "drain");
    }
    await within(30_000, a.close(), "graceful close");
    // tsctp prints: first_length, messages, recv_calls, bytes, seconds, throughput, notifications
    const m = await waitForOutput(server, /^(\d+), (\d+), \d+, (\d+), [\d.]+, [\d.]+/m, 10_000, "tsctp's summary line");
    assert.is(Number(m[1]), 1000, "message length");
    assert.is(Number(m[2]), 4000, "messages");
    assert.is(Number(m[3]), 4_000_000, "bytes");
  } finally {
    await endpoint.close();
    await socket.close();
    await server.kill();
  }
});

test("usrsctp's client connects to us: we receive its lines byte-exact, and it prints our echo", async () => {
  const { endpoint, socket } = await ourEndpoint(7);
  const lines = Array.from({ length: 40 }, (_, i) => `line ${i} ${"x".repeat(i)} end\n`);
  const text = lines.join("");
  let received = "";
  const gotAll = new Promise<Association>((resolve) => {
    endpoint.on("association", (a: Association) => {
      a.on("message", (stream: number, data: Uint8Array, ppid: number) => {
        received += Buffer.from(data).toString("latin1");
        a.send(stream, data, { ppid });
        if (received.length >= text.length) resolve(a);
      });
    });
  });
  const encaps = await freeUdpPort();
  // client remote_addr remote_port local_port local_encaps_port remote_encaps_port
  const client = run("client", ["127.0.0.1", "7", "0", String(encaps), String(socket.localAddress().port)], text);
  try {
    const a = await within(20_000, gotAll, `the client's ${lines.length} lines (got ${received.length} of ${text.length} bytes)`);
    assert.is(received, text);
    // After its stdin ends the client shuts the association down and exits.
    const code = await within(20_000, client.exited, "client exit");
    assert.is(code, 0, client.output());
    for (const line of lines) assert.ok(client.output().includes(line), `echo of ${JSON.stringify(line)} printed`);
    assert.is(a.closeReason?.kind, "shutdown");
  } finally {
    await client.kill();
    await endpoint.close();
    await socket.close();
  }
});

test("usrsctp's tsctp connects to us and sends 3000 messages of 1400 bytes; we receive all of them", async () => {
  const { endpoint, socket } = await ourEndpoint(5001);
  let bytes = 0;
  let messages = 0;
  const lengths = new Set<number>();
  const closedAfterAll = new Promise<CloseReason>((resolve) => {
    endpoint.on("association", (a: Association) => {
      a.on("message", (_s: number, data: Uint8Array) => {
        bytes += data.length;
        messages++;
        lengths.add(data.length);
      });
      a.on("close", resolve);
    });
  });
  const encaps = await freeUdpPort();
  const sender = run("tsctp", ["-E", String(encaps), "-U", String(socket.localAddress().port), "-p", "5001", "-l", "1400", "-n", "3000", "127.0.0.1"]);
  try {
    const reason = await within(40_000, closedAfterAll, `tsctp's transfer (${messages} messages so far)`);
    assert.is(reason.kind, "shutdown", reason.message);
    assert.is(messages, 3000);
    assert.is(bytes, 3000 * 1400);
    assert.equal([...lengths], [1400]);
    assert.is(await within(20_000, sender.exited, "tsctp exit"), 0, sender.output());
  } finally {
    await sender.kill();
    await endpoint.close();
    await socket.close();
  }
});

test.run();
