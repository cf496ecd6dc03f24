/**
 * One built `sfx serve`, many clients at once (library clients in this
 * process, each its own association over real UDP): 50 concurrent
 * exchanges, and hostile names crafted with the library against the
 * binary receiver.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ClientConnection } from "../../src/client/connection.ts";
import { Receiver } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import type { SourceFile } from "../../src/client/walk.ts";
import { Offer, Reject } from "../../src/protocol/messages.ts";
import { watchReceived } from "../_received.ts";
import { cleanupAll, ensureBinary, events, pattern, type Server, sha256, startReceive, startServe, tmp } from "./_exchange.ts";

let server: Server;
const conns: ClientConnection[] = [];
test.before(async () => {
  await ensureBinary();
  server = await startServe(["--max-clients-per-address", "256"]); // 50 exchanges from one host: 100 clients
});
test.after(async () => {
  await Promise.all(conns.map((c) => c.abort("test over")));
  await cleanupAll();
});

function mem(path: string, data: Uint8Array): SourceFile {
  return {
    path,
    size: data.length,
    async *read() {
      for (let o = 0; o < data.length; o += 65536) yield data.slice(o, o + 65536);
    },
  };
}

async function client(): Promise<ClientConnection> {
  const c = await connect({ server: { host: "127.0.0.1", port: server.port } });
  conns.push(c);
  return c;
}

test("the sender's file buffers are freed as soon as the receiver has them (sent with release), bytes intact", async () => {
  const [s, r] = [await client(), await client()];
  const dir = tmp();
  const data = pattern(2_000_000, 9);
  const handed: Uint8Array[] = [];
  const file: SourceFile = {
    path: "big.bin",
    size: data.length,
    async *read() {
      for (let off = 0; off < data.length; off += 60_000) {
        const chunk = data.slice(off, off + 60_000);
        handed.push(chunk);
        yield chunk;
      }
    },
  };
  const got = new Receiver(r, { dir, decide: async () => true }).receiveOne();
  await sendFiles(s, { to: r.id, files: [file] });
  await got;
  assert.is(sha256(readFileSync(join(dir, "big.bin"))), sha256(data));
  assert.is(handed.length, 34);
  // Detached on the cumulative SACK of each message's last fragment, which may trail the receiver's "done".
  const deadline = Date.now() + 5000;
  while (!handed.every((c) => c.buffer.byteLength === 0) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.is(handed.filter((c) => c.buffer.byteLength !== 0).length, 0, "every buffer detached");
});

test("the receiver frees each received message that has its buffer to itself once it is on disk, bytes intact", async () => {
  const [s, r] = [await client(), await client()];
  const dir = tmp();
  const data = pattern(3_000_000, 11);
  // A message sharing its datagram with other chunks (a control message bundled with the last one) is not freed.
  const watch = watchReceived(r);
  try {
    const got = new Receiver(r, { dir, decide: async () => true }).receiveOne();
    await sendFiles(s, { to: r.id, files: [mem("in.bin", data)] });
    await got;
  } finally {
    watch.stop();
  }
  assert.is(sha256(readFileSync(join(dir, "in.bin"))), sha256(data));
  assert.ok(watch.own.length >= 40 && watch.shared <= 6, `${watch.own.length} messages with their own buffer, ${watch.shared} sharing one`);
  assert.is(watch.own.filter((d) => d.byteLength !== 0).length, 0, "every message with its own buffer freed");
});

test("50 concurrent exchanges through one server all arrive byte-exact", async () => {
  const n = 50;
  const pairs = await Promise.all(Array.from({ length: n }, async () => [await client(), await client()] as const));
  const ids = new Set(pairs.flatMap(([a, b]) => [a.id, b.id]));
  assert.is(ids.size, 2 * n, "every live client has its own ID");
  const t0 = Date.now();
  await Promise.all(pairs.map(async ([s, r], i) => {
    const dir = tmp();
    const data = pattern(200_000 + i * 1000, i + 1);
    const got = new Receiver(r, { dir, decide: async () => true }).receiveOne();
    await sendFiles(s, { to: r.id, files: [mem(`f${i}.bin`, data)] });
    await got;
    assert.is(sha256(readFileSync(join(dir, `f${i}.bin`))), sha256(data));
  }));
  console.log(`  50 exchanges in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test("hostile names in an offer (../x, /etc/passwd, control characters) are refused; nothing is written", async () => {
  for (const bad of ["../x", "/etc/passwd", "a/\u0007bell", "ok/../../escape"]) {
    const dst = tmp();
    const r = await startReceive(server, dst, ["--yes", "--once"]);
    const s = await client();
    const answer = s.waitFor((m) => m.xid === 1);
    s.sendControl(Offer.encode({ xid: 1, to: r.id, files: [{ path: "fine.txt", size: 3 }, { path: bad, size: 3 }] }));
    const m = await answer;
    assert.ok(Reject.is(m), `${bad}: got ${m.type} ${JSON.stringify(m)} ${r.err()} ${r.out()}`);
    assert.match(String(m.reason), /Unsafe offer/);
    await r.exit();
    assert.equal(readdirSync(dst), [], bad);
    assert.ok(events(r).some((e) => e.event === "rejected"));
    await s.close();
  }
});

test.run();
