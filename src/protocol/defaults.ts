/**
 * Every protocol constant and limit, in one place: the version, the stream
 * layout, message and field bounds. Server limits that an operator may change
 * (max clients, max file size, timeouts) live in `src/pairing/defaults.ts`.
 *
 * @module
 */

/**
 * The sfx protocol version. A peer with a different version is refused with
 * `SFX_INCOMPATIBLE_VERSION`, naming both versions. Bump it on any change a
 * peer of the previous version would misread.
 *
 * 2: offers carry each file's modification time, and accept/start the files
 * the receiver resumes (an interrupted exchange continues where it stopped).
 * 3: a share download counts once the client says `share.received` (or,
 * leaving without it, once its transport acknowledged everything), not once
 * the server has sent the last byte.
 * 4: an exchange's files are enciphered end to end: the offer commits to the
 * sender's key, accept and start carry the receiver's, `key` reveals the
 * sender's, and `end` carries a tag of the file's hash (exchange_crypto.ts).
 * 5: shares are enciphered end to end: the client makes the code and sends
 * its lookup (`share.put`, `share.ls`, `share.get`), its files' bytes are
 * enciphered, and `share.seal` gives the server their list sealed.
 * 6: receive codes: an offer may carry the sender's CPace share over the
 * code's secret digits (`pake`), accept and start the receiver's with its
 * tag (`pake`, `confirm`), and `key` the sender's tag (exchange_code.ts).
 * 7: send codes: a sender given no receiver says `pullable`, a receiver that
 * typed its code sends `pull` and proves the code (`pull.share`,
 * `pull.proof`), and the sender offers its files to it, keyed with its code
 * (`offer.confirm`), or refuses (`pull.refused`; exchange_code.ts).
 */
export const PROTOCOL_VERSION = 7;

/**
 * How long each step of a pull may take (see docs/protocol.md, Exchange by a sender's code): the
 * sender's share after the pull, the receiver's proof after the share, the sender's offer after
 * the proof; and how long the server holds a sender for one pull. Each is one round trip and a
 * CPace computation, so this is for an end that says nothing.
 */
export const PULL_ANSWER_MS = 20_000;

/** Stream 0 carries control messages, one SCTP user message each. */
export const CONTROL_STREAM = 0;

/** The first data stream; file bytes travel on streams ≥ 1. */
export const FIRST_DATA_STREAM = 1;

/** SCTP payload protocol identifier of a control message ("SFX1" in ASCII). */
export const CONTROL_PPID = 0x5346_5831;

/**
 * Size of the data messages a sender cuts a file into: 64 KiB less 64 bytes,
 * so that one message plus its SCTP headers (12-byte common header, 16- or
 * 20-byte DATA / I-DATA chunk header) fits the largest packet loopback
 * carries (65,504 bytes): a full 64 KiB message would need a second, tiny
 * packet each time (measured: about +20% goodput on loopback). On smaller
 * paths messages are fragmented to the path MTU either way.
 */
export const DATA_MESSAGE_BYTES = 64 * 1024 - 64;

/** Largest control message accepted (encoded JSON, UTF-8). */
export const MAX_CONTROL_BYTES = 1024 * 1024;

/** Longest relative path in an offer, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4096;

/** Longest single path segment (a file or directory name), in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 255;

/** Most files in one offer. Also bounded by {@link MAX_CONTROL_BYTES}. */
export const MAX_FILES_PER_OFFER = 10_000;

/** Longest free-text field (an error message, a reason, a server name). */
export const MAX_TEXT_BYTES = 1024;

/** Streams a client asks for when it connects (control + data streams). */
export const STREAMS = 16;

/**
 * Data messages carry the exchange and the file in their PPID:
 * the top {@link PPID_TAG_BITS} bits are the exchange id modulo 2^bits (so
 * late bytes of a finished exchange are never mistaken for the next one's),
 * the low bits are the file's index in the offer plus one.
 */
export const PPID_TAG_BITS = 11;
/** Bits of the file index part of a data PPID. */
export const PPID_FILE_BITS = 32 - PPID_TAG_BITS - 1;

/**
 * How long an sfx endpoint (client or server) waits on a silent peer before
 * declaring the association dead (the SCTP stack's `failureTimeoutMs`, whose
 * default is the same): relayed through the server, the surviving side of a
 * killed peer hears of it within 30 s.
 */
export const PEER_FAILURE_TIMEOUT_MS = 20_000;

/** Digits in a client ID ("482 913"), which the server gives out; a receive code is one and six digits more. */
export const ID_DIGITS = 6;
