/**
 * Error causes carried by ABORT and ERROR chunks (RFC 9260 §3.3.10): encode
 * and decode of cause lists, constructors for the causes sfx sends, and
 * parsers for the ones it reads.
 *
 * RFC 9260 §3.3.10, one cause:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Cause Code           |         Cause Length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                    Cause-Specific Information                 /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Cause Length counts the header and the information, not the zero padding
 * to 4 bytes that follows each cause. Decoded `info` aliases the input.
 *
 * @module
 */

import { pad4, readU16, readU32, writeU16, writeU32, zero } from "./bytes.ts";
import { CAUSE } from "./chunk_types.ts";
import type { ErrorCause, Param, UnknownChunk } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";
import { decodeParams, encodeParams } from "./param.ts";

/** Size of a cause's Code and Length fields. */
export const CAUSE_HEADER_SIZE = 4;

/** Bytes `causes` take inside a chunk: each padded except the last (RFC 9260 §3.2). */
export function causesLength(causes: readonly ErrorCause[]): number {
  let n = 0;
  for (let i = 0; i < causes.length; i++) {
    const len = CAUSE_HEADER_SIZE + causes[i].info.length;
    n += i === causes.length - 1 ? len : pad4(len);
  }
  return n;
}

/**
 * Writes `causes` at `out[off]` with zero padding between them; returns the
 * offset after the last cause's information (its padding not written).
 * @throws RangeError when a cause exceeds 65,535 bytes.
 */
export function writeCauses(out: Uint8Array, off: number, causes: readonly ErrorCause[]): number {
  for (let i = 0; i < causes.length; i++) {
    const c = causes[i];
    const len = CAUSE_HEADER_SIZE + c.info.length;
    if (len > 0xffff) throw new RangeError(`SCTP error cause ${c.code} is ${len} bytes; the limit is 65535`);
    writeU16(out, off, c.code);
    writeU16(out, off + 2, len);
    out.set(c.info, off + CAUSE_HEADER_SIZE);
    const end = off + len;
    off = i === causes.length - 1 ? end : off + pad4(len);
    zero(out, end, off);
  }
  return off;
}

/**
 * Decodes the causes in `buf[start, end)`; the last may omit its padding.
 * @throws SctpDecodeError on a truncated or overrunning cause.
 */
export function decodeCausesIn(buf: Uint8Array, start: number, end: number): ErrorCause[] {
  const out: ErrorCause[] = [];
  let off = start;
  while (off < end) {
    if (end - off < CAUSE_HEADER_SIZE) {
      throw new SctpDecodeError("cause-truncated", `SCTP error cause header needs 4 bytes at offset ${off}, ${end - off} left`);
    }
    const code = readU16(buf, off);
    const len = readU16(buf, off + 2);
    if (len < CAUSE_HEADER_SIZE) throw new SctpDecodeError("cause-too-short", `SCTP error cause ${code} has length ${len} (< 4)`);
    if (len > end - off) {
      throw new SctpDecodeError("cause-truncated", `SCTP error cause ${code} has length ${len}, only ${end - off} bytes left`);
    }
    out.push({ code, info: buf.subarray(off + CAUSE_HEADER_SIZE, off + len) });
    off = Math.min(off + pad4(len), end);
  }
  return out;
}

/** Encodes a cause list as a standalone byte string, every cause padded. */
export function encodeCauses(causes: readonly ErrorCause[]): Uint8Array {
  const out = new Uint8Array(pad4(causesLength(causes)));
  writeCauses(out, 0, causes);
  return out;
}

/** Decodes a byte string of causes (the inverse of {@link encodeCauses}); `info` aliases `buf`. */
export function decodeCauses(buf: Uint8Array): ErrorCause[] {
  return decodeCausesIn(buf, 0, buf.length);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, v);
  return b;
}

function expectInfo(c: ErrorCause, n: number, name: string): void {
  if (c.info.length < n) {
    throw new SctpDecodeError("cause-length-mismatch", `SCTP ${name} cause has ${c.info.length} bytes of information, needs ${n}`);
  }
}

/** Invalid Stream Identifier (§3.3.10.1): the stream a DATA chunk named that does not exist. */
export function invalidStreamIdentifierCause(streamId: number): ErrorCause {
  const info = new Uint8Array(4);
  writeU16(info, 0, streamId);
  return { code: CAUSE.INVALID_STREAM_IDENTIFIER, info };
}

/** The stream of an Invalid Stream Identifier cause. */
export function parseInvalidStreamIdentifier(c: ErrorCause): number {
  expectInfo(c, 2, "Invalid Stream Identifier");
  return readU16(c.info, 0);
}

/*
 * §3.3.10.2, Missing Mandatory Parameter information:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Number of missing params=N                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Missing Param Type #1       |   Missing Param Type #2       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Missing Mandatory Parameter (§3.3.10.2): the parameter types that were required and absent. */
export function missingMandatoryParameterCause(paramTypes: readonly number[]): ErrorCause {
  const info = new Uint8Array(4 + 2 * paramTypes.length);
  writeU32(info, 0, paramTypes.length);
  paramTypes.forEach((t, i) => writeU16(info, 4 + 2 * i, t));
  return { code: CAUSE.MISSING_MANDATORY_PARAMETER, info };
}

/** The parameter types listed in a Missing Mandatory Parameter cause. */
export function parseMissingMandatoryParameter(c: ErrorCause): number[] {
  expectInfo(c, 4, "Missing Mandatory Parameter");
  const n = readU32(c.info, 0);
  if (n > (c.info.length - 4) / 2) {
    throw new SctpDecodeError("cause-length-mismatch", `SCTP Missing Mandatory Parameter cause lists ${n} types in ${c.info.length - 4} bytes`);
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(readU16(c.info, 4 + 2 * i));
  return out;
}

/** Stale Cookie Error (§3.3.10.3): how late the cookie was, in microseconds (saturates at 2^32-1). */
export function staleCookieCause(stalenessMicros: number): ErrorCause {
  return { code: CAUSE.STALE_COOKIE, info: u32(Math.min(Math.max(0, Math.round(stalenessMicros)), 0xffffffff)) };
}

/** The staleness, in microseconds, of a Stale Cookie Error cause. */
export function parseStaleCookie(c: ErrorCause): number {
  expectInfo(c, 4, "Stale Cookie");
  return readU32(c.info, 0);
}

/** Out of Resource (§3.3.10.4): no information. */
export function outOfResourceCause(): ErrorCause {
  return { code: CAUSE.OUT_OF_RESOURCE, info: new Uint8Array(0) };
}

/**
 * Unrecognized Chunk Type (§3.3.10.6): carries the unrecognized chunk
 * complete with its type, flags and length — give the decoded
 * {@link UnknownChunk} or its raw bytes.
 */
export function unrecognizedChunkTypeCause(chunk: UnknownChunk | Uint8Array): ErrorCause {
  if (chunk instanceof Uint8Array) return { code: CAUSE.UNRECOGNIZED_CHUNK_TYPE, info: chunk };
  const info = new Uint8Array(4 + chunk.value.length);
  info[0] = chunk.type;
  info[1] = chunk.flags;
  writeU16(info, 2, Math.min(info.length, 0xffff));
  info.set(chunk.value, 4);
  return { code: CAUSE.UNRECOGNIZED_CHUNK_TYPE, info };
}

/** Type, flags and value of the chunk in an Unrecognized Chunk Type cause (value clipped to its Length). */
export function parseUnrecognizedChunkType(c: ErrorCause): UnknownChunk {
  expectInfo(c, 4, "Unrecognized Chunk Type");
  const len = Math.max(4, Math.min(readU16(c.info, 2), c.info.length));
  return { type: c.info[0], flags: c.info[1], value: c.info.subarray(4, len), unknown: true };
}

/** Invalid Mandatory Parameter (§3.3.10.7): no information. */
export function invalidMandatoryParameterCause(): ErrorCause {
  return { code: CAUSE.INVALID_MANDATORY_PARAMETER, info: new Uint8Array(0) };
}

/** Unrecognized Parameters (§3.3.10.8): the unrecognized parameters, TLVs as received. */
export function unrecognizedParametersCause(params: readonly Param[]): ErrorCause {
  return { code: CAUSE.UNRECOGNIZED_PARAMETERS, info: encodeParams(params) };
}

/** The parameters in an Unrecognized Parameters cause. */
export function parseUnrecognizedParameters(c: ErrorCause): Param[] {
  return decodeParams(c.info);
}

/** No User Data (§3.3.10.9): the TSN of the DATA chunk that had none. */
export function noUserDataCause(tsn: number): ErrorCause {
  return { code: CAUSE.NO_USER_DATA, info: u32(tsn) };
}

/** The TSN in a No User Data cause. */
export function parseNoUserData(c: ErrorCause): number {
  expectInfo(c, 4, "No User Data");
  return readU32(c.info, 0);
}

/** Cookie Received While Shutting Down (§3.3.10.10): no information. */
export function cookieWhileShuttingDownCause(): ErrorCause {
  return { code: CAUSE.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN, info: new Uint8Array(0) };
}

/** User-Initiated Abort (§3.3.10.12): the application's reason, UTF-8. */
export function userInitiatedAbortCause(reason: string): ErrorCause {
  return { code: CAUSE.USER_INITIATED_ABORT, info: utf8.encode(reason) };
}

/** Protocol Violation (§3.3.10.13): what was violated, as text. */
export function protocolViolationCause(text: string): ErrorCause {
  return { code: CAUSE.PROTOCOL_VIOLATION, info: utf8.encode(text) };
}

/** The information of a cause as text (for User-Initiated Abort and Protocol Violation; invalid UTF-8 becomes U+FFFD). */
export function causeText(c: ErrorCause): string {
  return utf8Decoder.decode(c.info);
}

const CAUSE_NAMES: Record<number, string> = {
  [CAUSE.INVALID_STREAM_IDENTIFIER]: "Invalid Stream Identifier",
  [CAUSE.MISSING_MANDATORY_PARAMETER]: "Missing Mandatory Parameter",
  [CAUSE.STALE_COOKIE]: "Stale Cookie Error",
  [CAUSE.OUT_OF_RESOURCE]: "Out of Resource",
  [CAUSE.UNRESOLVABLE_ADDRESS]: "Unresolvable Address",
  [CAUSE.UNRECOGNIZED_CHUNK_TYPE]: "Unrecognized Chunk Type",
  [CAUSE.INVALID_MANDATORY_PARAMETER]: "Invalid Mandatory Parameter",
  [CAUSE.UNRECOGNIZED_PARAMETERS]: "Unrecognized Parameters",
  [CAUSE.NO_USER_DATA]: "No User Data",
  [CAUSE.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN]: "Cookie Received While Shutting Down",
  [CAUSE.RESTART_WITH_NEW_ADDRESSES]: "Restart of an Association with New Addresses",
  [CAUSE.USER_INITIATED_ABORT]: "User-Initiated Abort",
  [CAUSE.PROTOCOL_VIOLATION]: "Protocol Violation",
};

/**
 * One line describing a cause, for logs and error messages; never throws.
 *
 * @example
 * ```ts
 * describeCause(userInitiatedAbortCause("disk full")); // "User-Initiated Abort: disk full"
 * ```
 */
export function describeCause(c: ErrorCause): string {
  const name = CAUSE_NAMES[c.code] ?? `cause ${c.code}`;
  try {
    switch (c.code) {
      case CAUSE.USER_INITIATED_ABORT:
      case CAUSE.PROTOCOL_VIOLATION: {
        const text = causeText(c).replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 200);
        return text ? `${name}: ${text}` : name;
      }
      case CAUSE.INVALID_STREAM_IDENTIFIER:
        return `${name}: stream ${parseInvalidStreamIdentifier(c)}`;
      case CAUSE.STALE_COOKIE:
        return `${name}: ${parseStaleCookie(c)} µs late`;
      case CAUSE.NO_USER_DATA:
        return `${name}: TSN ${parseNoUserData(c)}`;
      case CAUSE.MISSING_MANDATORY_PARAMETER:
        return `${name}: ${parseMissingMandatoryParameter(c).join(", ")}`;
      case CAUSE.UNRECOGNIZED_CHUNK_TYPE:
        return `${name}: ${parseUnrecognizedChunkType(c).type}`;
      case CAUSE.UNRECOGNIZED_PARAMETERS:
        return `${name}: ${parseUnrecognizedParameters(c).map((p) => p.type).join(", ")}`;
      default:
        return name;
    }
  } catch {
    return `${name} (malformed)`;
  }
}
