/**
 * Two linked in-memory associations with the send/drain/pause semantics of
 * the SCTP stack's `Association`, for unit tests of sessions and the relay:
 *
 * - `send()` queues the message for the peer and returns false once this
 *   side's queued bytes reach `highWater` ("drain" follows when they fall to
 *   `lowWater`);
 * - the peer delivers queued messages asynchronously, a few per tick, unless
 *   it is paused; a paused peer's queue stays in the sender's
 *   `bufferedAmount`, which is how backpressure reaches the sender;
 * - `close()` delivers what is queued then reports "shutdown" on both sides;
 *   `abort()` drops the queue, "abort" here and "peer-abort" there;
 *   `kill()` simulates a dead peer: the other side gets "timeout";
 * - `checkPeer()` answers true unless the test made the peer `deaf`.
 */
import { EventEmitter } from "node:events";
import type { AssociationLike, CloseReason } from "../src/protocol/association.ts";

export interface FakeOptions {
  highWater?: number;
  lowWater?: number;
  streams?: number;
  /** Messages delivered per tick (models the link's rate). */
  perTick?: number;
  /**
   * While the receiving side is paused, bytes of held (not excepted) messages at which its
   * window is shut: excepted streams then wait too, as a real association drops new chunks once
   * held data fills its window. Default: no limit.
   */
  window?: number;
  /** resume() hands over held messages at once, within the call, as the SCTP association's does (default: on a later tick). */
  syncResume?: boolean;
  /** The address each side sees the other at (default 127.0.0.1). */
  remoteAddress?: string;
}

interface Queued {
  stream: number;
  data: Uint8Array;
  ppid: number;
}

export class FakeAssociation extends EventEmitter implements AssociationLike {
  readonly remote: { address: string; port: number };
  readonly outboundStreams: number;
  peer!: FakeAssociation;
  closed = false;
  paused = false;
  /** Like paused, but only the test sets it (the application's pause/resume leave it alone). */
  stalled = false;
  /** Set by a test: this side answers no checkPeer() (see there). */
  deaf = false;
  /** checkPeer() calls made on this side, and the time each gave the peer. */
  checksAsked = 0;
  checkWindows: number[] = [];
  /** Set by a test: how long since this side last heard its peer (as the SCTP association's). */
  silentForMs = 0;
  /** Set by a test: checkPeer() answers only once this resolves. */
  checkGate: Promise<void> | undefined;
  /** Every message ever sent, for assertions. */
  sentMessages = 0;
  sentBytes = 0;
  /** Largest bufferedAmount seen. */
  peakBuffered = 0;
  /** Every mark setSendHighWaterMark() gave, for assertions (the fake's own high water stays as its options say). */
  sendHighWaterMarks: number[] = [];
  #queue: Queued[] = [];
  #queued = 0;
  /** Per stream: messages sent (less those discarded), and delivered to the peer. */
  #given = new Map<number, number>();
  #delivered = new Map<number, number>();
  acknowledgedBytes = 0;
  #wantDrain = false;
  #scheduled = false;
  #opts: Required<FakeOptions>;

  constructor(port: number, opts: Required<FakeOptions>) {
    super();
    this.remote = { address: opts.remoteAddress, port };
    this.outboundStreams = opts.streams;
    this.#opts = opts;
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  setSendHighWaterMark(bytes: number): void {
    this.sendHighWaterMarks.push(bytes);
  }

  send(streamId: number, data: Uint8Array, opts: { unordered?: boolean; ppid?: number } = {}): boolean {
    if (this.closed) throw new Error("send on a closed association");
    if (streamId < 0 || streamId >= this.outboundStreams) throw new RangeError(`stream ${streamId} out of range`);
    this.#queue.push({ stream: streamId, data: data.slice(), ppid: opts.ppid ?? 0 });
    this.#queued += data.length;
    this.#given.set(streamId, (this.#given.get(streamId) ?? 0) + 1);
    this.sentMessages++;
    this.sentBytes += data.length;
    this.peakBuffered = Math.max(this.peakBuffered, this.#queued);
    this.#schedule();
    if (this.#queued >= this.#opts.highWater) {
      this.#wantDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Drops queued messages `match` picks that are not yet "sent": with a `window`, the messages
   * that start within the first `window` bytes queued stand for data the peer already holds, and
   * stay; without one, the peer holds everything, and nothing is dropped.
   */
  discardQueued(match: (streamId: number, ppid: number) => boolean): number {
    let ahead = 0;
    let dropped = 0;
    this.#queue = this.#queue.filter((m) => {
      if (ahead >= this.#opts.window && match(m.stream, m.ppid)) {
        dropped += m.data.length;
        this.#given.set(m.stream, this.#given.get(m.stream)! - 1);
        return false;
      }
      ahead += m.data.length;
      return true;
    });
    this.#queued -= dropped;
    if (dropped > 0) this.#schedule();
    return dropped;
  }

  messagesAcknowledged(streamId: number): { given: number; acknowledged: number } {
    return { given: this.#given.get(streamId) ?? 0, acknowledged: this.#delivered.get(streamId) ?? 0 };
  }

  /** A message handed to the peer: what the SCTP stack counts as acknowledged. */
  #delivering(m: Queued): void {
    this.#queued -= m.data.length;
    this.#delivered.set(m.stream, (this.#delivered.get(m.stream) ?? 0) + 1);
    this.acknowledgedBytes += m.data.length;
  }

  /** Streams still delivered while paused. */
  pauseExcept: ReadonlySet<number> | undefined;

  pause(opts?: { except?: readonly number[] }): void {
    this.paused = true;
    this.pauseExcept = opts?.except && opts.except.length > 0 ? new Set(opts.except) : undefined;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pauseExcept = undefined;
    if (this.#opts.syncResume) this.peer.#pump();
    else this.peer.#schedule();
  }

  /** The test's own pause: this side stops taking messages, whatever the application does. */
  stall(): void {
    this.stalled = true;
  }

  /** Ends {@link stall}. */
  unstall(): void {
    this.stalled = false;
    this.peer.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.closed || this.peer.closed) return;
    let n = 0;
    while (this.#queue.length > 0 && !this.peer.paused && !this.peer.stalled && n < this.#opts.perTick) {
      const m = this.#queue.shift()!;
      this.#delivering(m);
      n++;
      this.peer.emit("message", m.stream, m.data, m.ppid);
      if (this.closed || this.peer.closed) return;
    }
    // Paused with streams kept flowing: those streams' messages (in their own order) pass the held data.
    const except = this.peer.paused && !this.peer.stalled ? this.peer.pauseExcept : undefined;
    let ahead = 0;
    let shut = false;
    for (let i = 0; except && i < this.#queue.length && n < this.#opts.perTick;) {
      const m = this.#queue[i];
      if (!except.has(m.stream)) {
        ahead += m.data.length;
        if (ahead >= this.#opts.window) {
          shut = true; // until resume() or a message is taken
          break;
        }
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#delivering(m);
      n++;
      this.peer.emit("message", m.stream, m.data, m.ppid);
      if (this.closed || this.peer.closed) return;
    }
    if (this.#wantDrain && this.#queued <= this.#opts.lowWater) {
      this.#wantDrain = false;
      this.emit("drain");
    }
    if (this.#queue.length > 0 && !this.peer.paused && !this.peer.stalled) this.#schedule();
    else if (except && !shut && this.#queue.some((m) => except.has(m.stream))) this.#schedule();
    else if (this.#queue.length === 0 && this.#closing) this.#finishClose();
  }

  #closing = false;
  #closeWaiters: Array<() => void> = [];

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#closeWaiters.push(resolve);
      this.#closing = true;
      if (this.#queue.length === 0) this.#finishClose();
      else this.#schedule();
    });
  }

  #finishClose(): void {
    this.#end({ kind: "shutdown", message: "closed" }, { kind: "shutdown", message: "peer closed" });
  }

  abort(reason = "aborted"): void {
    this.#end({ kind: "abort", message: reason }, { kind: "peer-abort", message: `peer aborted: user-initiated abort: ${reason}`, peerReason: reason });
  }

  /**
   * Whether a checkPeer() asked of this side's peer gets an answer: after the
   * peer is made deaf (a process killed that nobody has noticed yet), the
   * check resolves false, on the next turn (the fake has no clock to wait on).
   */
  checkPeer(withinMs: number): Promise<boolean> {
    this.checksAsked++;
    this.checkWindows.push(withinMs);
    const gate = this.checkGate ?? Promise.resolve();
    return gate.then(() => new Promise((resolve) => setImmediate(() => resolve(!this.closed && !this.peer.deaf))));
  }

  /** The peer vanishes without a word (kill -9): the other side sees a timeout, with `message` as its stack would say it. */
  kill(message = "peer not responding"): void {
    this.#end(undefined, { kind: "timeout", message });
  }

  #end(mine: CloseReason | undefined, theirs: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.#queue = [];
    this.#queued = 0;
    const peer = this.peer;
    queueMicrotask(() => {
      if (mine) this.emit("close", mine);
      for (const w of this.#closeWaiters.splice(0)) w();
      if (!peer.closed) {
        peer.closed = true;
        peer.#queue = [];
        peer.#queued = 0;
        peer.emit("close", theirs);
        for (const w of peer.#closeWaiters.splice(0)) w();
      }
    });
  }
}

let nextPort = 40000;

/** Two linked fakes: what `a` sends, `b` receives, and the other way. */
export function fakeAssociationPair(opts: FakeOptions = {}): [FakeAssociation, FakeAssociation] {
  const full: Required<FakeOptions> = {
    highWater: opts.highWater ?? 256 * 1024,
    lowWater: opts.lowWater ?? 64 * 1024,
    streams: opts.streams ?? 16,
    perTick: opts.perTick ?? 8,
    window: opts.window ?? Infinity,
    syncResume: opts.syncResume ?? false,
    remoteAddress: opts.remoteAddress ?? "127.0.0.1",
  };
  const a = new FakeAssociation(nextPort++, full);
  const b = new FakeAssociation(nextPort++, full);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
