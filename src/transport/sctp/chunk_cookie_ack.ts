/**
 * COOKIE ACK chunk codec (RFC 9260 §3.3.12): a header and nothing else.
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { EmptyChunk } from "./chunk_types.ts";

/*
 * RFC 9260 §3.3.12:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 11   |Chunk  Flags   |         Length = 4            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes COOKIE ACK (any value bytes after the header are ignored). */
export function decodeCookieAck(): EmptyChunk {
  return { type: 11 };
}

/** Writes COOKIE ACK at `out[off]`. */
export function encodeCookieAck(_c: EmptyChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 11, 0, CHUNK_HEADER_SIZE);
  return off + CHUNK_HEADER_SIZE;
}

/** COOKIE ACK's entry in the chunk codec table. */
export const cookieAckCodec: ChunkCodec<EmptyChunk> = {
  name: "COOKIE ACK",
  decode: decodeCookieAck,
  length: () => CHUNK_HEADER_SIZE,
  encode: encodeCookieAck,
};
