/**
 * The discovery wire format: a query (client → group or server) and a reply
 * (server → the query's source, by unicast). Both start with the same
 * 8-byte header:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |     0x00      |     0x00      |   0x73 's'    |   0x66 'f'    |
 * +---------------+---------------+---------------+---------------+
 * |   0x78 'x'    |   0x64 'd'    |  Version = 1  |  Type (1 | 2) |
 * +---------------+---------------+---------------+---------------+
 * |                                                               |
 * |                     Nonce (16 bytes)                          |
 * |                                                               |
 * +---------------+---------------+---------------+---------------+
 * |    Query only: zero padding up to 512 bytes in all …          |
 * +---------------+---------------+---------------+---------------+
 * ```
 *
 * The magic starts with two zero bytes: read as an SCTP common header
 * (RFC 9260 §3.1) that is source port 0, which "MUST NOT be used", so a
 * discovery datagram can never be mistaken for SCTP on the shared port
 * (and vice versa).
 *
 * A query is the header and the nonce, then zeros up to exactly
 * {@link QUERY_BYTES} (512) bytes. The padding is there so that a reply is
 * never larger than the query that asked for it: a server reachable by
 * unicast cannot be used to amplify traffic towards a spoofed source. A reply
 * echoes the query's nonce and continues:
 *
 * ```
 * +---------------+---------------+---------------+---------------+
 * |                  Instance ID (8 random bytes)                 |
 * |                                                               |
 * +---------------+---------------+---------------+---------------+
 * |        Port (SCTP/UDP)        |   Name Len    |  Name (UTF-8) …
 * +---------------+---------------+---------------+---------------+
 * |  Version Len  | sfx version (UTF-8) …         | Address Count |
 * +---------------+---------------+---------------+---------------+
 * | Family (4|6)  | Address (4 or 16 bytes) …  (repeated)         |
 * +---------------+---------------+---------------+---------------+
 * ```
 *
 * Decoding is strict: every length is checked against the bytes present,
 * the datagram must end exactly where the message does, and anything wrong
 * throws a {@link DiscoveryDecodeError} naming the reason (the responder and
 * searcher count drops by that reason).
 *
 * @module
 */
import { truncateUtf8, UNPRINTABLE_CHARS } from "../protocol/schema.ts";
import { SfxError } from "../errors.ts";
import { MAX_ADDRESSES, MAX_DISCOVERY_DATAGRAM, MAX_NAME_BYTES, MAX_VERSION_BYTES } from "./defaults.ts";

/** The 6-byte magic every discovery datagram starts with. */
export const DISCOVERY_MAGIC: Uint8Array = Uint8Array.of(0x00, 0x00, 0x73, 0x66, 0x78, 0x64);

/** The wire format version this code speaks. */
export const DISCOVERY_VERSION = 1;

/** Message types. */
export const DISCOVERY_TYPE = { QUERY: 1, REPLY: 2 } as const;

/** Bytes in a nonce. */
export const NONCE_BYTES = 16;

/** Bytes in a server instance ID. */
export const INSTANCE_ID_BYTES = 8;

const HEADER_BYTES = 8;
/** Header and nonce: where a reply's own fields start. */
const PREFIX_BYTES = HEADER_BYTES + NONCE_BYTES;

/** The exact size of a query, padding included: the largest datagram accepted, so no reply outgrows it. */
export const QUERY_BYTES = MAX_DISCOVERY_DATAGRAM;

/**
 * Why a datagram was dropped: `oversized`, `foreign` (not discovery),
 * `version` (another wire version), `malformed`, `unexpected` (a reply sent
 * to a responder), `source` (a query from where no reply may go: a
 * multicast, broadcast or unspecified address, or port 0).
 */
export type DropReason = "oversized" | "foreign" | "version" | "malformed" | "unexpected" | "source";

/** A discovery datagram that cannot be decoded. */
export class DiscoveryDecodeError extends SfxError {
  /** Why it was rejected, for the drop counters. */
  readonly reason: DropReason;

  constructor(reason: DropReason, message: string) {
    super("SFX_PROTOCOL", `Bad discovery datagram: ${message}`);
    this.name = "DiscoveryDecodeError";
    this.reason = reason;
  }
}

/** A search query. */
export interface DiscoveryQuery {
  type: "query";
  /** 16 random bytes the reply echoes. */
  nonce: Uint8Array;
}

/** A server's answer to a query. */
export interface DiscoveryReply {
  type: "reply";
  /** The query's nonce. */
  nonce: Uint8Array;
  /** 8 random bytes chosen when the server started: the same server on several paths answers with one ID. */
  instanceId: Uint8Array;
  /** The UDP port of the server's SCTP endpoint. */
  port: number;
  /** The server's name (1–64 UTF-8 bytes, no control characters). */
  name: string;
  /** The server's sfx version. */
  version: string;
  /** The server's own addresses (IPv4 dotted, IPv6 in RFC 5952 text). */
  addresses: string[];
}

/** A decoded discovery message. */
export type DiscoveryMessage = DiscoveryQuery | DiscoveryReply;

/**
 * True when `data` starts with the discovery magic: the test a shared socket
 * uses to route a datagram to the responder rather than to SCTP.
 */
export function isDiscoveryDatagram(data: Uint8Array): boolean {
  if (data.length < DISCOVERY_MAGIC.length) return false;
  for (let i = 0; i < DISCOVERY_MAGIC.length; i++) if (data[i] !== DISCOVERY_MAGIC[i]) return false;
  return true;
}

function writeHeader(out: Uint8Array, type: number, nonce: Uint8Array): void {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
  out.set(DISCOVERY_MAGIC, 0);
  out[6] = DISCOVERY_VERSION;
  out[7] = type;
  out.set(nonce, HEADER_BYTES);
}

/** Encodes a query carrying `nonce` (16 bytes), zero-padded to {@link QUERY_BYTES}. */
export function encodeQuery(nonce: Uint8Array): Uint8Array {
  const out = new Uint8Array(QUERY_BYTES);
  writeHeader(out, DISCOVERY_TYPE.QUERY, nonce);
  return out;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
// Control and invisible characters (UNPRINTABLE_CHARS): a name printed to a terminal must neither
// carry escapes nor read as something else (an address, another column, another name).
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE_CHARS.source, "g");

/** Text that starts or ends with white space, or has a run of it. */
export const PADDED = /^\s|\s$|\s\s/;

/**
 * `text` as the decoder takes it: controls replaced by '?', spaces trimmed and
 * runs of them made one, cut to at most `max` bytes of UTF-8 on a character
 * boundary (and trimmed again: a cut after a space would leave one at the
 * end).
 */
function boundedUtf8(text: string, max: number): Uint8Array {
  const clean = text.replace(UNPRINTABLE_ALL, "?").trim().replace(/\s+/g, " ");
  return encoder.encode(truncateUtf8(clean, max).trimEnd());
}

/**
 * Encodes a reply. The name and version are cut to their limits, control
 * characters replaced; addresses that do not parse are skipped and at most
 * {@link MAX_ADDRESSES} are kept.
 */
export function encodeReply(reply: Omit<DiscoveryReply, "type">): Uint8Array {
  if (reply.instanceId.length !== INSTANCE_ID_BYTES) throw new RangeError(`instanceId must be ${INSTANCE_ID_BYTES} bytes`);
  if (!Number.isInteger(reply.port) || reply.port < 1 || reply.port > 65535) throw new RangeError(`port ${reply.port} out of range`);
  const name = boundedUtf8(reply.name, MAX_NAME_BYTES);
  if (name.length === 0) throw new RangeError("name must not be empty");
  const version = boundedUtf8(reply.version, MAX_VERSION_BYTES);
  if (version.length === 0) throw new RangeError("version must not be empty");
  const addresses: Uint8Array[] = [];
  for (const text of reply.addresses) {
    if (addresses.length >= MAX_ADDRESSES) break;
    const bytes = parseIpAddress(text);
    if (bytes) addresses.push(bytes);
  }
  const size = PREFIX_BYTES + INSTANCE_ID_BYTES + 2 + 1 + name.length + 1 + version.length + 1 +
    addresses.reduce((n, a) => n + 1 + a.length, 0);
  const out = new Uint8Array(size);
  writeHeader(out, DISCOVERY_TYPE.REPLY, reply.nonce);
  let at = PREFIX_BYTES;
  out.set(reply.instanceId, at);
  at += INSTANCE_ID_BYTES;
  out[at++] = reply.port >> 8;
  out[at++] = reply.port & 0xff;
  out[at++] = name.length;
  out.set(name, at);
  at += name.length;
  out[at++] = version.length;
  out.set(version, at);
  at += version.length;
  out[at++] = addresses.length;
  for (const a of addresses) {
    out[at++] = a.length === 4 ? 4 : 6;
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/**
 * Decodes one discovery datagram.
 *
 * @throws {DiscoveryDecodeError} with reason `oversized` (longer than
 * {@link MAX_DISCOVERY_DATAGRAM}), `foreign` (no magic), `version`
 * (another wire version) or `malformed` (anything else).
 */
export function decodeDiscoveryMessage(data: Uint8Array): DiscoveryMessage {
  if (data.length > MAX_DISCOVERY_DATAGRAM) {
    throw new DiscoveryDecodeError("oversized", `${data.length} bytes, limit ${MAX_DISCOVERY_DATAGRAM}`);
  }
  if (!isDiscoveryDatagram(data)) throw new DiscoveryDecodeError("foreign", "no sfx discovery magic");
  if (data.length < HEADER_BYTES) throw new DiscoveryDecodeError("malformed", `${data.length} bytes, shorter than the header`);
  if (data[6] !== DISCOVERY_VERSION) throw new DiscoveryDecodeError("version", `wire version ${data[6]}, this sfx speaks ${DISCOVERY_VERSION}`);
  if (data.length < PREFIX_BYTES) throw new DiscoveryDecodeError("malformed", `${data.length} bytes, too short for a nonce`);
  const nonce = data.slice(HEADER_BYTES, PREFIX_BYTES);
  const type = data[7];
  if (type === DISCOVERY_TYPE.QUERY) {
    if (data.length !== QUERY_BYTES) throw new DiscoveryDecodeError("malformed", `query of ${data.length} bytes, expected ${QUERY_BYTES} (padded)`);
    for (let i = PREFIX_BYTES; i < data.length; i++) {
      if (data[i] !== 0) throw new DiscoveryDecodeError("malformed", "query padding is not zero");
    }
    return { type: "query", nonce };
  }
  if (type !== DISCOVERY_TYPE.REPLY) throw new DiscoveryDecodeError("malformed", `unknown message type ${type}`);
  const r = new Reader(data, PREFIX_BYTES);
  const instanceId = r.bytes(INSTANCE_ID_BYTES, "instance ID").slice();
  const port = r.u16("port");
  if (port === 0) throw new DiscoveryDecodeError("malformed", "port 0");
  const name = r.text(MAX_NAME_BYTES, "name");
  const version = r.text(MAX_VERSION_BYTES, "version");
  const count = r.u8("address count");
  if (count > MAX_ADDRESSES) throw new DiscoveryDecodeError("malformed", `${count} addresses, limit ${MAX_ADDRESSES}`);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const family = r.u8("address family");
    if (family === 4) addresses.push(formatIPv4(r.bytes(4, "IPv4 address")));
    else if (family === 6) addresses.push(formatIPv6(r.bytes(16, "IPv6 address")));
    else throw new DiscoveryDecodeError("malformed", `address family ${family}`);
  }
  if (!r.atEnd()) throw new DiscoveryDecodeError("malformed", `${data.length - r.at} bytes after the reply`);
  return { type: "reply", nonce, instanceId, port, name, version, addresses };
}

/** A bounds-checked cursor: every read checks the bytes remain first. */
class Reader {
  readonly data: Uint8Array;
  at: number;

  constructor(data: Uint8Array, at: number) {
    this.data = data;
    this.at = at;
  }

  bytes(n: number, what: string): Uint8Array {
    if (this.at + n > this.data.length) {
      throw new DiscoveryDecodeError("malformed", `${what}: needs ${n} bytes, ${this.data.length - this.at} left`);
    }
    const out = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(what: string): number {
    return this.bytes(1, what)[0];
  }

  u16(what: string): number {
    const b = this.bytes(2, what);
    return (b[0] << 8) | b[1];
  }

  text(max: number, what: string): string {
    const len = this.u8(`${what} length`);
    if (len === 0 || len > max) throw new DiscoveryDecodeError("malformed", `${what} of ${len} bytes, allowed 1–${max}`);
    let text: string;
    try {
      text = strictDecoder.decode(this.bytes(len, what));
    } catch (err) {
      if (err instanceof DiscoveryDecodeError) throw err;
      throw new DiscoveryDecodeError("malformed", `${what} is not UTF-8`);
    }
    if (UNPRINTABLE_CHARS.test(text)) throw new DiscoveryDecodeError("malformed", `${what} contains control or invisible characters`);
    // Spaces around it or in a run could pad a name into looking like more columns of a listing.
    if (PADDED.test(text)) throw new DiscoveryDecodeError("malformed", `${what} is padded with spaces`);
    return text;
  }

  atEnd(): boolean {
    return this.at === this.data.length;
  }
}

function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lower case, longest run (≥ 2) of zero groups as `::`. */
function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/**
 * True when a reply may be sent to `address`: a unicast IPv4 or IPv6
 * address. Multicast, broadcast, class E, unspecified and unparsable
 * addresses are refused (a spoofed query must not turn a reply into a
 * multicast or broadcast).
 */
export function isUnicastAddress(address: string): boolean {
  let b = parseIpAddress(address);
  if (!b) return false;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as IPv4.
  if (b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) b = b.subarray(12);
  if (b.every((x) => x === 0)) return false;
  return b.length === 4 ? b[0] < 224 : b[0] !== 0xff;
}

/** Parses dotted IPv4 or textual IPv6 (with `::` and a trailing dotted quad; a `%zone` is dropped). Undefined when it is neither. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  const v4 = parseIPv4(text);
  if (v4) return v4;
  return parseIPv6(text.replace(/%.*$/, ""));
}

function parseIPv4(text: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return undefined;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        groups.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
