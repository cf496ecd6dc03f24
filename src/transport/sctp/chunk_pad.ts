/**
 * PAD chunk codec (RFC 4820 §3): padding that fills a packet to a chosen size,
 * as PLPMTUD probes need (RFC 8899 §6.2.1.2: HEARTBEAT + PAD). Its type's
 * upper bits are 10, so a receiver that does not know it skips it.
 *
 * @module
 */

import { zero } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { PadChunk } from "./chunk_types.ts";

/*
 * RFC 4820 §3:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Type = 0x84   |   Flags=0     |             Length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                          Padding Data                         /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The receiver ignores the Padding Data; we send zeros.
 */

/** Decodes PAD: `length` is the number of Padding Data bytes. */
export function decodePad(_buf: Uint8Array, _off: number, length: number): PadChunk {
  return { type: 132, length: length - CHUNK_HEADER_SIZE };
}

/** Writes PAD `c` (`c.length` zero bytes of padding) at `out[off]`. */
export function encodePad(c: PadChunk, out: Uint8Array, off: number): number {
  const len = CHUNK_HEADER_SIZE + c.length;
  writeChunkHeader(out, off, 132, 0, len);
  zero(out, off + CHUNK_HEADER_SIZE, off + len);
  return off + len;
}

/**
 * The PAD chunk that takes exactly `bytes` bytes in a packet (`bytes` is
 * rounded down to a multiple of 4 and must be at least 4), e.g. to grow a
 * HEARTBEAT packet to a PLPMTUD probe size: `padChunkFor(probeSize - packetLength(heartbeatOnly))`.
 * @throws RangeError when `bytes` < 4.
 */
export function padChunkFor(bytes: number): PadChunk {
  const n = bytes & ~3;
  if (n < CHUNK_HEADER_SIZE) throw new RangeError(`A PAD chunk takes at least 4 bytes, not ${bytes}`);
  return { type: 132, length: n - CHUNK_HEADER_SIZE };
}

/** PAD's entry in the chunk codec table. */
export const padCodec: ChunkCodec<PadChunk> = {
  name: "PAD",
  decode: decodePad,
  length: (c) => CHUNK_HEADER_SIZE + c.length,
  encode: encodePad,
};
