/**
 * The data-stream side of the protocol. File bytes travel on streams ≥ 1 as
 * plain SCTP user messages (no header: the relay forwards them untouched);
 * the PPID says which exchange and which file they belong to:
 *
 * ```
 *  31 30        20 19                                0
 * +--+------------+----------------------------------+
 * |0 | xid tag    |  file index + 1                  |
 * +--+------------+----------------------------------+
 * ```
 *
 * The top bit is always 0 so a data PPID never equals {@link CONTROL_PPID}.
 * SCTP orders messages within a stream only, never across streams: a file's
 * `end` on stream 0 may arrive before its last bytes, so a receiver counts
 * bytes against the size announced in the offer (or in `end` when unknown).
 *
 * @module
 */
import { CONTROL_STREAM, PPID_FILE_BITS, PPID_TAG_BITS } from "./defaults.ts";

const FILE_MASK = 2 ** PPID_FILE_BITS - 1;
const TAG_MASK = 2 ** PPID_TAG_BITS - 1;

/** The PPID of a data message for file `fileIndex` of exchange `xid`. */
export function dataPpid(xid: number, fileIndex: number): number {
  return (((xid & TAG_MASK) << PPID_FILE_BITS) | ((fileIndex + 1) & FILE_MASK)) >>> 0;
}

/** Splits a data PPID into the exchange tag and the file index (−1 when malformed). */
export function parseDataPpid(ppid: number): { tag: number; fileIndex: number } {
  return { tag: (ppid >>> PPID_FILE_BITS) & TAG_MASK, fileIndex: (ppid & FILE_MASK) - 1 };
}

/**
 * Picks the data messages of exchange or request `xid` (for
 * `discardQueued()`): data streams only, by the tag in their PPID; with
 * `fromFile`, only those of that file and the files after it.
 */
export function dataOf(xid: number, fromFile = 0): (streamId: number, ppid: number) => boolean {
  const tag = xidTag(xid);
  return (streamId, ppid) => {
    if (streamId === CONTROL_STREAM) return false;
    const p = parseDataPpid(ppid);
    return p.tag === tag && (fromFile === 0 || p.fileIndex >= fromFile);
  };
}

/** The tag an exchange id gets in data PPIDs. */
export function xidTag(xid: number): number {
  return xid & TAG_MASK;
}

/** Largest exchange or request id (ids are positive 31-bit numbers). */
const MAX_ID = 2 ** 31 - 2;

/**
 * The id after `prev` in the class of ids ≡ `first` (mod 4), from `first` on
 * and back to it past {@link MAX_ID}.
 */
function nextInClass(prev: number, first: 1 | 2 | 3 | 4): number {
  const next = prev < first ? first : prev + 4 - ((prev - first) & 3);
  return next > MAX_ID ? first : next;
}

/**
 * The id after `prev` for an exchange a client offers: 2, 6, 10, … On one
 * connection an exchange's bytes and a share's can be on the wire at once
 * (`sfx client` runs a send beside a share put, a receive beside a share
 * get), and a client that receives may try to send meanwhile (refused, since
 * a client is in one exchange at a time, but the refusal carries the offer's
 * id). So each kind of id has its own class mod 4, which the data tags keep
 * too ({@link xidTag} keeps the low bits): offers 2 (mod 4), the ids the
 * server gives a receiver 0 (mod 4, {@link nextReceiverExchangeId}), share
 * requests odd ({@link nextShareRequestId}). None can be taken for another.
 */
export function nextExchangeId(prev: number): number {
  return nextInClass(prev, 2);
}

/** The id after `prev` that the server gives a receiver's exchange: 4, 8, 12, …; see {@link nextExchangeId}. */
export function nextReceiverExchangeId(prev: number): number {
  return nextInClass(prev, 4);
}

/** The id after `prev` for a share request: odd (1, 3, …); see {@link nextExchangeId}. */
export function nextShareRequestId(prev: number): number {
  const next = prev + 1 + (prev & 1);
  return next > MAX_ID ? 1 : next;
}

/** Rewrites a data PPID to another exchange id, keeping the file index (the relay's one change). */
export function retagPpid(ppid: number, xid: number): number {
  return (((xid & TAG_MASK) << PPID_FILE_BITS) | (ppid & FILE_MASK)) >>> 0;
}
