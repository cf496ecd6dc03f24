/**
 * HEARTBEAT (RFC 9260 §3.3.5) and HEARTBEAT ACK (§3.3.6) chunk codecs.
 *
 * The value is a Heartbeat Info parameter (mandatory) and, when `padding` is
 * set, a Padding parameter (RFC 4820 §3) of that many bytes after it, so a
 * PLPMTUD probe (RFC 8899) can be sized exactly. Note that §8.3 has the peer
 * echo every TLV of the HEARTBEAT in its HEARTBEAT ACK, padding included; a
 * probe that wants a small acknowledgement pads with a PAD chunk instead
 * (RFC 8899 §6.2.1.2; `padChunkFor` in chunk_pad.ts). Other parameters are
 * ignored on decode.
 *
 * @module
 */

import { pad4 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import { PARAM } from "./chunk_types.ts";
import type { HeartbeatChunk, Param } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";
import { decodeParamsIn, paramsLength, writeParams } from "./param.ts";

/*
 * RFC 9260 §3.3.5 (HEARTBEAT; HEARTBEAT ACK in §3.3.6 is the same with Type = 5):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 4    |  Chunk Flags  |       Heartbeat Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /          Heartbeat Information TLV (Variable-Length)          /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Heartbeat Information TLV:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Heartbeat Info Type = 1    |         HB Info Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                  Sender-Specific Heartbeat Info               /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

function params(c: HeartbeatChunk): Param[] {
  const out: Param[] = [{ type: PARAM.HEARTBEAT_INFO, value: c.info }];
  if (c.padding !== undefined && c.padding > 0) out.push({ type: PARAM.PAD, value: new Uint8Array(c.padding) });
  return out;
}

/**
 * Decodes HEARTBEAT (`type` 4) or HEARTBEAT ACK (5); rejects one without a
 * Heartbeat Info parameter. `padding` is the total value length of its PAD
 * parameters, present only when > 0.
 */
export function decodeHeartbeat(type: 4 | 5): (buf: Uint8Array, off: number, length: number) => HeartbeatChunk {
  const name = type === 4 ? "HEARTBEAT" : "HEARTBEAT ACK";
  return (buf, off, length) => {
    let info: Uint8Array | undefined;
    let padding: number | undefined;
    for (const p of decodeParamsIn(buf, off + CHUNK_HEADER_SIZE, off + length)) {
      if (p.type === PARAM.HEARTBEAT_INFO && info === undefined) info = p.value;
      else if (p.type === PARAM.PAD) padding = (padding ?? 0) + p.value.length;
    }
    if (info === undefined) throw new SctpDecodeError("missing-parameter", `SCTP ${name} has no Heartbeat Info parameter`);
    // A zero-byte PAD parameter decodes as no padding, so decode∘encode is stable.
    return padding ? { type, info, padding } : { type, info };
  };
}

function length(c: HeartbeatChunk): number {
  const infoLen = 4 + c.info.length;
  if (c.padding === undefined || c.padding <= 0) return CHUNK_HEADER_SIZE + infoLen;
  return CHUNK_HEADER_SIZE + pad4(infoLen) + 4 + c.padding;
}

/** Writes HEARTBEAT/HEARTBEAT ACK `c` at `out[off]`: Heartbeat Info, then a PAD parameter of `padding` bytes if set. */
export function encodeHeartbeat(c: HeartbeatChunk, out: Uint8Array, off: number): number {
  const ps = params(c);
  writeChunkHeader(out, off, c.type, 0, CHUNK_HEADER_SIZE + paramsLength(ps));
  return writeParams(out, off + CHUNK_HEADER_SIZE, ps);
}

/**
 * The `padding` that makes a packet holding only a HEARTBEAT with
 * `infoLength` bytes of info exactly `packetSize` bytes (12-byte common
 * header included), or 0 when the size is too small to pad. Packets are
 * multiples of 4 bytes, so a `packetSize` that is not is rounded down.
 */
export function heartbeatPaddingFor(packetSize: number, infoLength: number): number {
  const fixed = 12 + CHUNK_HEADER_SIZE + pad4(4 + infoLength) + 4;
  const target = packetSize & ~3;
  return target - fixed > 0 ? target - fixed : 0;
}

/** HEARTBEAT's entry in the chunk codec table. */
export const heartbeatCodec: ChunkCodec<HeartbeatChunk> = { name: "HEARTBEAT", decode: decodeHeartbeat(4), length, encode: encodeHeartbeat };

/** HEARTBEAT ACK's entry in the chunk codec table. */
export const heartbeatAckCodec: ChunkCodec<HeartbeatChunk> = {
  name: "HEARTBEAT ACK",
  decode: decodeHeartbeat(5),
  length,
  encode: encodeHeartbeat,
};
