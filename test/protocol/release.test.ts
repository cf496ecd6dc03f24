import { test } from "uvu";
import * as assert from "uvu/assert";
import { RECEIVED_HEADER_BYTES, releaseReceived } from "../../src/protocol/release.ts";

test("releaseReceived() frees a message that is its whole buffer: every view then reads empty", () => {
  const message = new Uint8Array(64 * 1024).fill(7);
  const other = new Uint8Array(message.buffer);
  assert.ok(releaseReceived(message));
  assert.is(message.byteLength, 0);
  assert.is(other.byteLength, 0);
  assert.ok(message.buffer.detached);
});

test("releaseReceived() frees a message that fills its datagram but for the packet headers", () => {
  const datagram = new Uint8Array(65_504);
  const message = datagram.subarray(RECEIVED_HEADER_BYTES);
  assert.ok(releaseReceived(message));
  assert.is(datagram.byteLength, 0);
});

test("releaseReceived() leaves alone a view whose buffer could hold other data", () => {
  const cases: Array<[string, Uint8Array]> = [
    ["a view with room for another chunk", new Uint8Array(65_504).subarray(RECEIVED_HEADER_BYTES + 1)],
    ["a small Buffer from Node's shared pool", Buffer.from("hello")],
    ["the middle of a receive slab", new Uint8Array(1 << 20).subarray(4096, 4096 + 65_472)],
    ["an empty message", new Uint8Array(0)],
    ["a view of a SharedArrayBuffer", new Uint8Array(new SharedArrayBuffer(1024))],
    ["a view of a resizable buffer", new Uint8Array(new ArrayBuffer(1024, { maxByteLength: 4096 }))],
  ];
  for (const [what, view] of cases) {
    const before = view.byteLength;
    assert.not.ok(releaseReceived(view), what);
    assert.is(view.byteLength, before, what);
  }
});

test("releaseReceived() of an already freed buffer is a no-op", () => {
  const message = new Uint8Array(100);
  assert.ok(releaseReceived(message));
  assert.not.ok(releaseReceived(message));
});

test.run();
