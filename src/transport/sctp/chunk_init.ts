/**
 * INIT (RFC 9260 §3.3.2) and INIT ACK (§3.3.3) chunk codecs: the same fixed
 * part followed by parameters.
 *
 * The codec checks structure only. Whether the values are acceptable — a zero
 * Initiate Tag or zero stream counts (an ABORT with Invalid Mandatory
 * Parameter, §3.3.2), a missing State Cookie in INIT ACK (§5.2.1) — is the
 * association's decision.
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { InitChunk } from "./chunk_types.ts";
import { decodeParamsIn, paramsLength, writeParams } from "./param.ts";

/** Bytes of INIT/INIT ACK before the parameters. */
export const INIT_CHUNK_FIXED_SIZE = 20;

/*
 * RFC 9260 §3.3.2 (INIT; INIT ACK in §3.3.3 is the same with Type = 2):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 1    |  Chunk Flags  |         Chunk Length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Initiate Tag                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Advertised Receiver Window Credit (a_rwnd)           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Number of Outbound Streams   |   Number of Inbound Streams   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Initial TSN                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /              Optional/Variable-Length Parameters              /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes INIT (`type` 1) or INIT ACK (`type` 2); parameter values alias `buf`. */
export function decodeInit(type: 1 | 2): (buf: Uint8Array, off: number, length: number) => InitChunk {
  const name = type === 1 ? "INIT" : "INIT ACK";
  return (buf, off, length) => {
    checkMinLength(name, length, INIT_CHUNK_FIXED_SIZE);
    return {
      type,
      initiateTag: readU32(buf, off + 4),
      aRwnd: readU32(buf, off + 8),
      outboundStreams: readU16(buf, off + 12),
      inboundStreams: readU16(buf, off + 14),
      initialTsn: readU32(buf, off + 16),
      params: decodeParamsIn(buf, off + INIT_CHUNK_FIXED_SIZE, off + length),
    };
  };
}

/** Writes INIT/INIT ACK `c` at `out[off]`; the last parameter's padding is left to the chunk padding (§3.2). */
export function encodeInit(c: InitChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, c.type, 0, INIT_CHUNK_FIXED_SIZE + paramsLength(c.params));
  writeU32(out, off + 4, c.initiateTag);
  writeU32(out, off + 8, c.aRwnd);
  writeU16(out, off + 12, c.outboundStreams);
  writeU16(out, off + 14, c.inboundStreams);
  writeU32(out, off + 16, c.initialTsn);
  return writeParams(out, off + INIT_CHUNK_FIXED_SIZE, c.params);
}

const length = (c: InitChunk): number => INIT_CHUNK_FIXED_SIZE + paramsLength(c.params);

/** INIT's entry in the chunk codec table. */
export const initCodec: ChunkCodec<InitChunk> = { name: "INIT", decode: decodeInit(1), length, encode: encodeInit };

/** INIT ACK's entry in the chunk codec table. */
export const initAckCodec: ChunkCodec<InitChunk> = { name: "INIT ACK", decode: decodeInit(2), length, encode: encodeInit };
