/**
 * The decoded shapes of SCTP chunks, parameters and error causes (RFC 9260
 * §3.3, RFC 8260 I-DATA, RFC 3758 FORWARD-TSN, RFC 4820 PAD). The codecs
 * (`chunk_*.ts`) turn bytes into these plain objects and back; the
 * association works only with these objects.
 *
 * TSNs, tags and PPIDs are unsigned 32-bit numbers (0 … 2^32-1).
 *
 * @module
 */

/** Chunk type numbers (RFC 9260 §3.2, RFC 8260, RFC 3758, RFC 4820, RFC 6525). */
export const CHUNK = {
  DATA: 0,
  INIT: 1,
  INIT_ACK: 2,
  SACK: 3,
  HEARTBEAT: 4,
  HEARTBEAT_ACK: 5,
  ABORT: 6,
  SHUTDOWN: 7,
  SHUTDOWN_ACK: 8,
  ERROR: 9,
  COOKIE_ECHO: 10,
  COOKIE_ACK: 11,
  ECNE: 12,
  CWR: 13,
  SHUTDOWN_COMPLETE: 14,
  I_DATA: 64,
  RE_CONFIG: 130,
  PAD: 132,
  FORWARD_TSN: 192,
  I_FORWARD_TSN: 194,
} as const;

/** Parameter type numbers used by INIT/INIT ACK/HEARTBEAT (RFC 9260 §3.3.2.1, RFC 5061, RFC 3758, RFC 4820). */
export const PARAM = {
  HEARTBEAT_INFO: 1,
  IPV4_ADDRESS: 5,
  IPV6_ADDRESS: 6,
  STATE_COOKIE: 7,
  UNRECOGNIZED_PARAMETER: 8,
  COOKIE_PRESERVATIVE: 9,
  HOST_NAME_ADDRESS: 11,
  SUPPORTED_ADDRESS_TYPES: 12,
  ECN_CAPABLE: 0x8000,
  RANDOM: 0x8002,
  CHUNK_LIST: 0x8003,
  PAD: 0x8005,
  SUPPORTED_EXTENSIONS: 0x8008,
  FORWARD_TSN_SUPPORTED: 0xc000,
} as const;

/** Error cause codes (RFC 9260 §3.3.10). */
export const CAUSE = {
  INVALID_STREAM_IDENTIFIER: 1,
  MISSING_MANDATORY_PARAMETER: 2,
  STALE_COOKIE: 3,
  OUT_OF_RESOURCE: 4,
  UNRESOLVABLE_ADDRESS: 5,
  UNRECOGNIZED_CHUNK_TYPE: 6,
  INVALID_MANDATORY_PARAMETER: 7,
  UNRECOGNIZED_PARAMETERS: 8,
  NO_USER_DATA: 9,
  COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: 10,
  RESTART_WITH_NEW_ADDRESSES: 11,
  USER_INITIATED_ABORT: 12,
  PROTOCOL_VIOLATION: 13,
} as const;

/** A TLV parameter, value without its 4-byte header or padding. */
export interface Param {
  type: number;
  value: Uint8Array;
}

/** An error cause, info without its 4-byte header or padding. */
export interface ErrorCause {
  code: number;
  info: Uint8Array;
}

/** DATA (RFC 9260 §3.3.1). `immediate` is the I bit of RFC 7053. */
export interface DataChunk {
  type: 0;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  immediate: boolean;
  tsn: number;
  streamId: number;
  ssn: number;
  ppid: number;
  userData: Uint8Array;
}

/** I-DATA (RFC 8260 §2.1): `ppid` is meaningful when `beginning`, `fsn` otherwise. */
export interface IDataChunk {
  type: 64;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  immediate: boolean;
  tsn: number;
  streamId: number;
  mid: number;
  ppid: number;
  fsn: number;
  userData: Uint8Array;
}

/** INIT (§3.3.2) and INIT ACK (§3.3.3): same fixed part, optional parameters. */
export interface InitChunk {
  type: 1 | 2;
  initiateTag: number;
  aRwnd: number;
  outboundStreams: number;
  inboundStreams: number;
  initialTsn: number;
  params: Param[];
}

/** SACK (§3.3.4). Gap blocks are offsets from `cumulativeTsnAck`, inclusive. */
export interface SackChunk {
  type: 3;
  cumulativeTsnAck: number;
  aRwnd: number;
  gapBlocks: Array<{ start: number; end: number }>;
  duplicateTsns: number[];
}

/** HEARTBEAT (§3.3.5) / HEARTBEAT ACK (§3.3.6): the Heartbeat Info value, plus
 * (HEARTBEAT only) `padding` bytes of a PAD parameter (RFC 4820) for PLPMTUD probes. */
export interface HeartbeatChunk {
  type: 4 | 5;
  info: Uint8Array;
  padding?: number;
}

/** ABORT (§3.3.7) and ERROR (§3.3.10). `tBit`: the tag is reflected (ABORT only). */
export interface AbortChunk {
  type: 6;
  tBit: boolean;
  causes: ErrorCause[];
}

/** ERROR (§3.3.10). */
export interface ErrorChunk {
  type: 9;
  causes: ErrorCause[];
}

/** SHUTDOWN (§3.3.8). */
export interface ShutdownChunk {
  type: 7;
  cumulativeTsnAck: number;
}

/** SHUTDOWN ACK (§3.3.9), COOKIE ACK (§3.3.12): no value. */
export interface EmptyChunk {
  type: 8 | 11;
}

/** SHUTDOWN COMPLETE (§3.3.13). */
export interface ShutdownCompleteChunk {
  type: 14;
  tBit: boolean;
}

/** COOKIE ECHO (§3.3.11). */
export interface CookieEchoChunk {
  type: 10;
  cookie: Uint8Array;
}

/** FORWARD TSN (RFC 3758 §3.2). */
export interface ForwardTsnChunk {
  type: 192;
  newCumulativeTsn: number;
  streams: Array<{ streamId: number; ssn: number }>;
}

/** PAD (RFC 4820 §3): `length` bytes of padding value. */
export interface PadChunk {
  type: 132;
  length: number;
}

/** ECNE, ECN Echo (RFC 9260 Appendix A): the lowest TSN of a CE-marked packet. */
export interface EcneChunk {
  type: 12;
  lowestTsn: number;
}

/** CWR, Congestion Window Reduced (RFC 9260 Appendix A): answers ECNE. */
export interface CwrChunk {
  type: 13;
  lowestTsn: number;
}

/** I-FORWARD-TSN (RFC 8260 §2.3.1): FORWARD TSN for I-DATA, per stream and ordered/unordered MID. */
export interface IForwardTsnChunk {
  type: 194;
  newCumulativeTsn: number;
  streams: Array<{ streamId: number; unordered: boolean; mid: number }>;
}

/** Any other chunk type, kept raw so the association can apply §3.2's upper-two-bit rules. */
export interface UnknownChunk {
  type: number;
  flags: number;
  value: Uint8Array;
  unknown: true;
}

/** Every decoded chunk. */
export type Chunk =
  | DataChunk
  | IDataChunk
  | InitChunk
  | SackChunk
  | HeartbeatChunk
  | AbortChunk
  | ErrorChunk
  | ShutdownChunk
  | EmptyChunk
  | ShutdownCompleteChunk
  | CookieEchoChunk
  | ForwardTsnChunk
  | PadChunk
  | EcneChunk
  | CwrChunk
  | IForwardTsnChunk
  | UnknownChunk;

/** An SCTP packet: common header (§3.1) and its chunks. */
export interface Packet {
  srcPort: number;
  dstPort: number;
  verificationTag: number;
  chunks: Chunk[];
}
