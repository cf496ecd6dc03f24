import { test } from "uvu";
import * as assert from "uvu/assert";
import { crc32c, crc32cBytewise, crc32cUpdate, sctpChecksum } from "../../../src/transport/sctp/crc32c.ts";
import { prng, randomBytes } from "./_codec_helpers.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

// Known answers: the check value of CRC-32C, and RFC 3720 Appendix B.4's test vectors.
const KNOWN: Array<[string, Uint8Array, number]> = [
  ["empty input", new Uint8Array(0), 0x00000000],
  ['"123456789"', ascii("123456789"), 0xe3069283],
  ["32 zero bytes (RFC 3720 B.4)", new Uint8Array(32), 0x8a9136aa],
  ["32 bytes of 0xFF (RFC 3720 B.4)", new Uint8Array(32).fill(0xff), 0x62a8ab43],
  ["bytes 0..31 (RFC 3720 B.4)", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ["bytes 31..0 (RFC 3720 B.4)", Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
];

for (const [name, data, want] of KNOWN) {
  test(`crc32c() of ${name} is 0x${want.toString(16)}`, () => {
    assert.is(crc32c(data), want);
    assert.is(crc32cBytewise(data), want);
  });
}

test("crc32c() equals the one-table reference for every length 0..300 at every alignment 0..7", () => {
  const next = prng(1);
  const buf = randomBytes(next, 400);
  for (let start = 0; start < 8; start++) {
    for (let len = 0; len <= 300; len++) {
      const want = crc32cBytewise(buf, start, start + len);
      if (crc32c(buf, start, start + len) !== want) assert.unreachable(`start ${start} len ${len}`);
      const view = buf.subarray(start, start + len); // a view with an unaligned byteOffset
      if (crc32c(view) !== want) assert.unreachable(`view start ${start} len ${len}`);
    }
  }
});

test("crc32c() equals the reference on 64 KiB random buffers (Buffer pool views too)", () => {
  const next = prng(2);
  for (let k = 0; k < 4; k++) {
    const data = randomBytes(next, 65536 + k);
    assert.is(crc32c(data), crc32cBytewise(data));
    const b = Buffer.from(data); // may live at any offset of Node's pool
    assert.is(crc32c(b), crc32cBytewise(data));
  }
});

test("crc32cUpdate() continues a CRC: crc(a‖b) = update(crc(a), b)", () => {
  const next = prng(3);
  const data = randomBytes(next, 5000);
  for (const cut of [0, 1, 7, 16, 1234, 4999, 5000]) {
    assert.is(crc32cUpdate(crc32c(data, 0, cut), data, cut), crc32c(data), `cut ${cut}`);
  }
  assert.is(crc32cUpdate(0, ascii("123456789")), 0xe3069283);
});

test("crc32c() clamps out-of-range bounds instead of reading outside the array", () => {
  const data = ascii("123456789");
  assert.is(crc32c(data, -5, 100), 0xe3069283);
  assert.is(crc32c(data, 9, 3), 0);
});

test("sctpChecksum() is the CRC with bytes 8..11 taken as zero, whatever they hold", () => {
  const next = prng(4);
  for (const len of [12, 13, 16, 100, 1200, 9000]) {
    const pkt = randomBytes(next, len);
    const zeroed = pkt.slice();
    zeroed.fill(0, 8, 12);
    assert.is(sctpChecksum(pkt), crc32c(zeroed), `len ${len}`);
  }
});

test.run();
