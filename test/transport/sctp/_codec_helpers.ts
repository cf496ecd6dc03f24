/**
 * Helpers shared by the SCTP codec tests: hex literals, a seeded PRNG, and
 * a pcap writer for cross-checking our packets with tshark.
 */
import * as assert from "uvu/assert";
import { SctpDecodeError } from "../../../src/transport/sctp/decode_error.ts";

/** Bytes from hex text; spaces, newlines and `|` are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Hex text of bytes (no spaces). */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Asserts `fn` throws an SctpDecodeError with `reason`. */
export function assertDecodeError(fn: () => unknown, reason: string, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, SctpDecodeError, `${what}: threw ${String(e)}`);
    assert.is((e as SctpDecodeError).reason, reason, `${what}: reason`);
    return;
  }
  assert.unreachable(`${what}: decoded without error`);
}

/** Deterministic 32-bit PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Random bytes from `next`. */
export function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/**
 * A classic pcap (Ethernet link type) holding each SCTP packet in IPv4/UDP
 * 127.0.0.1:9899 → 127.0.0.1:9899 — the port RFC 6951 registers for SCTP over
 * UDP, which Wireshark decodes as SCTP.
 */
export function pcapOf(packets: Uint8Array[]): Uint8Array {
  const frames = packets.map((sctp) => {
    const udpLen = 8 + sctp.length;
    const ipLen = 20 + udpLen;
    const f = new Uint8Array(14 + ipLen);
    const v = new DataView(f.buffer);
    v.setUint16(12, 0x0800);
    f[14] = 0x45;
    v.setUint16(16, ipLen);
    f[22] = 64;
    f[23] = 17;
    f.set([127, 0, 0, 1], 26);
    f.set([127, 0, 0, 1], 30);
    let sum = 0;
    for (let k = 14; k < 34; k += 2) sum += v.getUint16(k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    v.setUint16(24, ~sum & 0xffff);
    v.setUint16(34, 9899);
    v.setUint16(36, 9899);
    v.setUint16(38, udpLen); // UDP checksum 0: none (allowed over IPv4)
    f.set(sctp, 42);
    return f;
  });
  const total = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  let off = 24;
  frames.forEach((f, i) => {
    v.setUint32(off, 1_700_000_000 + i, true);
    v.setUint32(off + 8, f.length, true);
    v.setUint32(off + 12, f.length, true);
    out.set(f, off + 16);
    off += 16 + f.length;
  });
  return out;
}
