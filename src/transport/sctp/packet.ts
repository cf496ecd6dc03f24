/**
 * SCTP packets: the common header (RFC 9260 §3.1), the CRC-32C checksum
 * (§6.8) and the chunks after it.
 *
 * The checksum is stored in the header least significant byte first: the
 * CRC register's bytes in the order the reflected algorithm produces them
 * (RFC 9260 Appendix B; Linux stores `cpu_to_le32(crc)`, usrsctp and pion do
 * the same), so `crc32c("123456789") = 0xE3069283` goes on the wire as
 * `83 92 06 E3`.
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { chunkLength, decodeChunk, encodeChunk } from "./chunk.ts";
import type { Chunk, Packet } from "./chunk_types.ts";
import { sctpChecksum } from "./crc32c.ts";
import { SctpDecodeError } from "./decode_error.ts";

export { chunkLength } from "./chunk.ts";
export { DATA_CHUNK_HEADER_SIZE } from "./chunk_data.ts";
export { IDATA_CHUNK_HEADER_SIZE } from "./chunk_idata.ts";

/** Size of the SCTP common header. */
export const COMMON_HEADER_SIZE = 12;

/*
 * RFC 9260 §3.1, the common header:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Source Port Number        |     Destination Port Number   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Verification Tag                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           Checksum                            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * followed by one or more chunks, each padded to a multiple of 4 bytes.
 */

/** The common header's ports and tag, as {@link peekHeader} returns them. */
export interface PacketHeader {
  srcPort: number;
  dstPort: number;
  verificationTag: number;
}

/**
 * Reads ports and verification tag without checking the checksum — for
 * demultiplexing to an association before paying for the CRC. Undefined when
 * `buf` is shorter than the common header.
 */
export function peekHeader(buf: Uint8Array): PacketHeader | undefined {
  if (buf.length < COMMON_HEADER_SIZE) return undefined;
  return { srcPort: readU16(buf, 0), dstPort: readU16(buf, 2), verificationTag: readU32(buf, 4) };
}

/** The checksum stored in the header (little-endian, see the module doc). */
function storedChecksum(buf: Uint8Array): number {
  return (buf[8] | (buf[9] << 8) | (buf[10] << 16) | (buf[11] << 24)) >>> 0;
}

/** True when `buf` is at least 12 bytes and its CRC-32C checksum is right (RFC 9260 §6.8). */
export function verifyChecksum(buf: Uint8Array): boolean {
  return buf.length >= COMMON_HEADER_SIZE && sctpChecksum(buf) === storedChecksum(buf);
}

/**
 * Decodes a whole SCTP packet: checks its length and checksum, then decodes
 * every chunk. Chunk values alias `buf`.
 *
 * @throws SctpDecodeError (`short-packet`, `bad-checksum`, `no-chunks`, or a
 * chunk's reason) — the packet is to be dropped silently (§6.8, §8.4).
 *
 * @example
 * ```ts
 * const p = decodePacket(datagram);
 * for (const c of p.chunks) if (c.type === CHUNK.DATA && !isUnknownChunk(c)) deliver(c);
 * ```
 */
export function decodePacket(buf: Uint8Array): Packet {
  if (buf.length < COMMON_HEADER_SIZE) {
    throw new SctpDecodeError("short-packet", `SCTP packet of ${buf.length} bytes is shorter than the 12-byte common header`);
  }
  if (!verifyChecksum(buf)) {
    throw new SctpDecodeError("bad-checksum", `SCTP packet of ${buf.length} bytes has a bad CRC-32C checksum`);
  }
  return decodePacketUnchecked(buf);
}

/**
 * Like {@link decodePacket} but without the checksum check, for callers that
 * verified it already (or tests). Still checks every length.
 */
export function decodePacketUnchecked(buf: Uint8Array): Packet {
  if (buf.length < COMMON_HEADER_SIZE) {
    throw new SctpDecodeError("short-packet", `SCTP packet of ${buf.length} bytes is shorter than the 12-byte common header`);
  }
  if (buf.length === COMMON_HEADER_SIZE) {
    throw new SctpDecodeError("no-chunks", "SCTP packet has a common header and no chunks");
  }
  const chunks: Chunk[] = [];
  let off = COMMON_HEADER_SIZE;
  while (off < buf.length) {
    const r = decodeChunk(buf, off, buf.length);
    chunks.push(r.chunk);
    off = r.next;
  }
  return { srcPort: readU16(buf, 0), dstPort: readU16(buf, 2), verificationTag: readU32(buf, 4), chunks };
}

/** The encoded size of `p`: the common header plus every chunk with its padding. */
export function packetLength(p: Packet): number {
  let n = COMMON_HEADER_SIZE;
  for (const c of p.chunks) n += chunkLength(c);
  return n;
}

/**
 * Encodes `p` into `out` at `offset` (which needs {@link packetLength}`(p)`
 * bytes) with its checksum; returns the offset after the packet. `out` may
 * hold old bytes: every byte of the packet is written. Into a reused buffer
 * this is ~15% (1200 B) to ~35% (64 KiB) faster than {@link encodePacket}.
 * @throws RangeError when `out` is too small.
 */
export function encodePacketInto(p: Packet, out: Uint8Array, offset = 0): number {
  const need = packetLength(p);
  if (offset < 0 || out.length - offset < need) {
    throw new RangeError(`SCTP packet needs ${need} bytes at offset ${offset}; the buffer has ${out.length}`);
  }
  return writePacket(p, out, offset);
}

/** {@link encodePacketInto} without the size check. */
function writePacket(p: Packet, out: Uint8Array, offset: number): number {
  writeU16(out, offset, p.srcPort);
  writeU16(out, offset + 2, p.dstPort);
  writeU32(out, offset + 4, p.verificationTag);
  let off = offset + COMMON_HEADER_SIZE;
  for (const c of p.chunks) off = encodeChunk(c, out, off);
  const crc = sctpChecksum(offset === 0 && off === out.length ? out : out.subarray(offset, off));
  out[offset + 8] = crc;
  out[offset + 9] = crc >>> 8;
  out[offset + 10] = crc >>> 16;
  out[offset + 11] = crc >>> 24;
  return off;
}

/*
 * Packet buffers come from a slab: on V8 a fresh `new Uint8Array(1200)` costs
 * about 1 µs (an off-heap backing store), as much as encoding the packet,
 * while a `subarray` of a slab costs ~50 ns: `node bench/crc32c.ts` went
 * from ~650k to ~1.4M encoded 1200-byte packets/s with it. Slab bytes are
 * never handed out twice, so they are always fresh zeros.
 *
 * Larger packets (64 KiB on loopback, where the stack competes with TCP;
 * 9 KB with jumbo frames) come from pools of buffers of their size rounded
 * up to 4 KiB: a fresh 64 KiB buffer cost ~12-20 µs, a third of the
 * sender's CPU at the discovered loopback PMTU (`node bench/sctp_cpu.ts
 * 200 65536 0`: 1.9 ms per MiB with fresh buffers, 1.3 with the pool).
 * The socket hands a buffer back (`releasePacket`) once the kernel has the
 * datagram. A pooled buffer is dirty: encoding writes every byte of the
 * packet, padding included (test/transport/sctp/packet_test.ts checks it).
 */
const SLAB_SIZE = 128 * 1024;
const SLAB_MAX_PACKET = 8 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/** Pooled buffers are the packet's size rounded up to this (one free list per size): 8 KiB … 64 KiB. */
const POOL_STEP = 4096;
/** An SCTP packet over UDP is at most 65,507 bytes. */
const POOL_MAX_BUFFER = 64 * 1024;
/** Idle pooled bytes kept, over all sizes: a flush's worth of 64 KiB packets (the socket hands them back on the next tick). */
const POOL_MAX_IDLE_BYTES = 8 * 1024 * 1024;
const pools = new Map<number, ArrayBuffer[]>();
let idleBytes = 0;
/**
 * The views handed out and not released yet. Keyed by view, not buffer: a
 * second release of a view is ignored even after its buffer was lent again.
 */
const lent = new WeakSet<Uint8Array>();

function allocate(n: number): Uint8Array {
  if (n > SLAB_MAX_PACKET) {
    if (n > POOL_MAX_BUFFER) return new Uint8Array(n);
    const size = Math.ceil(n / POOL_STEP) * POOL_STEP;
    let buffer = pools.get(size)?.pop();
    if (buffer) idleBytes -= size;
    else buffer = new ArrayBuffer(size);
    const out = new Uint8Array(buffer, 0, n);
    lent.add(out);
    return out;
  }
  if (SLAB_SIZE - slabUsed < n) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7; // keep every packet 8-byte aligned for the CRC's word reads
  return out;
}

/** Whether `bytes` is a pooled buffer from {@link encodePacket}, to hand back with {@link releasePacket} once sent. */
export function isPooledPacket(bytes: Uint8Array): boolean {
  return bytes.length > SLAB_MAX_PACKET && lent.has(bytes);
}

/**
 * Hands a large packet from {@link encodePacket} back for reuse. Call it only
 * once nothing reads `bytes` any more (the socket has sent it): the next
 * large packet may be written into the same memory. Anything else, and a
 * second release of the same packet, is ignored.
 */
export function releasePacket(bytes: Uint8Array): void {
  if (!lent.has(bytes)) return;
  lent.delete(bytes);
  const buffer = bytes.buffer as ArrayBuffer;
  const size = buffer.byteLength;
  if (idleBytes + size > POOL_MAX_IDLE_BYTES) return;
  let list = pools.get(size);
  if (!list) pools.set(size, list = []);
  list.push(buffer);
  idleBytes += size;
}

/**
 * Encodes `p` into a new `Uint8Array` of exactly its size, checksum included.
 * Packets up to 8 KiB are views into a shared 128 KiB slab: do not transfer
 * or detach their `.buffer`, and do not write past the view. Larger ones
 * come from a pool: they stay yours unless you hand them back with
 * {@link releasePacket}.
 *
 * @example
 * ```ts
 * const bytes = encodePacket({ srcPort: 6969, dstPort: 6969, verificationTag: 0,
 *   chunks: [{ type: 1, initiateTag, aRwnd: 1 << 20, outboundStreams: 16, inboundStreams: 16, initialTsn, params: [] }] });
 * ```
 */
export function encodePacket(p: Packet): Uint8Array {
  const out = allocate(packetLength(p));
  writePacket(p, out, 0);
  return out;
}
