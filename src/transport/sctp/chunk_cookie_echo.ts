/**
 * COOKIE ECHO chunk codec (RFC 9260 §3.3.11).
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { CookieEchoChunk } from "./chunk_types.ts";

/*
 * RFC 9260 §3.3.11:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 10   |Chunk  Flags   |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                            Cookie                             /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The Cookie is the State Cookie value from the INIT ACK, byte for byte.
 */

/** Decodes COOKIE ECHO; `cookie` is a `subarray` of `buf` (possibly empty — the cookie check rejects that). */
export function decodeCookieEcho(buf: Uint8Array, off: number, length: number): CookieEchoChunk {
  return { type: 10, cookie: buf.subarray(off + CHUNK_HEADER_SIZE, off + length) };
}

/** Writes COOKIE ECHO `c` at `out[off]`. */
export function encodeCookieEcho(c: CookieEchoChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 10, 0, CHUNK_HEADER_SIZE + c.cookie.length);
  out.set(c.cookie, off + CHUNK_HEADER_SIZE);
  return off + CHUNK_HEADER_SIZE + c.cookie.length;
}

/** COOKIE ECHO's entry in the chunk codec table. */
export const cookieEchoCodec: ChunkCodec<CookieEchoChunk> = {
  name: "COOKIE ECHO",
  decode: decodeCookieEcho,
  length: (c) => CHUNK_HEADER_SIZE + c.cookie.length,
  encode: encodeCookieEcho,
};
