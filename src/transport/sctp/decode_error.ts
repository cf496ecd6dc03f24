/**
 * The one error the SCTP decoders throw. Anything malformed — a length field
 * that overruns the bytes, a chunk shorter than its type's minimum, a bad
 * checksum — becomes an `SctpDecodeError`, never a `RangeError` or
 * `TypeError`, so the association can drop the packet (RFC 9260 §6.8, §8.4)
 * with one `instanceof` check.
 *
 * @module
 */

/**
 * A malformed SCTP packet, chunk, parameter or error cause.
 *
 * `reason` is a short stable code: `short-packet`, `bad-checksum`,
 * `no-chunks`, `chunk-truncated`, `chunk-too-short`, `chunk-length-mismatch`,
 * `trailing-bytes`, `param-truncated`, `param-too-short`, `param-length-mismatch`,
 * `cause-truncated`, `cause-too-short`, `cause-length-mismatch`,
 * `missing-parameter`.
 *
 * @example
 * ```ts
 * try { decodePacket(datagram); } catch (e) {
 *   if (e instanceof SctpDecodeError) stats.dropped[e.reason]++; else throw e;
 * }
 * ```
 */
export class SctpDecodeError extends Error {
  /** Stable short code of what was wrong (see the class doc). */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.name = "SctpDecodeError";
    this.reason = reason;
  }
}
