/**
 * The chunk header every chunk starts with (RFC 9260 §3.2) and the length
 * checks the per-type decoders share.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Chunk Type  | Chunk  Flags  |         Chunk Length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                          Chunk Value                          /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

import { writeU16 } from "./bytes.ts";
import { SctpDecodeError } from "./decode_error.ts";

/** Size of the Chunk Type, Flags and Length fields. */
export const CHUNK_HEADER_SIZE = 4;

/** Throws `chunk-too-short` when a `name` chunk's Length is below its type's minimum. */
export function checkMinLength(name: string, length: number, min: number): void {
  if (length < min) {
    throw new SctpDecodeError("chunk-too-short", `SCTP ${name} chunk has length ${length}, minimum ${min}`);
  }
}

/** Writes a chunk header at `out[off]`. */
export function writeChunkHeader(out: Uint8Array, off: number, type: number, flags: number, length: number): void {
  if (length > 0xffff) throw new RangeError(`SCTP chunk type ${type} would be ${length} bytes; the limit is 65535`);
  out[off] = type;
  out[off + 1] = flags;
  writeU16(out, off + 2, length);
}
