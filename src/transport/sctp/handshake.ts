/**
 * Helpers shared by the endpoint (stateless INIT → INIT ACK) and the
 * association (INIT ACK → COOKIE ECHO, INIT collisions): reading INIT
 * parameters under the upper-two-bits rules of RFC 9260 §3.2.1, and the
 * error causes this stack sends (§3.3.10).
 *
 * @module
 */

import { CAUSE, CHUNK, PARAM, type ErrorCause, type InitChunk, type Param } from "./chunk_types.ts";

/** What we learned from the optional parameters of an INIT or INIT ACK. */
export interface InitParams {
  /** The State Cookie (INIT ACK only). */
  cookie: Uint8Array | undefined;
  /** The peer listed I-DATA in Supported Extensions (RFC 8260 §2.2). */
  idata: boolean;
  /** Unrecognized parameters to report (§3.2.2), as full TLVs. */
  unrecognized: Uint8Array[];
  /** A parameter whose upper bits say "stop" was met (§3.2.1: 00 or 01). */
  stopped: boolean;
  /** A parameter the sender must not send us (e.g. a State Cookie in an INIT) or a malformed one. */
  invalid: boolean;
}

/** Parameter types we understand in INIT / INIT ACK (their values may simply be ignored). */
const KNOWN_INIT_PARAMS = new Set<number>([
  PARAM.IPV4_ADDRESS,
  PARAM.IPV6_ADDRESS,
  PARAM.STATE_COOKIE,
  PARAM.UNRECOGNIZED_PARAMETER,
  PARAM.COOKIE_PRESERVATIVE,
  PARAM.HOST_NAME_ADDRESS,
  PARAM.SUPPORTED_ADDRESS_TYPES,
  PARAM.ECN_CAPABLE,
  PARAM.SUPPORTED_EXTENSIONS,
  PARAM.FORWARD_TSN_SUPPORTED,
  PARAM.PAD,
]);

/** Encodes one parameter as a full TLV (header + value + padding). */
export function paramTlv(p: Param): Uint8Array {
  const len = 4 + p.value.length;
  const out = new Uint8Array((len + 3) & ~3);
  out[0] = p.type >>> 8;
  out[1] = p.type & 0xff;
  out[2] = len >>> 8;
  out[3] = len & 0xff;
  out.set(p.value, 4);
  return out;
}

/**
 * Walks the optional parameters of an INIT (`isAck` false) or INIT ACK,
 * applying §3.2.1's rules for unrecognized types: 00 stop, 01 stop and
 * report, 10 skip, 11 skip and report.
 */
export function readInitParams(chunk: InitChunk, isAck: boolean): InitParams {
  const out: InitParams = { cookie: undefined, idata: false, unrecognized: [], stopped: false, invalid: false };
  for (const p of chunk.params) {
    if (!KNOWN_INIT_PARAMS.has(p.type)) {
      const action = p.type >>> 14;
      if (action === 1 || action === 3) out.unrecognized.push(paramTlv(p));
      if (action <= 1) {
        out.stopped = true;
        break;
      }
      continue;
    }
    switch (p.type) {
      case PARAM.STATE_COOKIE:
        if (!isAck) out.invalid = true;
        else out.cookie = p.value;
        break;
      case PARAM.SUPPORTED_EXTENSIONS:
        for (const t of p.value) if (t === CHUNK.I_DATA) out.idata = true;
        break;
      default:
        break;
    }
  }
  return out;
}

/** The Supported Extensions parameter advertising I-DATA (RFC 8260 §2.2, RFC 5061 §4.2.7). */
export function supportedExtensionsParam(idata: boolean): Param[] {
  return idata ? [{ type: PARAM.SUPPORTED_EXTENSIONS, value: Uint8Array.of(CHUNK.I_DATA) }] : [];
}

const utf8 = new TextEncoder();

/** §3.3.10.12 User-Initiated Abort, with the reason as UTF-8 (at most 200 bytes). */
export function userAbortCause(reason: string): ErrorCause {
  return { code: CAUSE.USER_INITIATED_ABORT, info: utf8.encode(reason).subarray(0, 200) };
}

/** §3.3.10.13 Protocol Violation, with a short explanation. */
export function protocolViolationCause(what: string): ErrorCause {
  return { code: CAUSE.PROTOCOL_VIOLATION, info: utf8.encode(what).subarray(0, 200) };
}

/** §3.3.10.1 Invalid Stream Identifier. */
export function invalidStreamCause(streamId: number): ErrorCause {
  return { code: CAUSE.INVALID_STREAM_IDENTIFIER, info: Uint8Array.of(streamId >>> 8, streamId & 0xff, 0, 0) };
}

/** §3.3.10.3 Stale Cookie Error, staleness in microseconds. */
export function staleCookieCause(stalenessUs: number): ErrorCause {
  const info = new Uint8Array(4);
  new DataView(info.buffer).setUint32(0, Math.min(0xffffffff, Math.max(0, Math.round(stalenessUs))));
  return { code: CAUSE.STALE_COOKIE, info };
}

/** §3.3.10.9 No User Data, for the TSN of an empty DATA chunk. */
export function noUserDataCause(tsn: number): ErrorCause {
  const info = new Uint8Array(4);
  new DataView(info.buffer).setUint32(0, tsn >>> 0);
  return { code: CAUSE.NO_USER_DATA, info };
}

/** §3.3.10.2 Missing Mandatory Parameter. */
export function missingParamCause(types: number[]): ErrorCause {
  const info = new Uint8Array(4 + 2 * types.length);
  const v = new DataView(info.buffer);
  v.setUint32(0, types.length);
  types.forEach((t, i) => v.setUint16(4 + 2 * i, t));
  return { code: CAUSE.MISSING_MANDATORY_PARAMETER, info };
}

/** §3.3.10.7 Invalid Mandatory Parameter. */
export function invalidMandatoryParamCause(): ErrorCause {
  return { code: CAUSE.INVALID_MANDATORY_PARAMETER, info: new Uint8Array(0) };
}

/** §3.3.10.6 Unrecognized Chunk Type: the whole chunk (header and value) as received. */
export function unrecognizedChunkCause(type: number, flags: number, value: Uint8Array): ErrorCause {
  const len = 4 + value.length;
  const info = new Uint8Array((len + 3) & ~3);
  info[0] = type;
  info[1] = flags;
  info[2] = len >>> 8;
  info[3] = len & 0xff;
  info.set(value, 4);
  return { code: CAUSE.UNRECOGNIZED_CHUNK_TYPE, info };
}

/** §3.3.10.8 Unrecognized Parameters: the parameters' TLVs. */
export function unrecognizedParamsCause(tlvs: Uint8Array[]): ErrorCause {
  let n = 0;
  for (const t of tlvs) n += t.length;
  const info = new Uint8Array(n);
  let off = 0;
  for (const t of tlvs) info.set(t, off), off += t.length;
  return { code: CAUSE.UNRECOGNIZED_PARAMETERS, info };
}

/** A readable summary of error causes, for close reasons and logs. */
export function describeCauses(causes: ErrorCause[]): string {
  const names: Record<number, string> = {
    1: "invalid stream identifier",
    2: "missing mandatory parameter",
    3: "stale cookie",
    4: "out of resource",
    5: "unresolvable address",
    6: "unrecognized chunk type",
    7: "invalid mandatory parameter",
    8: "unrecognized parameters",
    9: "no user data",
    10: "cookie received while shutting down",
    11: "restart with new addresses",
    12: "user-initiated abort",
    13: "protocol violation",
  };
  return causes.map((c) => {
    const name = names[c.code] ?? `cause ${c.code}`;
    if (c.code === CAUSE.USER_INITIATED_ABORT || c.code === CAUSE.PROTOCOL_VIOLATION) {
      const text = new TextDecoder("utf-8", { fatal: false }).decode(c.info).replace(/[\u0000-\u001f\u007f]/g, "");
      return text ? `${name}: ${text}` : name;
    }
    return name;
  }).join("; ");
}

/** A random non-zero 32-bit value (verification tags must not be 0, RFC 9260 §5.3.1). */
export function randomTag(): number {
  const a = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(a);
    if (a[0] !== 0) return a[0];
  }
}

/** A random 32-bit value (initial TSNs). */
export function random32(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}
