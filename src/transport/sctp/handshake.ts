/**
 * Helpers shared by the endpoint (stateless INIT → INIT ACK) and the
 * association (INIT ACK → COOKIE ECHO, INIT collisions): reading INIT
 * parameters under the upper-two-bits rules of RFC 9260 §3.2.1, describing
 * error causes, random tags. The causes themselves are built by
 * `error_cause.ts`.
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
  /** Unrecognized parameters to report (§3.2.2). */
  unrecognized: Param[];
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
      if (action === 1 || action === 3) out.unrecognized.push(p);
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

/** The text a User-Initiated Abort or Protocol Violation cause carries, control characters removed. */
export function causeText(c: ErrorCause): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(c.info).replace(/[\u0000-\u001f\u007f]/g, "").trim();
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
      const text = causeText(c);
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
