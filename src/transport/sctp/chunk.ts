/**
 * The chunk layer: one `type → codec` table and the functions that walk it.
 * Each chunk type's codec lives in its own `chunk_<name>.ts` file; this file
 * reads the common chunk header (RFC 9260 §3.2), checks the Length field
 * against the bytes present, and dispatches.
 *
 * A chunk type with no codec decodes to an {@link UnknownChunk} — the
 * association applies §3.2's rules for the upper two bits of its type.
 * RE-CONFIG (RFC 6525) has no codec here: sfx does not announce it, so it is
 * returned as unknown too.
 *
 * Every `Uint8Array` in a decoded chunk is a `subarray` of the input.
 *
 * @module
 */

import { pad4, readU16, zero } from "./bytes.ts";
import { abortCodec } from "./chunk_abort.ts";
import { cookieAckCodec } from "./chunk_cookie_ack.ts";
import { cookieEchoCodec } from "./chunk_cookie_echo.ts";
import { dataCodec } from "./chunk_data.ts";
import { cwrCodec } from "./chunk_cwr.ts";
import { ecneCodec } from "./chunk_ecne.ts";
import { errorCodec } from "./chunk_error.ts";
import { forwardTsnCodec, iForwardTsnCodec } from "./chunk_forward_tsn.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import { heartbeatAckCodec, heartbeatCodec } from "./chunk_heartbeat.ts";
import { iDataCodec } from "./chunk_idata.ts";
import { initAckCodec, initCodec } from "./chunk_init.ts";
import { padCodec } from "./chunk_pad.ts";
import { sackCodec } from "./chunk_sack.ts";
import { shutdownCodec } from "./chunk_shutdown.ts";
import { shutdownAckCodec } from "./chunk_shutdown_ack.ts";
import { shutdownCompleteCodec } from "./chunk_shutdown_complete.ts";
import { CHUNK } from "./chunk_types.ts";
import type { Chunk, UnknownChunk } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";

export { CHUNK_HEADER_SIZE } from "./chunk_header.ts";

/** How one chunk type is decoded and encoded. */
export interface ChunkCodec<C extends Chunk> {
  /** The RFC's name of the chunk type, for messages. */
  name: string;
  /**
   * Decodes the chunk at `buf[off]`. `length` is its Chunk Length field,
   * already checked to be ≥ 4 and within `buf`; `flags` is its flag byte.
   * Throws {@link SctpDecodeError} if the value is malformed.
   */
  decode(buf: Uint8Array, off: number, length: number, flags: number): C;
  /** The chunk's encoded length without trailing padding (its Chunk Length field). */
  length(c: C): number;
  /** Writes the chunk, header included, at `out[off]`; returns the offset after it, padding not written. */
  encode(c: C, out: Uint8Array, off: number): number;
}

// deno-lint-ignore no-explicit-any
type AnyCodec = ChunkCodec<any>;

/** The codec for each chunk type that has one, indexed by type. */
const CODECS: Array<AnyCodec | undefined> = new Array<AnyCodec | undefined>(256).fill(undefined);
CODECS[CHUNK.DATA] = dataCodec;
CODECS[CHUNK.INIT] = initCodec;
CODECS[CHUNK.INIT_ACK] = initAckCodec;
CODECS[CHUNK.SACK] = sackCodec;
CODECS[CHUNK.HEARTBEAT] = heartbeatCodec;
CODECS[CHUNK.HEARTBEAT_ACK] = heartbeatAckCodec;
CODECS[CHUNK.ABORT] = abortCodec;
CODECS[CHUNK.SHUTDOWN] = shutdownCodec;
CODECS[CHUNK.SHUTDOWN_ACK] = shutdownAckCodec;
CODECS[CHUNK.ERROR] = errorCodec;
CODECS[CHUNK.COOKIE_ECHO] = cookieEchoCodec;
CODECS[CHUNK.COOKIE_ACK] = cookieAckCodec;
CODECS[CHUNK.ECNE] = ecneCodec;
CODECS[CHUNK.CWR] = cwrCodec;
CODECS[CHUNK.SHUTDOWN_COMPLETE] = shutdownCompleteCodec;
CODECS[CHUNK.I_DATA] = iDataCodec;
CODECS[CHUNK.PAD] = padCodec;
CODECS[CHUNK.FORWARD_TSN] = forwardTsnCodec;
CODECS[CHUNK.I_FORWARD_TSN] = iForwardTsnCodec;

/** True for the {@link UnknownChunk} shape (a chunk type this codec does not decode). */
export function isUnknownChunk(c: Chunk): c is UnknownChunk {
  return (c as UnknownChunk).unknown === true;
}

/** True when chunk type `type` has a codec here (and so never decodes as unknown). */
export function isKnownChunkType(type: number): boolean {
  return CODECS[type & 0xff] !== undefined;
}

/**
 * Decodes the chunk at `buf[offset]`, not reading past `end`. Returns the
 * chunk and the offset of the next one (after this chunk's padding; a final
 * chunk whose padding is missing is accepted).
 *
 * @throws SctpDecodeError when the header is truncated, Length < 4, Length
 * overruns `end`, or the value is malformed for its type.
 */
export function decodeChunk(buf: Uint8Array, offset: number, end: number = buf.length): { chunk: Chunk; next: number } {
  if (end - offset < CHUNK_HEADER_SIZE) {
    throw new SctpDecodeError("chunk-truncated", `SCTP chunk header needs 4 bytes at offset ${offset}, ${end - offset} left`);
  }
  const type = buf[offset];
  const flags = buf[offset + 1];
  const length = readU16(buf, offset + 2);
  if (length < CHUNK_HEADER_SIZE) {
    throw new SctpDecodeError("chunk-too-short", `SCTP chunk type ${type} has length ${length} (< 4)`);
  }
  if (length > end - offset) {
    throw new SctpDecodeError("chunk-truncated", `SCTP chunk type ${type} has length ${length}, only ${end - offset} bytes left`);
  }
  const codec = CODECS[type];
  const chunk: Chunk = codec !== undefined
    ? codec.decode(buf, offset, length, flags)
    : { type, flags, value: buf.subarray(offset + CHUNK_HEADER_SIZE, offset + length), unknown: true };
  const next = offset + pad4(length);
  return { chunk, next: next > end ? end : next };
}

function codecFor(chunk: Chunk): AnyCodec {
  const codec = CODECS[chunk.type];
  if (codec === undefined) throw new TypeError(`No SCTP codec for chunk type ${chunk.type}; encode it as an UnknownChunk`);
  return codec;
}

/** The chunk's Chunk Length field: its encoded length without the trailing padding. */
export function chunkUnpaddedLength(chunk: Chunk): number {
  if (isUnknownChunk(chunk)) return CHUNK_HEADER_SIZE + chunk.value.length;
  return codecFor(chunk).length(chunk);
}

/** The chunk's encoded length including padding to a multiple of 4 (what it takes in a packet). */
export function chunkLength(chunk: Chunk): number {
  return pad4(chunkUnpaddedLength(chunk));
}

/**
 * Writes `chunk` at `out[offset]` followed by zero padding to a multiple of 4;
 * returns the offset after the padding. `out` must have
 * {@link chunkLength}`(chunk)` bytes free.
 *
 * @throws RangeError when the chunk would exceed 65,535 bytes or `out`; TypeError for
 * a known-shaped chunk of a type with no codec.
 */
export function encodeChunk(chunk: Chunk, out: Uint8Array, offset: number): number {
  let end: number;
  if (isUnknownChunk(chunk)) {
    writeChunkHeader(out, offset, chunk.type, chunk.flags, CHUNK_HEADER_SIZE + chunk.value.length);
    out.set(chunk.value, offset + CHUNK_HEADER_SIZE);
    end = offset + CHUNK_HEADER_SIZE + chunk.value.length;
  } else {
    end = codecFor(chunk).encode(chunk, out, offset);
  }
  const padded = offset + pad4(end - offset);
  // Typed arrays drop writes past their end silently: report it instead.
  if (padded > out.length) throw new RangeError(`SCTP chunk type ${chunk.type} needs ${padded - offset} bytes at offset ${offset}; the buffer has ${out.length}`);
  zero(out, end, padded);
  return padded;
}
