/**
 * Variable-length parameters (TLVs) carried by INIT, INIT ACK and HEARTBEAT
 * (RFC 9260 §3.2.1), and helpers for the ones the handshake uses: State
 * Cookie, Heartbeat Info, Unrecognized Parameter, IPv4/IPv6 Address
 * (§3.3.2.1, §3.3.3.1), Supported Extensions (RFC 5061 §4.2.7),
 * Forward-TSN-Supported (RFC 3758 §3.1) and Padding (RFC 4820 §3).
 *
 * Decoded values are `subarray`s of the input: copy them if you keep them
 * beyond the packet's lifetime.
 *
 * RFC 9260 §3.2.1, a parameter:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Parameter Type         |       Parameter Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                        Parameter Value                        /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Parameter Length counts the 4-byte header and the value, not the zero
 * padding up to a multiple of 4 that follows every parameter.
 *
 * @module
 */

import { pad4, readU16, writeU16, zero } from "./bytes.ts";
import { PARAM } from "./chunk_types.ts";
import type { Param } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";

/** Size of a parameter's Type and Length fields. */
export const PARAM_HEADER_SIZE = 4;

/**
 * Bytes the parameters take inside a chunk: each padded to 4 bytes except the
 * last, whose padding RFC 9260 §3.2 leaves out of the Chunk Length (the chunk's
 * own padding covers it).
 */
export function paramsLength(params: readonly Param[]): number {
  let n = 0;
  for (let i = 0; i < params.length; i++) {
    const len = PARAM_HEADER_SIZE + params[i].value.length;
    n += i === params.length - 1 ? len : pad4(len);
  }
  return n;
}

/**
 * Writes `params` at `out[off]`, zero padding between them; returns the offset
 * just after the last parameter's value (its padding not written).
 * @throws RangeError when a parameter exceeds 65,535 bytes.
 */
export function writeParams(out: Uint8Array, off: number, params: readonly Param[]): number {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const len = PARAM_HEADER_SIZE + p.value.length;
    if (len > 0xffff) throw new RangeError(`SCTP parameter ${p.type} is ${len} bytes; the limit is 65535`);
    writeU16(out, off, p.type);
    writeU16(out, off + 2, len);
    out.set(p.value, off + 4);
    off += len;
    if (i !== params.length - 1) {
      const padded = off - len + pad4(len);
      zero(out, off, padded);
      off = padded;
    }
  }
  return off;
}

/**
 * Decodes the parameters in `buf[start, end)`. Every length is checked against
 * the bytes available; the last parameter may omit its padding (§3.2).
 * Unknown types are kept as `{type, value}`.
 * @throws SctpDecodeError on a truncated or overrunning parameter.
 */
export function decodeParamsIn(buf: Uint8Array, start: number, end: number): Param[] {
  const out: Param[] = [];
  let off = start;
  while (off < end) {
    if (end - off < PARAM_HEADER_SIZE) {
      throw new SctpDecodeError("param-truncated", `SCTP parameter header needs 4 bytes at offset ${off}, ${end - off} left`);
    }
    const type = readU16(buf, off);
    const len = readU16(buf, off + 2);
    if (len < PARAM_HEADER_SIZE) {
      throw new SctpDecodeError("param-too-short", `SCTP parameter ${type} has length ${len} (< 4)`);
    }
    if (len > end - off) {
      throw new SctpDecodeError("param-truncated", `SCTP parameter ${type} has length ${len}, only ${end - off} bytes left`);
    }
    out.push({ type, value: buf.subarray(off + PARAM_HEADER_SIZE, off + len) });
    off = Math.min(off + pad4(len), end);
  }
  return out;
}

/**
 * Encodes `params` as a standalone byte string, every parameter padded.
 *
 * @example
 * ```ts
 * const bytes = encodeParams([forwardTsnSupportedParam(), stateCookieParam(cookie)]);
 * ```
 */
export function encodeParams(params: readonly Param[]): Uint8Array {
  const out = new Uint8Array(pad4(paramsLength(params)));
  writeParams(out, 0, params);
  return out;
}

/** Decodes a byte string of parameters (the inverse of {@link encodeParams}); values alias `buf`. */
export function decodeParams(buf: Uint8Array): Param[] {
  return decodeParamsIn(buf, 0, buf.length);
}

/** The first parameter of `type`, or undefined. */
export function findParam(params: readonly Param[], type: number): Param | undefined {
  for (const p of params) if (p.type === type) return p;
  return undefined;
}

function expectLength(p: Param, n: number, what: string): void {
  if (p.value.length !== n) {
    throw new SctpDecodeError("param-length-mismatch", `SCTP ${what} parameter value is ${p.value.length} bytes, expected ${n}`);
  }
}

/** Supported Extensions (RFC 5061 §4.2.7): the chunk types we understand beyond RFC 9260's. */
export function supportedExtensionsParam(chunkTypes: readonly number[]): Param {
  return { type: PARAM.SUPPORTED_EXTENSIONS, value: Uint8Array.from(chunkTypes, (t) => t & 0xff) };
}

/** The chunk types listed in a Supported Extensions parameter. */
export function parseSupportedExtensions(p: Param): number[] {
  return Array.from(p.value);
}

/** Forward-TSN-Supported (RFC 3758 §3.1): no value. */
export function forwardTsnSupportedParam(): Param {
  return { type: PARAM.FORWARD_TSN_SUPPORTED, value: new Uint8Array(0) };
}

/** State Cookie (RFC 9260 §3.3.3.1), carried by INIT ACK. */
export function stateCookieParam(cookie: Uint8Array): Param {
  return { type: PARAM.STATE_COOKIE, value: cookie };
}

/** Heartbeat Info (RFC 9260 §3.3.5): opaque sender data the peer echoes. */
export function heartbeatInfoParam(info: Uint8Array): Param {
  return { type: PARAM.HEARTBEAT_INFO, value: info };
}

/**
 * Unrecognized Parameter (RFC 9260 §3.3.3.1), for INIT ACK or an ERROR cause:
 * its value is the whole unrecognized TLV, header included.
 */
export function unrecognizedParameterParam(unrecognized: Param): Param {
  return { type: PARAM.UNRECOGNIZED_PARAMETER, value: encodeParams([unrecognized]).subarray(0, PARAM_HEADER_SIZE + unrecognized.value.length) };
}

/**
 * Bytes of Unrecognized Parameter reports an INIT ACK carries at most. RFC
 * 9260 §3.2.1 asks for a report of every "skip and report" parameter, with no
 * bound; each report wraps the parameter in 4 more bytes, so an INIT full of
 * empty ones was answered with twice its size. An INIT carries tag 0, so
 * anyone who knows the addresses can send one: to the listener that made the
 * INIT ACK a 2× reflector towards a spoofed address, and to a live
 * association an INIT ACK past the 65,535-byte chunk limit, whose encoding
 * threw and aborted the association.
 */
export const MAX_UNRECOGNIZED_REPORT_BYTES = 512;

/**
 * The Unrecognized Parameter reports for an INIT ACK (§3.2.1): one per
 * parameter, in order, up to {@link MAX_UNRECOGNIZED_REPORT_BYTES}; the rest
 * go unreported.
 */
export function unrecognizedParameterReports(unrecognized: Param[]): Param[] {
  const out: Param[] = [];
  let bytes = 0;
  for (const u of unrecognized) {
    const size = pad4(PARAM_HEADER_SIZE + PARAM_HEADER_SIZE + u.value.length);
    if (bytes + size > MAX_UNRECOGNIZED_REPORT_BYTES) break;
    bytes += size;
    out.push(unrecognizedParameterParam(u));
  }
  return out;
}

/** The parameter wrapped in an Unrecognized Parameter parameter. */
export function parseUnrecognizedParameter(p: Param): Param {
  const inner = decodeParams(p.value);
  if (inner.length !== 1) {
    throw new SctpDecodeError("param-length-mismatch", `SCTP Unrecognized Parameter wraps ${inner.length} parameters, expected 1`);
  }
  return inner[0];
}

/** Padding parameter (RFC 4820 §3): `length` zero bytes of value. */
export function padParam(length: number): Param {
  return { type: PARAM.PAD, value: new Uint8Array(length) };
}

/** IPv4 Address parameter (RFC 9260 §3.3.2.1) from dotted-quad text. */
export function ipv4AddressParam(address: string): Param {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const bytes = m ? m.slice(1).map(Number) : [];
  if (bytes.length !== 4 || bytes.some((b) => b > 255)) throw new TypeError(`Not an IPv4 address: ${address}`);
  return { type: PARAM.IPV4_ADDRESS, value: Uint8Array.from(bytes) };
}

/** The dotted-quad text of an IPv4 Address parameter. */
export function parseIpv4Address(p: Param): string {
  expectLength(p, 4, "IPv4 Address");
  return Array.from(p.value).join(".");
}

/** IPv6 Address parameter (RFC 9260 §3.3.2.1) from RFC 4291 text (`::` and an embedded IPv4 tail allowed). */
export function ipv6AddressParam(address: string): Param {
  const bad = () => new TypeError(`Not an IPv6 address: ${address}`);
  let text = address;
  const groups: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const b = ipv4AddressParam(v4[2]).value;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    text = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const parse = (s: string): number[] =>
    s === "" ? [] : s.split(":").map((h) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) throw bad();
      return parseInt(h, 16);
    });
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) throw bad();
  groups.push(...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail);
  const value = new Uint8Array(16);
  groups.forEach((g, i) => writeU16(value, i * 2, g));
  return { type: PARAM.IPV6_ADDRESS, value };
}

/** The text of an IPv6 Address parameter (eight lowercase groups, longest zero run as `::`). */
export function parseIpv6Address(p: Param): string {
  expectLength(p, 16, "IPv6 Address");
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(readU16(p.value, i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}
