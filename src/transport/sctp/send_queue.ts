/**
 * Outbound user messages and the stream scheduler. Messages are cut into
 * DATA or I-DATA chunks only when the association is about to send them,
 * so each fragment is sized for the path MTU of that moment (RFC 9260
 * §6.9).
 *
 * Scheduling: with I-DATA (RFC 8260) the streams that have data take turns
 * fragment by fragment, so a big message on one stream never holds up a
 * small one on another. With plain DATA, fragments of one message must
 * carry consecutive TSNs (§6.9), so the streams take turns message by
 * message instead.
 *
 * Interleaving has a limit: a message of several fragments starts only while
 * the messages already started (and not yet all cut) and it add up to no
 * more than the peer's receive window, or when it is the only one. A message
 * that fits in one chunk at the base packet size always may start, so a
 * message larger than the window still does not hold up a small one. The
 * receiver holds every started message until its last fragment arrives;
 * with more started than its window holds, none could complete, and the
 * association stalled for good with the window closed.
 *
 * @module
 */

import { CHUNK } from "./chunk_types.ts";
import { SCTP_DEFAULTS, SCTP_SIZES } from "./defaults.ts";

/**
 * A message sent with `release` frees its buffer only when the message is all
 * of it but at most this many bytes: the packet headers in front of a message
 * received as a view of its datagram (SCTP common header 12 + I-DATA header
 * 20), so a relay can pass received messages on. A slice of Node's 8 KiB
 * Buffer pool (at most 4 KiB) never qualifies.
 */
export const RELEASE_SLACK_BYTES = 32;

/** User data that fits in one I-DATA chunk at the 1200-byte base packet size (less the common and chunk headers). */
const ONE_CHUNK_BYTES = SCTP_DEFAULTS.initialPacketSize - SCTP_SIZES.commonHeader - SCTP_SIZES.idataHeader;

/** A queued user message. */
export interface OutMessage {
  streamId: number;
  data: Uint8Array;
  unordered: boolean;
  ppid: number;
  /** Bytes already cut into chunks. */
  offset: number;
  /** SSN (DATA) or MID (I-DATA), assigned at the first fragment. */
  seq: number;
  /** Next FSN (I-DATA). */
  fsn: number;
  /** The association owns `data`: free its memory once the peer has it all. */
  release: boolean;
}

/**
 * A DATA / I-DATA chunk in flight. It has the codec's chunk shape (so it is
 * encoded as is) plus the sender's bookkeeping.
 */
export interface OutChunk {
  type: 0 | 64;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  immediate: boolean;
  tsn: number;
  streamId: number;
  /** DATA SSN. */
  ssn: number;
  /** I-DATA MID. */
  mid: number;
  ppid: number;
  /** I-DATA FSN. */
  fsn: number;
  userData: Uint8Array;
  /** Encoded size, padded (chunk header + data). */
  size: number;
  /** Clock time of the latest transmission. */
  sentAt: number;
  /** How many times it was sent. */
  transmissions: number;
  /** Acknowledged by a gap block (may be reneged). */
  acked: boolean;
  /** Counted in the flight size. */
  inFlight: boolean;
  /** Miss indications (§7.2.4). */
  misses: number;
  /** Marked for retransmission. */
  marked: boolean;
  /** Already fast-retransmitted once (§7.2.4 step 5). */
  fastRetransmitted: boolean;
  /** Bytes delivered to the peer when it was last sent (delivery-rate sampling, for BBR). */
  deliveredAtSend: number;
  /** Clock time of that delivery count. */
  deliveredTimeAtSend: number;
  /** Send time of the chunk most recently delivered when it was sent (send-interval of the sample). */
  firstSentAtSend: number;
  /** Sent while the sender was application-limited: its rate sample may understate the path. */
  appLimited: boolean;
  /**
   * On the last fragment of a message sent with `release` whose view is its
   * whole buffer (but {@link RELEASE_SLACK_BYTES}): that buffer, to detach once the chunk is cumulatively
   * acknowledged (never on a gap ack: the peer may renege, §6.2).
   */
  release: ArrayBuffer | undefined;
}

interface OutStream {
  id: number;
  queue: OutMessage[];
  head: number;
  ssn: number;
  midOrdered: number;
  midUnordered: number;
  active: boolean;
  /** Messages pushed on this stream, less those discarded. */
  given: number;
}

/** Per-stream queues and the round-robin scheduler. */
export class SendQueue {
  /** Bytes queued and not yet cut into chunks. */
  queuedBytes = 0;
  /** Messages queued and not yet fully cut. */
  queuedMessages = 0;
  readonly #idata: boolean;
  readonly #streams = new Map<number, OutStream>();
  readonly #active: OutStream[] = [];
  #rr = 0;
  /** DATA mode: the message being cut, which must finish before another starts. */
  #current: OutStream | undefined;
  /** I-DATA: total size of the messages started and not yet all cut. */
  #startedBytes = 0;
  /** I-DATA: what {@link #startedBytes} may reach with a new message (the peer's receive window). */
  readonly #startLimit: number;

  /** `startLimit`: the peer's receive window (a_rwnd of its INIT or INIT ACK). */
  constructor(idata: boolean, startLimit = Infinity) {
    this.#idata = idata;
    this.#startLimit = startLimit;
  }

  /** Chunk header size for this association's data chunk type. */
  get headerSize(): number {
    return this.#idata ? 20 : 16;
  }

  /** Queues a message at the end of its stream. */
  push(streamId: number, data: Uint8Array, unordered: boolean, ppid: number, release = false): void {
    let s = this.#streams.get(streamId);
    if (!s) {
      s = { id: streamId, queue: [], head: 0, ssn: 0, midOrdered: 0, midUnordered: 0, active: false, given: 0 };
      this.#streams.set(streamId, s);
    }
    s.queue.push({ streamId, data, unordered, ppid, offset: 0, seq: 0, fsn: 0, release });
    s.given++;
    this.queuedBytes += data.length;
    this.queuedMessages++;
    if (!s.active) {
      s.active = true;
      this.#active.push(s);
    }
  }

  /**
   * Drops everything queued (the association ended), keeping each stream's
   * count of messages given: those are not acknowledged, and never will be.
   */
  clear(): void {
    for (const s of this.#streams.values()) {
      s.queue = [];
      s.head = 0;
      s.active = false;
    }
    this.#active.length = 0;
    this.#current = undefined;
    this.#startedBytes = 0;
    this.queuedBytes = 0;
    this.queuedMessages = 0;
  }

  /** Messages pushed on `streamId` so far, less those discarded. */
  given(streamId: number): number {
    return this.#streams.get(streamId)?.given ?? 0;
  }

  /** Size in bytes of the next fragment's user data if cut with `maxPayload`, or 0 when nothing is queued. */
  peekSize(maxPayload: number): number {
    const s = this.#pick(false);
    if (!s) return 0;
    const m = s.queue[s.head];
    return Math.min(m.data.length - m.offset, maxPayload);
  }

  /**
   * Cuts the next fragment of at most `maxPayload` bytes, assigns it `tsn`,
   * and returns it (or undefined when nothing is queued).
   */
  next(maxPayload: number, tsn: number): OutChunk | undefined {
    const s = this.#pick(true);
    if (!s) return undefined;
    const m = s.queue[s.head];
    const beginning = m.offset === 0;
    if (beginning) {
      this.#startedBytes += m.data.length;
      // Sequence numbers are taken when the first fragment is cut (§6.6: SSNs
      // of ordered messages; RFC 8260 §2.1: MIDs, separate for U=1).
      if (this.#idata) {
        if (m.unordered) m.seq = s.midUnordered, s.midUnordered = (s.midUnordered + 1) >>> 0;
        else m.seq = s.midOrdered, s.midOrdered = (s.midOrdered + 1) >>> 0;
      } else if (!m.unordered) {
        m.seq = s.ssn;
        s.ssn = (s.ssn + 1) & 0xffff;
      }
    }
    const len = Math.min(m.data.length - m.offset, maxPayload);
    const userData = m.data.subarray(m.offset, m.offset + len);
    m.offset += len;
    const ending = m.offset === m.data.length;
    const fsn = m.fsn++;
    const chunk: OutChunk = {
      type: this.#idata ? CHUNK.I_DATA : CHUNK.DATA,
      unordered: m.unordered,
      beginning,
      ending,
      immediate: false,
      tsn,
      streamId: m.streamId,
      ssn: this.#idata ? 0 : m.seq,
      mid: this.#idata ? m.seq : 0,
      ppid: m.ppid,
      fsn,
      userData,
      size: ((this.headerSize + len + 3) & ~3),
      sentAt: 0,
      transmissions: 0,
      acked: false,
      inFlight: false,
      misses: 0,
      marked: false,
      fastRetransmitted: false,
      deliveredAtSend: 0,
      deliveredTimeAtSend: 0,
      firstSentAtSend: 0,
      appLimited: false,
      release: ending && m.release && m.data.buffer.byteLength - m.data.byteLength <= RELEASE_SLACK_BYTES
        ? (m.data.buffer as ArrayBuffer)
        : undefined,
    };
    this.queuedBytes -= len;
    if (ending) {
      this.#startedBytes -= m.data.length;
      this.queuedMessages--;
      s.queue[s.head] = undefined as unknown as OutMessage;
      s.head++;
      if (s.head === s.queue.length) {
        s.queue.length = 0;
        s.head = 0;
      } else if (s.head > 1024 && s.head * 2 > s.queue.length) {
        s.queue.splice(0, s.head);
        s.head = 0;
      }
      if (this.#current === s) this.#current = undefined;
      if (s.head >= s.queue.length) this.#deactivate(s);
    } else if (!this.#idata) {
      this.#current = s;
    }
    return chunk;
  }

  /**
   * Drops the queued messages `match` picks that have not started: no
   * fragment cut, so no TSN, SSN or MID was taken and the peer never learns
   * of them (later messages of their stream take the numbers they would have
   * had). A started message is left to finish. Returns the bytes dropped.
   */
  discard(match: (streamId: number, ppid: number) => boolean): number {
    let dropped = 0;
    for (const s of [...this.#active]) {
      const kept: OutMessage[] = [];
      for (let i = s.head; i < s.queue.length; i++) {
        const m = s.queue[i];
        if (m.offset === 0 && match(m.streamId, m.ppid)) {
          dropped += m.data.length;
          this.queuedMessages--;
        } else {
          kept.push(m);
        }
      }
      if (kept.length === s.queue.length - s.head) continue;
      s.given -= s.queue.length - s.head - kept.length;
      s.queue = kept;
      s.head = 0;
      // A stream being cut (DATA) keeps its started message, so it stays active.
      if (kept.length === 0) this.#deactivate(s);
    }
    this.queuedBytes -= dropped;
    return dropped;
  }

  #pick(advance: boolean): OutStream | undefined {
    if (this.#current) return this.#current;
    const n = this.#active.length;
    if (n === 0) return undefined;
    if (this.#rr >= n) this.#rr = 0;
    // The next stream in turn whose head message is started, or may start. One
    // always qualifies: with nothing started any message may start, and a
    // started message is the head of its stream.
    for (let k = 0; k < n; k++) {
      const i = (this.#rr + k) % n;
      const s = this.#active[i];
      const m = s.queue[s.head];
      if (m.offset > 0 || m.data.length <= ONE_CHUNK_BYTES || this.#startedBytes === 0 || this.#startedBytes + m.data.length <= this.#startLimit) {
        if (advance) this.#rr = i + 1;
        return s;
      }
    }
    return undefined;
  }

  #deactivate(s: OutStream): void {
    s.active = false;
    const i = this.#active.indexOf(s);
    if (i >= 0) {
      this.#active.splice(i, 1);
      if (this.#rr > i) this.#rr--;
    }
  }
}
