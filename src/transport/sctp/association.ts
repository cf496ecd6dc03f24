/**
 * One SCTP association (RFC 9260): the state machine from the handshake to
 * SHUTDOWN or ABORT, reliable ordered/unordered delivery over DATA or I-DATA
 * (RFC 8260), SACK with gap blocks and duplicates, retransmission (T3-rtx,
 * fast retransmit), congestion and flow control, heartbeats, path failure
 * detection and PLPMTUD (RFC 8899). It owns no socket: it is fed decoded
 * packets by its {@link SctpEndpoint} and hands encoded packets back to it.
 *
 * Sending is driven by SACKs (and by the user's send(), batched per
 * microtask), never by a timer per packet: every SACK that opens the window
 * triggers one flush that bundles control chunks, a SACK, retransmissions
 * and new data into as few packets as the path MTU allows.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { setImmediate } from "node:timers";
import { SfxError } from "../../errors.ts";
import type { RemoteAddress } from "../datagram.ts";
import {
  CAUSE,
  CHUNK,
  PARAM,
  type Chunk,
  type CookieEchoChunk,
  type DataChunk,
  type ErrorCause,
  type HeartbeatChunk,
  type IDataChunk,
  type InitChunk,
  type Packet,
  type SackChunk,
} from "./chunk_types.ts";
import { chunkLength } from "./chunk.ts";
import { encodePacket } from "./packet.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { CongestionController } from "./congestion.ts";
import { COOKIE_FLAG_IDATA, type CookieJar, type CookieState } from "./cookie.ts";
import { SCTP_DEFAULTS, SCTP_SIZES } from "./defaults.ts";
import { causeText, describeCauses, random32, randomTag, readInitParams, supportedExtensionsParam } from "./handshake.ts";
import {
  invalidMandatoryParameterCause,
  invalidStreamIdentifierCause,
  missingMandatoryParameterCause,
  noUserDataCause,
  outOfResourceCause,
  protocolViolationCause,
  staleCookieCause,
  unrecognizedChunkTypeCause,
  unrecognizedParametersCause,
  userInitiatedAbortCause,
} from "./error_cause.ts";
import { unrecognizedParameterReports } from "./param.ts";
import type { ResolvedSctpOptions } from "./options.ts";
import { PmtuSearch } from "./pmtud.ts";
import { heldCost, Reassembler } from "./reassembly.ts";
import { RtoEstimator } from "./rto.ts";
import { Timer } from "./rtx_timer.ts";
import { type OutChunk, SendQueue } from "./send_queue.ts";
import { ReceivedTsns, tsnGt, tsnGte, tsnLt, tsnLte } from "./tsn.ts";
import { formatAddress } from "../datagram.ts";

/** Pacing bucket: at most this many ms of sending at the pacing rate go out at once (timers here are ~1 ms coarse, often late). */
const PACING_BURST_MS = 4;
/** …and never fewer than this many full packets. */
const PACING_BURST_MTUS = 16;
/** A window update that reopened the window is said again this many times while no data follows… */
const WINDOW_UPDATE_REPEATS = 3;
/** …the first time after an RTO, at most this long, then twice as long each time. */
const WINDOW_UPDATE_REPEAT_MAX_MS = 500;

/** Association states (RFC 9260 §4), as strings. */
export type AssociationState =
  | "closed"
  | "cookie-wait"
  | "cookie-echoed"
  | "established"
  | "shutdown-pending"
  | "shutdown-sent"
  | "shutdown-received"
  | "shutdown-ack-sent";

/** Why an association in `state` takes no new messages, in words (for errors users read). */
function notSendable(state: AssociationState): string {
  switch (state) {
    case "cookie-wait":
    case "cookie-echoed":
      return "it is not established yet";
    case "shutdown-pending":
    case "shutdown-sent":
      return "it is closing";
    case "shutdown-received":
    case "shutdown-ack-sent":
      return "the peer is closing it";
    default:
      return "it is closed";
  }
}

/** Why an association closed; reported exactly once by the "close" event. */
export interface CloseReason {
  /**
   * "shutdown": graceful, all data delivered; "abort": we aborted;
   * "peer-abort": the peer sent ABORT; "timeout": the peer stopped answering;
   * "error": a protocol violation or an internal failure.
   */
  kind: "shutdown" | "abort" | "peer-abort" | "timeout" | "error";
  /** A readable explanation (for an ABORT, its causes and the peer's reason). */
  message: string;
  /** "peer-abort" only: the reason the peer's application gave (its User-Initiated Abort cause), when it gave one. */
  peerReason?: string;
  /**
   * "peer-abort" only: the ABORT reflected our own tag (the T bit, §8.4 (2)): the peer has no
   * association with us any more. It restarted, or our packets now come from an address it does
   * not know (a new network, a NAT that moved us to another IP address).
   */
  unknownToPeer?: boolean;
  /** "timeout" from the peer's silence: for how long nothing was heard from it, in ms. */
  silentMs?: number;
}

/** Counters and estimates of one association, for diagnostics and benchmarks. */
export interface AssociationStats {
  srttMs: number;
  rtoMs: number;
  cwnd: number;
  ssthresh: number;
  peerRwnd: number;
  pmtu: number;
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  retransmissions: number;
  fastRetransmits: number;
  t3Expiries: number;
  /** Tail-loss probes sent (see the PTO timer). */
  tailLossProbes: number;
  heartbeatsSent: number;
  /** Bytes queued or sent and not yet acknowledged. */
  bufferedAmount: number;
  /** Packets dropped for a wrong verification tag (§8.5). */
  badTagPackets: number;
  /** DATA chunks received twice. */
  duplicateTsns: number;
  /** DATA chunks dropped because our window was full. */
  windowDrops: number;
  /** TSNs held above a gap that were given up to take the chunk filling it (reneging, §6.2); the peer sends them again. */
  renegedTsns: number;
  /** Whether I-DATA (RFC 8260) is in use. */
  idata: boolean;
}

/** What the endpoint provides to its associations. @internal */
export interface AssociationHost {
  readonly options: ResolvedSctpOptions;
  readonly cookies: CookieJar;
  /** Sends one encoded packet to `to`. */
  transmit(data: Uint8Array, to: RemoteAddress): void;
  /** The PLPMTUD ceiling towards `to`. */
  pathCeiling(to: RemoteAddress): number;
  /** The association reached ESTABLISHED. */
  associationUp(a: Association): void;
  /** The association closed (already reported to the user). */
  associationDown(a: Association, reason: CloseReason): void;
  /** §5.2.4 case A: the peer restarted; the endpoint replaces `a` by one made from `state`. */
  peerRestarted(a: Association, state: CookieState, packet: Packet, next: number): void;
  /** Whether an INIT from `address` may be answered now (the endpoint's INIT ACK budget). */
  takeInitToken(address: string): boolean;
}

/** Parameters to build an association with. @internal */
export interface AssociationInit {
  remote: RemoteAddress;
  localPort: number;
  peerPort: number;
  localTag: number;
  localInitialTsn: number;
  streams: number;
}

const HB_INFO_SIZE = 20;
const HB_LIVENESS = 1;
const HB_PROBE = 2;
/** checkPeer()'s: its answer counts as any packet heard (no RTT sample, no error count). */
const HB_CHECK = 3;

interface HeldMessage {
  streamId: number;
  data: Uint8Array;
  ppid: number;
}

/**
 * An {@link Association}'s events and what their listeners get. Event names
 * outside this map (EventEmitter's own "newListener", a name chosen at run
 * time) need the association seen as a plain `EventEmitter`.
 */
export interface AssociationEvents {
  message: [streamId: number, data: Uint8Array, ppid: number];
  /** (The optional argument lets `once("drain", resolve)` type-check; none is given.) */
  drain: [_?: undefined];
  close: [reason: CloseReason];
  /** The peer was followed to a new UDP port: where it is now, and the port it came from before. */
  address: [remote: RemoteAddress, previousPort: number];
}

/**
 * An SCTP association: one reliable, message-oriented, multi-stream
 * connection to one peer. Created by {@link SctpEndpoint.connect} or
 * received through the endpoint's "association" event.
 *
 * Events: "message" (streamId, data, ppid), "drain", "close" (reason),
 * "address" (remote, previous UDP port) when the peer is followed to a new
 * UDP port (a NAT's new mapping, RFC 6951 §5.4).
 * Messages received while nobody listens for "message", or while paused,
 * are held (and keep our advertised window closed) until delivered.
 */
export class Association extends EventEmitter<AssociationEvents> {
  /** The peer's UDP address: the association never talks to another address; the port follows the peer (see remote). */
  #remote: RemoteAddress;
  /** Our SCTP port. */
  readonly localPort: number;
  /** The peer's SCTP port. */
  readonly peerPort: number;

  readonly #host: AssociationHost;
  readonly #o: ResolvedSctpOptions;
  readonly #clock: Clock;
  #state: AssociationState = "closed";
  #localTag: number;
  #peerTag = 0;
  readonly #localInitialTsn: number;
  #wantStreams: number;
  #outStreams = 0;
  #inStreams = 0;
  #idata = false;
  #ready = false;

  // Handshake (client side).
  #init: InitChunk | undefined;
  #cookie: Uint8Array | undefined;
  #cookieExtra: Chunk[] = [];
  #initRetransmits = 0;
  #staleCookies = 0;
  #handshakeSentAt = 0;
  #connectStartedAt = 0;
  readonly #t1: Timer;

  // Sending.
  #nextTsn: number;
  #lastCumAck: number;
  #sent: (OutChunk | undefined)[] = [];
  #sentHead = 0;
  #rtx: OutChunk[] = [];
  #rtxHead = 0;
  #flight = 0;
  /**
   * What the chunks in flight may cost the peer's window beyond their bytes: a tiny message
   * held whole counts as {@link heldCost} (64 bytes) at our receiver, so the peer's window is
   * taken as that much smaller (as usrsctp counts an overhead per chunk in flight).
   */
  #flightOverhead = 0;
  #unacked = 0;
  /** Of #unacked, the bytes the peer reported in gap blocks: it holds them, they are no longer in the network. */
  #gapAcked = 0;
  #peerRwnd = 0;
  #queue: SendQueue = new SendQueue(false);
  #fastRtxPending = false;
  #rttProbe: OutChunk | undefined;
  #cc: CongestionController;
  readonly #rto: RtoEstimator;
  readonly #t3: Timer;
  #t3Streak = 0;
  /** Probe timeout (RFC 8985 §7 tail-loss probe), ahead of T3-rtx. */
  readonly #pto: Timer;
  /** Pacing: bytes we may send now at the controller's pacing rate, refilled by elapsed time. */
  #paceTokens = 0;
  #paceAt = 0;
  readonly #paceTimer: Timer;
  #ptoStreak = 0;
  #lastDataSentAt = 0;
  // Delivery-rate sampling (draft-ietf-ccwg-bbr §4.1): bytes delivered, when, and the send time of the latest delivered chunk.
  #delivered = 0;
  #deliveredTime = 0;
  /**
   * Application-limited marker (draft-ietf-ccwg-bbr §4.1.2.2, Linux's
   * tp->app_limited): when the queue ran dry with room left in the window, the
   * delivered count at which the data then outstanding will have been
   * acknowledged; 0 once it has. Chunks sent meanwhile carry appLimited.
   */
  #appLimitedUntil = 0;
  /** checkPeer()s waiting: each resolves true when a HEARTBEAT of theirs is answered. */
  #checks: (() => void)[] = [];
  #firstSentTime = 0;

  // Receiving.
  #tsns: ReceivedTsns = new ReceivedTsns(0);
  #reasm: Reassembler;
  #dups: number[] = [];
  #sackNeeded = false;
  #sackNow = false;
  #packetsSinceSack = 0;
  /** Messages of each stream the peer has acknowledged (see messagesAcknowledged()). */
  readonly #ackedMessages = new Map<number, number>();
  /** When reneging last could not make room for the chunk at the cumulative TSN + 1: that TSN, reassembly's change count, and the bytes it could have freed. */
  #renegeFailed: { tsn: number; changes: number; available: number } | undefined;
  /** Streams delivered even while paused (see pause()). */
  #pauseExcept: ReadonlySet<number> | undefined;
  /** The receive buffer (window) of this association: `receiveBufferSize`, or what setReceiveBufferSize() set. */
  #rwnd: number;
  /** Where send() starts saying false: `sendHighWaterMark`, or what setSendHighWaterMark() set. */
  #sendHighWater: number;
  #dataInPacket = false;
  #immediateSack = false;
  #lastAdvertised = 0;
  readonly #sackTimer: Timer;

  // Packet building.
  #control: Chunk[] = [];
  #pkt: Chunk[] = [];
  #pktSize = SCTP_SIZES.commonHeader;
  #pktHasData = false;
  #flushing = false;
  #flushScheduled = false;

  // Liveness.
  #lastHeard = 0;
  /** Packets that proved to come from the peer (its verification tag), for checkPeer(). */
  #wordsHeard = 0;
  #errors = 0;
  readonly #hbTimer: Timer;
  #hbOutstanding = false;
  #hbSentAt = 0;
  readonly #hbNonce = random32();

  // PLPMTUD.
  #pmtu: number;
  #search: PmtuSearch | undefined;
  readonly #probeTimer: Timer;
  /**
   * Repeats a window update that reopened a (nearly) shut window while no
   * data follows it: were it lost, the peer would learn of the window only at
   * its next zero-window probe, one backed-off RTO later (up to RTO.max).
   */
  readonly #windowUpdateTimer: Timer;
  #windowUpdateRepeats = 0;
  #windowUpdateMs = 0;

  // Shutdown.
  readonly #t2: Timer;
  readonly #t5: Timer;
  #closeWaiters: Array<() => void> = [];
  #closeReason: CloseReason | undefined;

  // User side.
  /** The packet size a black hole made us fall back from, until an acknowledgement tells us something new (0: none). */
  #fellBackFrom = 0;
  #paused = false;
  #held: HeldMessage[] = [];
  #heldHead = 0;
  /** Closed gracefully with messages held and nobody listening: the first "message" listener still gets them. */
  #heldPastClose = false;
  #heldBytes = 0;
  #needDrain = false;

  readonly #stats = {
    bytesSent: 0,
    bytesReceived: 0,
    packetsSent: 0,
    packetsReceived: 0,
    retransmissions: 0,
    fastRetransmits: 0,
    t3Expiries: 0,
    tailLossProbes: 0,
    heartbeatsSent: 0,
    badTagPackets: 0,
    duplicateTsns: 0,
    windowDrops: 0,
    renegedTsns: 0,
  };

  /** @internal Use {@link SctpEndpoint.connect} or the endpoint's "association" event. */
  constructor(host: AssociationHost, init: AssociationInit) {
    super();
    this.#host = host;
    this.#o = host.options;
    this.#rwnd = this.#o.receiveBufferSize;
    this.#sendHighWater = this.#o.sendHighWaterMark;
    this.#clock = this.#o.clock;
    this.#remote = { address: init.remote.address, port: init.remote.port };
    this.localPort = init.localPort;
    this.peerPort = init.peerPort;
    this.#localTag = init.localTag;
    this.#localInitialTsn = init.localInitialTsn;
    this.#nextTsn = init.localInitialTsn;
    this.#lastCumAck = (init.localInitialTsn - 1) >>> 0;
    this.#wantStreams = init.streams;
    this.#pmtu = Math.floor(this.#o.initialPacketSize / 4) * 4;
    // Backed off, the RTO stays under a fifth of the failure timeout: a path that comes back is
    // probed within that (RTO.Max, 10 s, spaced T3's 12.6 s and 22.6 s after an outage began, past
    // the 20 s deadline: outages of 13 to 20 s killed transfers the path could have finished).
    this.#rto = new RtoEstimator(this.#o.rtoInitial, this.#o.rtoMin, this.#o.rtoMax, Math.max(this.#o.rtoMin, this.#o.failureTimeoutMs / 5));
    this.#cc = new CongestionController(this.#pmtu, 0, this.#o.congestionControl);
    this.#reasm = new Reassembler(false, this.#deliver, this.#o.maxMessageSize);
    const c = this.#clock;
    this.#t1 = new Timer(c, () => this.#onT1());
    this.#t3 = new Timer(c, () => this.#onT3());
    this.#pto = new Timer(c, () => this.#onPto());
    this.#paceTimer = new Timer(c, () => this.#flush());
    this.#t2 = new Timer(c, () => this.#onT2());
    this.#t5 = new Timer(c, () => this.#fail("timeout", "shutdown did not complete in time (T5-shutdown-guard)", "shutdown did not complete in time"));
    this.#sackTimer = new Timer(c, () => {
      if (this.#sackNeeded) {
        this.#sackNow = true;
        this.#flush();
      }
    });
    this.#hbTimer = new Timer(c, () => this.#onHeartbeatTimer());
    this.#probeTimer = new Timer(c, () => this.#onProbeTimer());
    this.#windowUpdateTimer = new Timer(c, () => this.#onWindowUpdateTimer());
    // Not one of AssociationEvents: EventEmitter's own.
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "message" && this.#heldHead < this.#held.length) queueMicrotask(() => this.#drainHeld());
    });
  }

  // ------------------------------------------------------------------ public

  /** The RFC 9260 §4 state, e.g. "established". */
  get state(): AssociationState {
    return this.#state;
  }

  /** Streams we may send on (negotiated, §5.1.1). */
  get outboundStreams(): number {
    return this.#outStreams;
  }

  /** Streams the peer may send on. */
  get inboundStreams(): number {
    return this.#inStreams;
  }

  /**
   * Bytes given to send() that the peer has not reported receiving: queued,
   * in flight or lost. Data the peer holds above a hole (gap-acknowledged)
   * does not count, so a loss on a long path does not stall the writer
   * while the hole is repaired — up to the high-water mark: that data stays
   * in memory until it is cumulatively acknowledged (the peer may renege,
   * §6.2), and a peer that gap-acks without ever moving its cumulative ack
   * must not make the sender hold without bound.
   */
  get bufferedAmount(): number {
    return this.#queue.queuedBytes + this.#unacked - Math.min(this.#gapAcked, this.#sendHighWater);
  }

  /**
   * Received user data held for want of other data: fragments of messages
   * not yet complete, and messages waiting for an earlier one on their stream,
   * each of those counted as at least 64 bytes as the window counts it.
   * (Messages held while paused are not counted.) The receive window bounds it.
   */
  get heldAboveGapBytes(): number {
    return this.#reasm.bytesHeld;
  }

  /** The cumulative TSN received (§6.2): it stands still while a gap below it is not filled. */
  get cumulativeTsnReceived(): number {
    return this.#tsns.cum;
  }

  /** Messages queued and not yet sent (many small ones cost memory beyond their bytes). */
  get queuedMessages(): number {
    return this.#queue.queuedMessages;
  }

  /** Why the association closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** The peer's address and UDP port: the port follows the peer when a NAT maps it to another (RFC 6951 §5.4). */
  get remote(): RemoteAddress {
    return this.#remote;
  }

  /** @internal The peer's packets now come from UDP port `port` (the endpoint checked address and tag): emits "address". */
  _moveTo(port: number): void {
    const from = this.#remote.port;
    this.#remote = { address: this.#remote.address, port };
    this.#emitSafe("address", this.#remote, from);
  }

  /** Our verification tag (for diagnostics and tests). */
  get localTag(): number {
    return this.#localTag;
  }

  /** The peer's verification tag (for diagnostics and tests). */
  get peerTag(): number {
    return this.#peerTag;
  }

  /**
   * Queues one whole user message on a stream. Returns false once
   * {@link bufferedAmount} reaches the high-water mark, or
   * {@link queuedMessages} reaches `sendHighWaterMessages`: wait for "drain"
   * (emitted when both are down to half) before sending more. The data is
   * not copied; do not modify it afterwards. With `release`, the association
   * owns it: once the peer has acknowledged the whole message, its buffer is
   * detached (`ArrayBuffer.prototype.transfer(0)`) so the memory returns at
   * once rather than at V8's next full collection — for senders of large
   * streams (a file read into fresh buffers, a relay passing received
   * messages on). Only a view of all of its ArrayBuffer (but 32 bytes of
   * packet headers) is released; a slice of a shared pool is left alone.
   *
   * @throws {SfxError} SFX_CONNECTION_LOST when the association is closing or closed.
   * @throws {RangeError} for a bad stream id, an empty or an oversized message.
   * @throws {TypeError} when `data` is not a Uint8Array (a Buffer is one).
   */
  send(streamId: number, data: Uint8Array, opts?: { unordered?: boolean; ppid?: number; release?: boolean }): boolean {
    if (this.#state !== "established") {
      throw new SfxError("SFX_CONNECTION_LOST", `Cannot send on the SCTP association to ${this.#peerName()}: ${notSendable(this.#state)}`);
    }
    if (!Number.isInteger(streamId) || streamId < 0 || streamId >= this.#outStreams) {
      throw new RangeError(`stream ${streamId} is out of range (0 to ${this.#outStreams - 1})`);
    }
    if (!(data instanceof Uint8Array)) throw new TypeError(`send() takes a Uint8Array, got ${Object.prototype.toString.call(data)}`);
    if (data.length === 0) throw new RangeError("SCTP cannot send an empty message (RFC 9260 §6.2)");
    if (data.length > this.#o.maxMessageSize) throw new RangeError(`message of ${data.length} bytes exceeds maxMessageSize ${this.#o.maxMessageSize}`);
    this.#queue.push(streamId, data, opts?.unordered === true, (opts?.ppid ?? 0) >>> 0, opts?.release === true);
    this.#scheduleFlush();
    if (this.bufferedAmount >= this.#sendHighWater || this.#queue.queuedMessages >= this.#o.sendHighWaterMessages) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Of the messages given to send() on `streamId` (less those discardQueued()
   * dropped), how many the peer has acknowledged. A stream's messages are cut
   * into chunks in the order they were given, so they are acknowledged in that
   * order too: a message is through once `acknowledged` reaches what `given`
   * was just after it was sent — how an application learns that one message (a
   * cancel) arrived, whatever other streams still have queued.
   */
  messagesAcknowledged(streamId: number): { given: number; acknowledged: number } {
    return { given: this.#queue.given(streamId), acknowledged: this.#ackedMessages.get(streamId) ?? 0 };
  }

  /**
   * User data the peer has reported receiving since the association began
   * (cumulatively or in gap blocks), in bytes: it grows with every new
   * acknowledgement (the delivery count of rate sampling).
   */
  get acknowledgedBytes(): number {
    return this.#delivered;
  }

  #countAcknowledged(streamId: number): void {
    this.#ackedMessages.set(streamId, (this.#ackedMessages.get(streamId) ?? 0) + 1);
  }

  /**
   * Drops queued messages that `match` picks and that have not started on
   * the wire (none of their fragments sent), for an application that no
   * longer wants them sent: a transfer cancelled with megabytes still
   * queued. Messages already started are sent whole (fragments of a message
   * cannot be withdrawn without PR-SCTP). May emit "drain". Returns the
   * bytes dropped.
   */
  discardQueued(match: (streamId: number, ppid: number) => boolean): number {
    if (this.#state === "closed") return 0;
    const dropped = this.#queue.discard(match);
    if (dropped > 0) {
      if (this.#needDrain) this.#checkDrain();
      if (this.#state === "shutdown-pending") this.#maybeShutdown();
      else if (this.#state === "shutdown-received") this.#maybeShutdownAck();
      else this.#scheduleFlush();
    }
    return dropped;
  }

  /**
   * Stops emitting "message"; received data is held and keeps our window
   * closed (backpressure to the peer). Messages of the streams in `except`
   * are still delivered (after any of theirs already held): SCTP orders each
   * stream on its own, so a control stream can keep flowing while data waits
   * — for instance the messages that say a file is complete, which an
   * application may need before it can take more data.
   */
  pause(opts?: { except?: readonly number[] }): void {
    this.#paused = true;
    this.#pauseExcept = opts?.except && opts.except.length > 0 ? new Set(opts.except) : undefined;
  }

  /** Delivers held messages and emits "message" again; reopens our window. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pauseExcept = undefined;
    this.#drainHeld();
  }

  /**
   * Sets this association's receive buffer: the most received data it holds
   * for reassembly and for a paused or absent reader (the window it
   * advertises), 1,500 bytes to 2 GiB. The endpoint's `receiveBufferSize` is
   * where every association starts. A larger window is advertised at once; a
   * smaller one takes effect as the peer's data in flight is acknowledged
   * (what arrives past it is dropped and resent later); data held above a
   * hole past the new size and one message is given up at once (reneging,
   * RFC 9260 §6.2) and resent by the peer. A server can start
   * its associations small and open the window to clients it has admitted.
   *
   * @throws {RangeError} for a size out of range.
   */
  setReceiveBufferSize(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 1500 || bytes > 0x7fffffff) throw new RangeError(`receive buffer size out of range: ${bytes}`);
    const grew = bytes > this.#rwnd;
    this.#rwnd = bytes;
    // Held above a hole past the new ceiling (what the peer sent under the larger window) is given
    // up now, not when the hole fills: the smaller window bounds memory at once, and the peer sends
    // it again once the hole is filled.
    const reneged = !grew && this.#reasm.bytesHeld > this.#reassemblyCeiling() && this.#renege(this.#tsns.cum, this.#reasm.bytesHeld - this.#reassemblyCeiling(), 0).freed > 0;
    const peerMaySend = this.#ready && (this.#state === "established" || this.#state === "shutdown-pending" || this.#state === "shutdown-sent");
    if ((grew || reneged) && peerMaySend) {
      // §6.2 window update (the peer may be waiting on the old, smaller window), or a SACK that
      // no longer reports what was given up.
      this.#sackNeeded = true;
      this.#sackNow = true;
      this.#flush();
    }
  }

  /**
   * Sets where send() starts returning false for this association (the
   * endpoint's `sendHighWaterMark` is where every association starts): the
   * bytes given to send() and not yet acknowledged that the application
   * should let pile up. Lowering it keeps what is queued (it goes out as
   * usual; "drain" comes once the amount is down to half the new mark);
   * raising it emits "drain", on the next turn of the event loop, to a writer
   * that waits and is now under half of it. A server that sends to many clients at once can so share one
   * memory budget among them.
   *
   * @throws {RangeError} for a size under 1 byte or over 2 GiB.
   */
  setSendHighWaterMark(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0x7fffffff) throw new RangeError(`send high-water mark out of range: ${bytes}`);
    this.#sendHighWater = bytes;
    // Not at once: the caller may be resizing many associations, each drain a writer's turn.
    if (this.#needDrain) this.#scheduleFlush();
  }

  /** Where send() starts returning false now (see {@link setSendHighWaterMark}). */
  get sendHighWaterMark(): number {
    return this.#sendHighWater;
  }

  /** Milliseconds since anything valid came from the peer. */
  get silentForMs(): number {
    return this.#clock.now() - this.#lastHeard;
  }

  /**
   * Asks the peer for a word now (HEARTBEATs on demand, RFC 9260 §8.3: one
   * at once, and again every third of `withinMs`, or every second when that
   * is longer), and resolves whether anything valid came from it within
   * `withinMs`: true as soon as one of those HEARTBEATs is answered (or, at
   * the next ask, when anything else came), else false at `withinMs`. For a
   * hint that the peer may be gone that anyone could forge, such as a
   * connected UDP socket's ICMP "port unreachable" (it names ports, not the
   * association): act on the peer's silence, not on the hint.
   */
  checkPeer(withinMs: number): Promise<boolean> {
    if (this.#state === "closed") return Promise.resolve(false);
    // Words that prove the peer: packets with its tag. Not packetsReceived, which counts INITs
    // too: anyone who knows the addresses can send one (tag 0).
    const before = this.#wordsHeard;
    return new Promise((resolve) => {
      const timers: TimerHandle[] = [];
      let settled = false;
      const done = (answered: boolean) => {
        if (settled) return;
        settled = true;
        for (const t of timers) this.#clock.clearTimer(t);
        this.off("close", onClose);
        const i = this.#checks.indexOf(onAnswer);
        if (i >= 0) this.#checks.splice(i, 1);
        resolve(answered);
      };
      // Closed meanwhile: no timer outlives the association.
      const onClose = () => done(false);
      // Its HEARTBEAT answered: no need to wait out the time (a busy refusal waits for this).
      const onAnswer = () => done(true);
      const ask = () => {
        if (this.#state === "closed") return;
        // Heard meanwhile (its own HEARTBEAT, data): that is a word too.
        if (this.#wordsHeard > before) return onAnswer();
        this.#control.push({ type: CHUNK.HEARTBEAT, info: this.#heartbeatInfo(HB_CHECK, 0) });
        this.#flush();
      };
      this.once("close", onClose);
      this.#checks.push(onAnswer);
      ask();
      // At a third and two thirds of a short time; every second of a long one (a lossy path loses some).
      const every = Math.min(1000, withinMs / 3);
      for (let at = every; at < withinMs - 1 && !settled; at += every) timers.push(this.#clock.setTimer(ask, at));
      if (!settled) timers.push(this.#clock.setTimer(() => done(this.#wordsHeard > before), withinMs));
    });
  }

  /** True while paused. */
  get isPaused(): boolean {
    return this.#paused;
  }

  /**
   * Graceful close (§9.2): sends SHUTDOWN once all queued data is
   * acknowledged, and resolves when SHUTDOWN COMPLETE is exchanged (or the
   * association ends any other way; "close" says how).
   */
  close(): Promise<void> {
    if (this.#state === "closed") return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#closeWaiters.push(resolve);
      switch (this.#state) {
        case "cookie-wait":
        case "cookie-echoed":
          this.abort("closed before the association was established");
          break;
        case "established":
          this.#setState("shutdown-pending");
          this.#maybeShutdown();
          break;
        default:
          break;
      }
    });
  }

  /** Aborts at once (§9.1): sends ABORT with a User-Initiated Abort cause carrying `reason` (its first 200 characters). */
  abort(reason = "aborted by the application"): void {
    if (this.#state === "closed") return;
    if (this.#peerTag !== 0) {
      this.#sendNow(this.#peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [userInitiatedAbortCause(firstCodePoints(reason, 200))] }]);
    }
    this.#terminate({ kind: "abort", message: reason });
  }

  /** Counters and estimates. */
  stats(): AssociationStats {
    return {
      srttMs: this.#rto.srtt,
      rtoMs: this.#rto.rto,
      cwnd: this.#cc.cwnd,
      ssthresh: this.#cc.ssthresh,
      peerRwnd: this.#peerRwnd,
      pmtu: this.#pmtu,
      ...this.#stats,
      bufferedAmount: this.bufferedAmount,
      idata: this.#idata,
    };
  }

  // --------------------------------------------------------- endpoint hooks

  /** @internal Client side: sends INIT and enters COOKIE-WAIT (§5.1 A). */
  _connect(): void {
    this.#connectStartedAt = this.#clock.now();
    this.#init = {
      type: CHUNK.INIT,
      initiateTag: this.#localTag,
      aRwnd: this.#rwnd,
      outboundStreams: this.#wantStreams,
      inboundStreams: SCTP_DEFAULTS.maxInboundStreams,
      initialTsn: this.#localInitialTsn,
      params: supportedExtensionsParam(this.#o.idata),
    };
    this.#setState("cookie-wait");
    this.#sendInit();
  }

  /** @internal Server side: the association described by a valid cookie (§5.1 D). Queues COOKIE ACK. */
  _acceptCookie(s: CookieState): void {
    this.#peerTag = s.peerTag;
    this.#setup(s.peerInitialTsn, s.peerRwnd, s.outboundStreams, s.inboundStreams, this.#o.idata && (s.flags & COOKIE_FLAG_IDATA) !== 0);
    this.#control.push({ type: CHUNK.COOKIE_ACK });
    this.#establish();
  }

  /** @internal Gives up a pending connect (abort signal). */
  _cancel(message: string): void {
    if (this.#state === "cookie-wait" || this.#state === "cookie-echoed") this.abort(message);
  }

  /**
   * @internal Processes one packet addressed to this association, starting at
   * chunk `start` (the endpoint already handled a leading COOKIE ECHO).
   */
  _receive(p: Packet, start = 0): void {
    if (this.#state === "closed") return;
    const chunks = p.chunks;
    const vt = p.verificationTag;
    if (start === 0) {
      if (chunks.length === 0) return;
      const first = chunks[0];
      if (first.type === CHUNK.INIT && !("unknown" in first)) {
        // §8.5.1 A: INIT carries tag 0 and travels alone (§6.10).
        if (vt !== 0 || chunks.length !== 1) return this.#badTag();
        this.#stats.packetsReceived++;
        this.#onInit(first as InitChunk);
        return;
      }
      if (first.type === CHUNK.COOKIE_ECHO && !("unknown" in first)) {
        const next = this.#onCookieEcho(first as CookieEchoChunk, vt, p);
        if (next < 0) return;
        start = next;
      } else if (first.type === CHUNK.SHUTDOWN_ACK && (this.#state === "cookie-wait" || this.#state === "cookie-echoed")) {
        // §8.5.1 E, §8.4 (5): while setting up, a SHUTDOWN ACK is out of the blue: answer SHUTDOWN
        // COMPLETE with its tag reflected (T bit). A peer still in SHUTDOWN-ACK-SENT for our previous
        // association answers each of our INITs with one (§9.2), and lets go only then; dropped as a
        // bad tag, the reconnect waited for the peer's T5 or failed.
        this.#sendNow(vt, [{ type: CHUNK.SHUTDOWN_COMPLETE, tBit: true }]);
        return;
      } else if (vt !== this.#localTag) {
        // §8.5.1 B, C: ABORT and SHUTDOWN COMPLETE with the T bit carry the peer's tag.
        const t = first.type === CHUNK.ABORT || first.type === CHUNK.SHUTDOWN_COMPLETE ? (first as { tBit?: boolean }).tBit : false;
        if (this.#peerTag !== 0 && vt === this.#peerTag && t === true) {
          this.#stats.packetsReceived++;
          if (first.type === CHUNK.ABORT) this.#onAbort((first as { causes: ErrorCause[] }).causes, true);
          else if (this.#state === "shutdown-ack-sent") this.#terminate({ kind: "shutdown", message: "association shut down" });
          return;
        }
        return this.#badTag();
      }
    }
    this.#stats.packetsReceived++;
    this.#lastHeardNow();
    for (let i = start; i < chunks.length; i++) {
      if (this.#isClosed()) return;
      if (!this.#onChunk(chunks[i])) break;
    }
    if (this.#isClosed()) return;
    this.#afterPacket();
  }

  /** @internal Ends the association without sending anything (peer restart, §5.2.4 A). */
  _terminate(reason: CloseReason): void {
    this.#terminate(reason);
  }

  // ------------------------------------------------------------- handshake

  #sendInit(): void {
    this.#handshakeSentAt = this.#clock.now();
    this.#sendNow(0, [this.#init!]);
    this.#t1.start(this.#t1Ms());
  }

  /** T1: the RTO, but never past the connect's failureTimeoutMs (it failed up to one backed-off RTO late). */
  #t1Ms(): number {
    return Math.min(this.#rto.rto, Math.max(1, this.#o.failureTimeoutMs - (this.#clock.now() - this.#connectStartedAt)));
  }

  #onT1(): void {
    if (this.#state !== "cookie-wait" && this.#state !== "cookie-echoed") return;
    const elapsed = this.#clock.now() - this.#connectStartedAt;
    if (++this.#initRetransmits > this.#o.maxInitRetransmits || elapsed >= this.#o.failureTimeoutMs) {
      const what = this.#state === "cookie-wait" ? "INIT" : "COOKIE ECHO";
      // In COOKIE-ECHOED the peer may have the association already (only its COOKIE ACK lost): told.
      this.#fail("timeout", `no answer to ${what} after ${this.#initRetransmits} attempts`, `no answer from you to ${what}`);
      return;
    }
    // §5.1 C, §6.3.3: back off and retransmit INIT (T1-init) or COOKIE ECHO (T1-cookie).
    this.#rto.backoff();
    if (this.#state === "cookie-wait") this.#sendInit();
    else this.#sendCookieEcho();
  }

  #sendCookieEcho(): void {
    this.#handshakeSentAt = this.#clock.now();
    this.#sendNow(this.#peerTag, [{ type: CHUNK.COOKIE_ECHO, cookie: this.#cookie! }, ...this.#cookieExtra]);
    this.#t1.start(this.#t1Ms());
  }

  /** §5.1 C: INIT ACK in COOKIE-WAIT; anywhere else it is discarded (§5.2.3). */
  #onInitAck(c: InitChunk): void {
    if (this.#state !== "cookie-wait") return;
    if (c.initiateTag === 0 || c.outboundStreams === 0 || c.inboundStreams === 0) {
      // §3.3.3: invalid mandatory fields destroy the association.
      this.#sendNow(c.initiateTag, [{ type: CHUNK.ABORT, tBit: false, causes: [invalidMandatoryParameterCause()] }]);
      this.#terminate({ kind: "error", message: "INIT ACK with an invalid mandatory parameter" });
      return;
    }
    const params = readInitParams(c, true);
    if (!params.cookie) {
      this.#sendNow(c.initiateTag, [{ type: CHUNK.ABORT, tBit: false, causes: [missingMandatoryParameterCause([PARAM.STATE_COOKIE])] }]);
      this.#terminate({ kind: "error", message: "INIT ACK without a State Cookie" });
      return;
    }
    if (this.#initRetransmits === 0) this.#rto.measure(this.#clock.now() - this.#handshakeSentAt);
    this.#peerTag = c.initiateTag;
    this.#setup(
      c.initialTsn,
      c.aRwnd,
      Math.min(this.#wantStreams, c.inboundStreams),
      Math.min(SCTP_DEFAULTS.maxInboundStreams, c.outboundStreams),
      this.#o.idata && params.idata,
    );
    this.#cookie = params.cookie.slice();
    // §3.2.2: unrecognized parameters of an INIT ACK are reported in an ERROR bundled with the COOKIE ECHO.
    this.#cookieExtra = params.unrecognized.length > 0
      ? [{ type: CHUNK.ERROR, causes: [unrecognizedParametersCause(params.unrecognized)] }]
      : [];
    this.#initRetransmits = 0;
    this.#setState("cookie-echoed");
    this.#sendCookieEcho();
  }

  /** Sets up the data path once the peer's parameters are known. */
  #setup(peerInitialTsn: number, peerRwnd: number, outStreams: number, inStreams: number, idata: boolean): void {
    this.#outStreams = outStreams;
    this.#inStreams = inStreams;
    this.#idata = idata;
    this.#tsns = new ReceivedTsns(peerInitialTsn);
    this.#reasm = new Reassembler(idata, this.#deliver, this.#o.maxMessageSize);
    this.#queue = new SendQueue(idata, peerRwnd);
    this.#peerRwnd = peerRwnd;
    this.#cc = new CongestionController(this.#pmtu, peerRwnd, this.#o.congestionControl);
    this.#lastAdvertised = this.#rwnd;
    this.#ready = true;
  }

  #establish(): void {
    this.#t1.stop();
    this.#setState("established");
    this.#lastHeardNow();
    this.#scheduleHeartbeat();
    this.#host.associationUp(this);
    if (this.#o.pmtud && this.#state === "established") this.#startPmtud();
  }

  /**
   * INIT for an existing association: §5.2.1 (COOKIE-WAIT / COOKIE-ECHOED:
   * answer with our original tag) and §5.2.2 (other states: a new tag, with
   * the current tags as tie-tags), §9.2 (SHUTDOWN-ACK-SENT: resend SHUTDOWN ACK).
   */
  #onInit(init: InitChunk): void {
    if (init.initiateTag === 0) return; // §3.3.2: silently discard
    if (init.outboundStreams === 0 || init.inboundStreams === 0) {
      this.#sendNow(init.initiateTag, [{ type: CHUNK.ABORT, tBit: false, causes: [invalidMandatoryParameterCause()] }]);
      return;
    }
    if (this.#state === "shutdown-ack-sent") {
      this.#sendNow(this.#peerTag, [{ type: CHUNK.SHUTDOWN_ACK }]);
      return;
    }
    const params = readInitParams(init, false);
    if (params.invalid) return;
    // Tag 0 from the peer's address and port: anyone can send it. Answers come out of the endpoint's budget.
    if (!this.#host.takeInitToken(this.remote.address)) return;
    let tag = this.#localTag;
    let tsn = this.#localInitialTsn;
    let localTie = 0;
    let peerTie = 0;
    if (this.#state === "cookie-echoed") {
      localTie = this.#localTag;
      peerTie = this.#peerTag;
    } else if (this.#state !== "cookie-wait") {
      tag = randomTag();
      tsn = random32();
      localTie = this.#localTag;
      peerTie = this.#peerTag;
    }
    const outbound = Math.min(this.#o.streams, init.inboundStreams);
    const inbound = Math.min(SCTP_DEFAULTS.maxInboundStreams, init.outboundStreams);
    const cookie = this.#host.cookies.make({
      flags: this.#o.idata && params.idata ? COOKIE_FLAG_IDATA : 0,
      localTag: tag,
      peerTag: init.initiateTag,
      localTieTag: localTie,
      peerTieTag: peerTie,
      localInitialTsn: tsn,
      peerInitialTsn: init.initialTsn,
      peerRwnd: init.aRwnd,
      outboundStreams: outbound,
      inboundStreams: inbound,
      localPort: this.localPort,
      peerPort: this.peerPort,
      address: this.remote.address,
      udpPort: this.remote.port,
    });
    const ack: InitChunk = {
      type: CHUNK.INIT_ACK,
      initiateTag: tag,
      aRwnd: this.#rwnd,
      outboundStreams: outbound,
      inboundStreams: SCTP_DEFAULTS.maxInboundStreams,
      initialTsn: tsn,
      params: [
        { type: PARAM.STATE_COOKIE, value: cookie },
        ...supportedExtensionsParam(this.#o.idata),
        ...unrecognizedParameterReports(params.unrecognized),
      ],
    };
    this.#sendNow(init.initiateTag, [ack]);
  }

  /**
   * COOKIE ECHO for an existing association (§5.2.4). Returns the index of
   * the next chunk to process, or -1 to stop.
   */
  #onCookieEcho(c: CookieEchoChunk, vt: number, p: Packet): number {
    const r = this.#host.cookies.open(c.cookie);
    if (!r.ok && r.reason === "invalid") return -1;
    const s = r.state;
    // Not the UDP port: the endpoint checked address and tag, and a NAT may have moved the peer since (RFC 6951 §5.4).
    if (s.address !== this.remote.address || s.localPort !== this.localPort || s.peerPort !== this.peerPort) return -1;
    if (vt !== s.localTag) return -1;
    const localMatch = s.localTag === this.#localTag;
    const peerMatch = this.#peerTag !== 0 && s.peerTag === this.#peerTag;
    const stale = !r.ok;
    if (localMatch && peerMatch) {
      // (D): the cookie of this very association, e.g. a retransmitted COOKIE ECHO.
      this.#lastHeardNow();
      if (this.#state === "cookie-wait" || this.#state === "cookie-echoed") this.#establish();
      this.#control.push({ type: CHUNK.COOKIE_ACK });
      return 1;
    }
    if (stale) {
      this.#sendNow(s.peerTag, [{ type: CHUNK.ERROR, causes: [staleCookieCause(r.stalenessUs)] }]);
      return -1;
    }
    if (localMatch) {
      // (B): setup collision; the peer's tag is the one in the cookie.
      if (this.#state !== "cookie-wait" && this.#state !== "cookie-echoed") {
        // Already established: take the peer's tag (it chose it for this association).
        this.#peerTag = s.peerTag;
      } else {
        this.#peerTag = s.peerTag;
        this.#setup(s.peerInitialTsn, s.peerRwnd, s.outboundStreams, s.inboundStreams, this.#o.idata && (s.flags & COOKIE_FLAG_IDATA) !== 0);
        this.#establish();
      }
      this.#lastHeardNow();
      this.#control.push({ type: CHUNK.COOKIE_ACK });
      return 1;
    }
    if (!peerMatch && s.localTieTag === this.#localTag && s.peerTieTag === this.#peerTag && s.localTieTag !== 0) {
      // (A): the peer restarted. The old association ends; a new one takes its place.
      if (this.#state === "shutdown-ack-sent") {
        // §5.2.4 A: not while we are shutting down.
        this.#sendNow(s.peerTag, [
          { type: CHUNK.SHUTDOWN_ACK },
          { type: CHUNK.ERROR, causes: [{ code: CAUSE.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN, info: new Uint8Array(0) }] },
        ]);
        return -1;
      }
      this.#host.peerRestarted(this, s, p, 1);
      return -1;
    }
    // (C) and anything else: silently discard.
    return -1;
  }

  // ------------------------------------------------------------ chunk intake

  /** Handles one chunk; returns false to stop processing the packet. */
  #onChunk(c: Chunk): boolean {
    if ("unknown" in c) return this.#onUnknownChunk(c.type, c.flags, c.value);
    switch (c.type) {
      case CHUNK.DATA:
      case CHUNK.I_DATA:
        this.#onData(c as DataChunk | IDataChunk);
        return true;
      case CHUNK.SACK:
        this.#onSack(c as SackChunk, true);
        return true;
      case CHUNK.HEARTBEAT:
        // §8.3: echo the Heartbeat Information back (not the probe padding).
        if (this.#state !== "cookie-wait") this.#control.push({ type: CHUNK.HEARTBEAT_ACK, info: (c as HeartbeatChunk).info });
        return true;
      case CHUNK.HEARTBEAT_ACK:
        this.#onHeartbeatAck((c as HeartbeatChunk).info);
        return true;
      case CHUNK.ABORT:
        // §8.5.1 B: with the T bit set it must carry the peer's tag, not ours.
        if (c.tBit) return true;
        this.#onAbort(c.causes);
        return false;
      case CHUNK.SHUTDOWN:
        this.#onShutdown(c.cumulativeTsnAck);
        return true;
      case CHUNK.SHUTDOWN_ACK:
        this.#onShutdownAck();
        return true;
      case CHUNK.SHUTDOWN_COMPLETE:
        if (!c.tBit && this.#state === "shutdown-ack-sent") this.#terminate({ kind: "shutdown", message: "association shut down" });
        return true;
      case CHUNK.ERROR:
        this.#onError(c.causes);
        return true;
      case CHUNK.INIT_ACK:
        this.#onInitAck(c as InitChunk);
        return false;
      case CHUNK.COOKIE_ACK:
        // §5.1 E; a duplicate COOKIE ACK is discarded (§5.2.5).
        if (this.#state === "cookie-echoed") {
          if (this.#initRetransmits === 0) this.#rto.measure(this.#clock.now() - this.#handshakeSentAt);
          this.#establish();
        }
        return true;
      case CHUNK.INIT:
      case CHUNK.COOKIE_ECHO:
        // INIT must travel alone (§6.10); a COOKIE ECHO must come first (§6.10).
        return false;
      default:
        // PAD (probe filler), ECNE/CWR (ECN is not negotiated), FORWARD TSN
        // (PR-SCTP is not negotiated): nothing to do.
        return true;
    }
  }

  /** §3.2: unrecognized chunk types act on their two upper bits. */
  #onUnknownChunk(type: number, flags: number, value: Uint8Array): boolean {
    const action = type >>> 6;
    if ((action === 1 || action === 3) && this.#peerTag !== 0) {
      this.#control.push({ type: CHUNK.ERROR, causes: [unrecognizedChunkTypeCause({ type, flags, value, unknown: true })] });
    }
    return action >= 2;
  }

  #onAbort(causes: ErrorCause[], reflected = false): void {
    const text = describeCauses(causes) || (reflected ? "it has no association with us (it restarted, or our address changed)" : "");
    const reason: CloseReason = { kind: "peer-abort", message: text ? `peer aborted: ${text}` : "peer aborted" };
    if (reflected) reason.unknownToPeer = true;
    const user = causes.find((c) => c.code === CAUSE.USER_INITIATED_ABORT);
    const said = user ? causeText(user) : "";
    if (said) reason.peerReason = said;
    this.#terminate(reason);
  }

  #onError(causes: ErrorCause[]): void {
    for (const cause of causes) {
      if (cause.code === CAUSE.STALE_COOKIE && this.#state === "cookie-echoed") {
        // §5.2.6: start over with a fresh INIT (counts against Max.Init.Retransmits).
        if (++this.#staleCookies > this.#o.maxInitRetransmits) {
          this.#terminate({ kind: "timeout", message: "the peer keeps reporting our State Cookie as stale" });
          return;
        }
        this.#peerTag = 0;
        this.#ready = false;
        this.#setState("cookie-wait");
        this.#sendInit();
        return;
      }
    }
  }

  // ------------------------------------------------------------ data intake

  /** §6.2: a DATA or I-DATA chunk. */
  #onData(c: DataChunk | IDataChunk): void {
    if (!this.#ready || this.#state === "cookie-wait" || this.#state === "cookie-echoed") return;
    const isIData = c.type === CHUNK.I_DATA;
    if (isIData !== this.#idata) {
      // RFC 8260 §2.2: with I-DATA negotiated, DATA is a violation, and vice versa.
      this.#protocolViolation(isIData ? "I-DATA chunk without I-DATA negotiated" : "DATA chunk on an I-DATA association");
      return;
    }
    this.#dataInPacket = true;
    const tsn = c.tsn;
    const tsns = this.#tsns;
    const d = (tsn - tsns.cum) | 0;
    if (d <= 0 || tsns.has(tsn)) {
      // §6.2: duplicates are reported in the next SACK, sent at once.
      this.#stats.duplicateTsns++;
      if (this.#dups.length < SCTP_DEFAULTS.maxDuplicateTsns) this.#dups.push(tsn);
      this.#immediateSack = true;
      return;
    }
    const len = c.userData.length;
    if (len === 0) {
      // §6.2: a DATA chunk with no user data aborts the association.
      this.#sendNow(this.#peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [noUserDataCause(tsn)] }]);
      this.#terminate({ kind: "error", message: "peer sent a DATA chunk without user data" });
      return;
    }
    if (d > 65000) {
      // Far beyond any window we advertised (and beyond what a gap block can express).
      this.#stats.windowDrops++;
      this.#immediateSack = true;
      return;
    }
    if (this.#reasm.bytesHeld + this.#heldBytes + len > this.#rwnd && !this.#roomPastWindow(tsn, len, c.streamId)) {
      this.#stats.windowDrops++;
      this.#immediateSack = true;
      return;
    }
    if (!(c.beginning && c.ending) && this.#reasm.fragmentsHeld >= this.#maxHeldFragments()) {
      // The byte bounds above count user data; each held fragment costs an
      // object too, so their number is bounded as if each held 64 bytes.
      // Dropping the fragment would stall for good (a message cut finer than
      // that could never complete): end the association, saying why (§3.3.10.4).
      const why = `the peer's messages are cut into fragments of under 64 bytes (${this.#reasm.fragmentsHeld} held at once)`;
      this.#emit();
      this.#sendNow(this.#peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [outOfResourceCause()] }]);
      this.#terminate({ kind: "error", message: why });
      return;
    }
    tsns.add(tsn);
    if (c.streamId >= this.#inStreams) {
      // §6.5: acknowledge the TSN, report the invalid stream, drop the data.
      this.#control.push({ type: CHUNK.ERROR, causes: [invalidStreamIdentifierCause(c.streamId)] });
      this.#immediateSack = true;
      return;
    }
    if (d !== 1 || tsns.hasGaps) this.#immediateSack = true; // §6.7: report gaps at once
    if (c.immediate) this.#immediateSack = true; // RFC 7053 I bit
    this.#stats.bytesReceived += len;
    const ok = this.#reasm.add({
      tsn,
      streamId: c.streamId,
      unordered: c.unordered,
      beginning: c.beginning,
      ending: c.ending,
      seq: isIData ? (c as IDataChunk).mid : (c as DataChunk).ssn,
      fsn: isIData ? (c as IDataChunk).fsn : 0,
      ppid: c.ppid,
      userData: c.userData,
    });
    if (!ok) this.#protocolViolation(`inconsistent message fragments, or a message over this endpoint's maxMessageSize (${this.#o.maxMessageSize} bytes)`);
  }

  /** Reassembly hands complete messages here, in stream order. */
  #deliver = (streamId: number, data: Uint8Array, ppid: number): void => {
    if (this.#state === "closed") return;
    if (this.#paused && this.#readWhilePaused(streamId)) {
      this.#emitSafe("message", streamId, data, ppid);
      return;
    }
    if (this.#paused || this.#heldHead < this.#held.length || this.listenerCount("message") === 0) {
      this.#held.push({ streamId, data, ppid });
      this.#heldBytes += heldCost(data.length);
      return;
    }
    this.#emitSafe("message", streamId, data, ppid);
  };

  /** Whether, while paused, a message of `streamId` is delivered rather than held. */
  #readWhilePaused(streamId: number): boolean {
    return this.#pauseExcept?.has(streamId) === true && this.listenerCount("message") > 0 && !this.#holds(streamId);
  }

  /** Whether a message of `streamId` is held (then later ones wait behind it: one stream, one order). */
  #holds(streamId: number): boolean {
    for (let i = this.#heldHead; i < this.#held.length; i++) if (this.#held[i].streamId === streamId) return true;
    return false;
  }

  #drainHeld(): void {
    let delivered = false;
    while (!this.#paused && this.#heldHead < this.#held.length && (this.#state !== "closed" || this.#heldPastClose) && this.listenerCount("message") > 0) {
      const m = this.#held[this.#heldHead];
      this.#held[this.#heldHead++] = undefined as unknown as HeldMessage;
      this.#heldBytes -= heldCost(m.data.length);
      delivered = true;
      this.#emitSafe("message", m.streamId, m.data, m.ppid);
    }
    if (this.#heldHead >= this.#held.length) {
      this.#held = [];
      this.#heldHead = 0;
    }
    // After the peer's SHUTDOWN it sends no more data, and a window update could only reach an
    // endpoint that has forgotten the association (its ABORT would end ours).
    const peerMaySend = this.#state !== "closed" && this.#state !== "shutdown-received" && this.#state !== "shutdown-ack-sent";
    if (delivered && peerMaySend && this.#ready) {
      // §6.2 window update: tell the peer once the window opened by at least
      // min(half the buffer, one MTU) since we last advertised it.
      const threshold = Math.min(this.#rwnd / 2, this.#pmtu);
      if (this.#freeWindow() - this.#lastAdvertised >= threshold) {
        const wasShut = this.#lastAdvertised < this.#pmtu;
        this.#sackNeeded = true;
        this.#sackNow = true;
        this.#flush();
        if (wasShut) {
          this.#windowUpdateRepeats = 0;
          this.#windowUpdateMs = Math.min(this.#rto.rto, WINDOW_UPDATE_REPEAT_MAX_MS);
          this.#windowUpdateTimer.start(this.#windowUpdateMs);
        }
      }
    }
  }

  #freeWindow(): number {
    return Math.max(0, this.#rwnd - this.#reasm.bytesHeld - this.#heldBytes);
  }

  /**
   * Bytes held up to which #onData takes data past the window: one message
   * more while only reassembly (not a paused application) holds the buffer.
   */
  #reassemblyCeiling(): number {
    return this.#heldBytes === 0 ? this.#rwnd + this.#o.maxMessageSize : this.#rwnd;
  }

  /**
   * §6.2, past the window: whether to take a chunk of `len` bytes at `tsn`
   * on stream `streamId`.
   *
   * New data, beyond the highest TSN received, is taken up to one message
   * more than the window while only reassembly (not a paused application)
   * holds the buffer, so that a message larger than the window cannot
   * deadlock (and #advertisedRwnd says so).
   *
   * A chunk below the highest fills a hole, within the same bound, except
   * that on a stream the paused application still reads (pause's `except`;
   * what it completes is delivered, not held) what is held for the other
   * streams does not count: else those would stall a stream that is read.
   * A peer that sends one far TSN first so cannot have every TSN below it
   * held, whatever the window.
   *
   * Past the bound, the chunk at the cumulative TSN + 1, which lets held data
   * go, is still taken if the receiver can make room by reneging on the
   * highest TSNs held for reordering (§6.2: it "SHOULD drop the largest TSN
   * held for reordering and accept the new incoming DATA chunk"), which later
   * SACKs leave out and the peer sends again. Without that, a window that
   * shrank under data held above a hole refused the hole's chunk for good.
   * Reneging frees half a window past the need, so a scan of everything held
   * comes at most once per half a window of data taken; a scan that cannot
   * make room gives nothing up, and while nothing held changes, chunks it
   * could not make room for are refused without another.
   */
  #roomPastWindow(tsn: number, len: number, streamId: number): boolean {
    const reasm = this.#reasm;
    if (reasm.bytesHeld + this.#heldBytes + len <= this.#reassemblyCeiling()) return true;
    const tsns = this.#tsns;
    if (!tsnLt(tsn, tsns.highest)) return false;
    const othersHeld = this.#paused && this.#readWhilePaused(streamId) ? 0 : this.#heldBytes;
    const over = reasm.bytesHeld + othersHeld + len - (othersHeld === 0 ? this.#rwnd + this.#o.maxMessageSize : this.#rwnd);
    if (over <= 0) return true;
    if (tsn !== ((tsns.cum + 1) >>> 0)) return false;
    const failed = this.#renegeFailed;
    if (failed !== undefined && failed.tsn === tsn && failed.changes === reasm.changes && over > failed.available) return false;
    const { freed, available } = this.#renege(tsn, over + Math.floor(this.#rwnd / 2), over);
    this.#renegeFailed = freed >= over ? undefined : { tsn, changes: reasm.changes, available };
    return freed >= over;
  }

  /**
   * Reneging (§6.2): gives up data held for reordering with TSNs above
   * `above` (and the cumulative TSN), highest first, until `bytes` are
   * freed, if at least `atLeast` can be; the next SACK, sent at once, leaves
   * those TSNs out. Returns the bytes freed and those that could have been.
   */
  #renege(above: number, bytes: number, atLeast: number): { freed: number; available: number } {
    const tsns = this.#tsns;
    const gone: number[] = [];
    const result = this.#reasm.renege(tsns.cum, above, bytes, atLeast, (tsn) => gone.push(tsn));
    if (gone.length > 0) {
      this.#stats.renegedTsns += tsns.removeAll(gone);
      this.#immediateSack = true;
    }
    return result;
  }

  /** Fragments of incomplete messages held at most: the most bytes #onData takes, in fragments of 64 bytes. */
  #maxHeldFragments(): number {
    return Math.ceil((2 * this.#rwnd + this.#o.maxMessageSize) / 64);
  }

  /** a_rwnd to advertise, with receiver-side silly window avoidance (§6.2). */
  #advertisedRwnd(): number {
    if (this.#heldBytes === 0 && this.#reasm.bytesHeld >= this.#rwnd) {
      // A message larger than the window fills it with its own fragments. Data
      // is still taken up to one more message (#onData): advertise that room,
      // or the rest of the message moves one chunk per round trip (zero-window
      // probes).
      return Math.max(0, this.#reassemblyCeiling() - this.#reasm.bytesHeld);
    }
    const free = this.#freeWindow();
    return free < Math.min(this.#rwnd / 2, this.#pmtu) ? 0 : free;
  }

  #makeSack(): SackChunk {
    this.#sackNeeded = false;
    this.#sackNow = false;
    this.#packetsSinceSack = 0;
    this.#sackTimer.stop();
    const aRwnd = this.#advertisedRwnd();
    this.#lastAdvertised = aRwnd;
    const room = Math.max(1, Math.floor((this.#pmtu - SCTP_SIZES.commonHeader - 16 - 4 * this.#dups.length) / 4));
    const dups = this.#dups;
    if (dups.length > 0) this.#dups = [];
    return {
      type: CHUNK.SACK,
      cumulativeTsnAck: this.#tsns.cum,
      aRwnd,
      gapBlocks: this.#tsns.hasGaps ? this.#tsns.gapBlocks(Math.min(room, SCTP_DEFAULTS.maxGapBlocks)) : [],
      duplicateTsns: dups,
    };
  }

  /** After a packet: decide about the SACK (§6.2 delayed ack) and send what is due. */
  #afterPacket(): void {
    if (this.#dataInPacket) {
      this.#dataInPacket = false;
      // Data came: a window update waiting to be said again got through.
      this.#windowUpdateTimer.stop();
      if (this.#state === "shutdown-sent") {
        // §9.2: in SHUTDOWN-SENT every packet with DATA gets a SHUTDOWN (plus a SACK if gaps or duplicates).
        this.#queueShutdown();
        if (this.#tsns.hasGaps || this.#dups.length > 0) {
          this.#sackNeeded = true;
          this.#sackNow = true;
        }
        this.#t2.start(this.#rto.rto);
      } else {
        this.#sackNeeded = true;
        if (++this.#packetsSinceSack >= SCTP_DEFAULTS.sackEveryPackets || this.#immediateSack) this.#sackNow = true;
        else this.#sackTimer.startIfIdle(this.#o.sackDelayMs);
      }
    }
    this.#immediateSack = false;
    // Everything this packet made due (SACK, retransmissions, new data) goes
    // out once the current batch of received datagrams has been processed:
    // fewer, fuller packets and one SACK per batch of arrivals.
    this.#scheduleFlush();
  }

  // ----------------------------------------------------------- SACK intake

  /**
   * §6.2.1 (SACK processing) and §7.2.4 (miss indications, fast
   * retransmit). `gapInfo` is false for the cumulative ack of a SHUTDOWN
   * chunk, which says nothing about gaps or the window.
   */
  #onSack(s: SackChunk, gapInfo: boolean): void {
    if (!this.#ready || this.#state === "cookie-wait" || this.#state === "cookie-echoed") return;
    const cum = s.cumulativeTsnAck;
    // §6.2.1 D i: a SACK older than the Cumulative TSN Ack Point is stale.
    if (tsnLt(cum, this.#lastCumAck)) return;
    if (tsnGte(cum, this.#nextTsn)) {
      this.#protocolViolation("SACK acknowledges a TSN that was never sent");
      return;
    }
    const now = this.#clock.now();
    const flightBefore = this.#flight;
    const cumAdvanced = cum !== this.#lastCumAck;
    const sent = this.#sent;
    let acked = 0;
    let htna = 0;
    let anyNew = false;
    /** Latest send time of a chunk sent once and newly acknowledged by this SACK (RFC 8985 RACK.xmit_ts). */
    let latestSentAt = -1;
    /** The most recently sent chunk this SACK newly acknowledges: the delivery-rate sample. */
    let rs: OutChunk | undefined;
    // Cumulative part.
    while (this.#sentHead < sent.length) {
      const c = sent[this.#sentHead]!;
      if (tsnGt(c.tsn, cum)) break;
      const len = c.userData.length;
      if (c.acked) {
        this.#gapAcked -= len;
      } else {
        acked += len;
        htna = c.tsn;
        anyNew = true;
        if (c.transmissions === 1 && c.sentAt > latestSentAt) latestSentAt = c.sentAt;
        if (rs === undefined || c.sentAt >= rs.sentAt) rs = c;
        if (c === this.#rttProbe) {
          // §6.3.1 C5 with Karn: only chunks sent once are measured.
          if (c.transmissions === 1) this.#rto.measure(now - c.sentAt);
          this.#rttProbe = undefined;
        }
      }
      if (c.inFlight) this.#leaveFlight(c);
      c.acked = true;
      c.marked = false;
      this.#unacked -= len;
      if (c.release !== undefined) releaseBuffer(c.release);
      if (c.ending) this.#countAcknowledged(c.streamId);
      sent[this.#sentHead++] = undefined;
    }
    if (this.#sentHead === sent.length) {
      this.#sent = [];
      this.#sentHead = 0;
    } else if (this.#sentHead > 4096 && this.#sentHead * 2 > sent.length) {
      this.#sent = sent.slice(this.#sentHead);
      this.#sentHead = 0;
    }
    this.#lastCumAck = cum;
    if (this.#rttProbe && tsnLte(this.#rttProbe.tsn, cum)) this.#rttProbe = undefined;

    let newlyMarked: OutChunk[] | undefined;
    if (gapInfo && this.#sentHead < this.#sent.length) {
      const list = this.#sent;
      const gaps = s.gapBlocks;
      if (gaps.length > 0) {
        const lastEnd = gaps[gaps.length - 1].end;
        let g = 0;
        for (let i = this.#sentHead; i < list.length; i++) {
          const c = list[i]!;
          const off = (c.tsn - cum) >>> 0;
          if (off > lastEnd) break;
          while (g < gaps.length && gaps[g].end < off) g++;
          const inGap = g < gaps.length && gaps[g].start <= off;
          if (inGap) {
            if (!c.acked) {
              const len = c.userData.length;
              c.acked = true;
              this.#gapAcked += len;
              acked += len;
              htna = c.tsn;
              anyNew = true;
              if (c.transmissions === 1 && c.sentAt > latestSentAt) latestSentAt = c.sentAt;
              if (rs === undefined || c.sentAt >= rs.sentAt) rs = c;
              c.marked = false;
              if (c.inFlight) this.#leaveFlight(c);
              if (c === this.#rttProbe) {
                if (c.transmissions === 1) this.#rto.measure(now - c.sentAt);
                this.#rttProbe = undefined;
              }
            }
          } else if (c.acked) {
            // The peer reneged on a gap-acked chunk (§6.2): send it again.
            c.acked = false;
            this.#gapAcked -= c.userData.length;
            c.marked = true;
            (newlyMarked ??= []).push(c);
          }
        }
        if (anyNew) newlyMarked = this.#detectLosses(htna, latestSentAt, now, newlyMarked);
      } else {
        // No gap blocks: anything previously gap-acked beyond cum was reneged.
        for (let i = this.#sentHead; i < list.length; i++) {
          const c = list[i]!;
          if (c.acked) {
            c.acked = false;
            this.#gapAcked -= c.userData.length;
            c.marked = true;
            (newlyMarked ??= []).push(c);
          }
        }
      }
    }
    if (gapInfo) {
      // §6.2.1 D iv: rwnd = a_rwnd minus what is still outstanding.
      this.#peerRwnd = Math.max(0, s.aRwnd - this.#flight - this.#flightOverhead);
      // §6.1 A: SACKs arriving while the window is zero keep probes from counting as errors.
      if (s.aRwnd === 0) this.#errors = 0;
    }
    if (rs !== undefined && acked > 0) {
      // draft-ietf-ccwg-bbr §4.1.2: rate = delivered / max(send interval, ack interval).
      this.#delivered += acked;
      if (this.#appLimitedUntil !== 0 && this.#delivered > this.#appLimitedUntil) this.#appLimitedUntil = 0;
      this.#deliveredTime = now;
      this.#firstSentTime = rs.sentAt;
      const interval = Math.max(rs.sentAt - rs.firstSentAtSend, now - rs.deliveredTimeAtSend);
      const rate = interval > 0 ? (this.#delivered - rs.deliveredAtSend) / interval : 0;
      this.#cc.onRateSample(rate, rs.transmissions === 1 ? now - rs.sentAt : -1, this.#delivered, rs.deliveredAtSend, now, rs.appLimited);
    }
    this.#cc.onSack(acked, cumAdvanced, flightBefore, cum, now, this.#rto.srtt);
    if (newlyMarked) {
      if (this.#fastRtxPending) this.#cc.onFastRetransmit((this.#nextTsn - 1) >>> 0);
      this.#queueRetransmissions(newlyMarked);
    }
    // §6.3.2 R2/R3 (and R4 for reneged chunks).
    if (this.#sentHead === this.#sent.length) {
      this.#t3.stop();
      this.#pto.stop();
      this.#cc.onAllAcked();
    } else if (cumAdvanced) {
      this.#t3.start(this.#rto.rto);
    } else if (newlyMarked) {
      this.#t3.startIfIdle(this.#rto.rto);
    }
    if (anyNew) {
      // §8.3: an acknowledgement of outstanding data clears the error counter.
      this.#errors = 0;
      this.#t3Streak = 0;
      this.#ptoStreak = 0;
      this.#fellBackFrom = 0;
      if (this.#sentHead < this.#sent.length) this.#armPto(true);
    }
    this.#checkDrain();
    if (this.#state === "shutdown-pending") this.#maybeShutdown();
    else if (this.#state === "shutdown-received") this.#maybeShutdownAck();
  }

  /** `c` leaves the network: acknowledged, or deemed lost. */
  #leaveFlight(c: OutChunk): void {
    const len = c.userData.length;
    this.#flight -= len;
    this.#flightOverhead -= heldCost(len) - len;
    c.inFlight = false;
  }

  /**
   * Loss detection on a SACK that acknowledged something new (§7.2.4),
   * walking the outstanding chunks from the highest down so that the bytes
   * acknowledged above each one are known. A chunk below the highest newly
   * acknowledged TSN (the HTNA rule) is deemed lost and marked for fast
   * retransmission when:
   * - it collected three miss indications, one per SACK (§7.2.4), or
   * - more than two full packets' worth of data sent after it was
   *   gap-acknowledged: the RFC 6675 §4 IsLost() rule (DupThresh = 3). The
   *   peer acknowledges once per batch of arriving datagrams, so one SACK
   *   often reports what three would have; counting SACKs alone left a hole
   *   unrepaired for three batches, usually until T3-rtx.
   * A chunk that was already fast-retransmitted (§7.2.4 step 5 allows that
   * once) is deemed lost again when data sent after its retransmission has
   * been acknowledged and more than 1.25 SRTT passed since it (RFC 8985
   * RACK, reordering window SRTT/4), so a lost retransmission is repaired
   * without waiting for T3-rtx and collapsing cwnd to one MTU.
   */
  #detectLosses(htna: number, latestSentAt: number, now: number, newlyMarked: OutChunk[] | undefined): OutChunk[] | undefined {
    const list = this.#sent;
    let top = this.#sentHead;
    while (top < list.length && tsnLt(list[top]!.tsn, htna)) top++;
    const dupBytes = 2 * this.#pmtu;
    const rackWindow = this.#rto.srtt * 1.25;
    let ackedAbove = 0;
    let marked: OutChunk[] | undefined;
    for (let i = list.length - 1; i >= this.#sentHead; i--) {
      const c = list[i]!;
      if (c.acked) {
        ackedAbove += c.userData.length;
        continue;
      }
      if (i >= top || c.marked || !c.inFlight) continue;
      let lost: boolean;
      if (c.fastRetransmitted) {
        lost = latestSentAt > c.sentAt && now - c.sentAt > rackWindow;
      } else {
        lost = ++c.misses >= 3 || ackedAbove > dupBytes;
      }
      if (!lost) continue;
      c.misses = 0;
      c.marked = true;
      c.fastRetransmitted = true;
      this.#leaveFlight(c);
      (marked ??= []).push(c);
      this.#fastRtxPending = true;
      this.#stats.fastRetransmits++;
    }
    if (!marked) return newlyMarked;
    marked.reverse();
    if (!newlyMarked) return marked;
    for (const c of marked) newlyMarked.push(c);
    newlyMarked.sort((a, b) => (a.tsn - b.tsn) | 0);
    return newlyMarked;
  }

  #queueRetransmissions(chunks: OutChunk[]): void {
    const rtx = this.#rtx;
    const sorted = this.#rtxHead >= rtx.length || tsnLt(rtx[rtx.length - 1].tsn, chunks[0].tsn);
    for (const c of chunks) rtx.push(c);
    if (!sorted) {
      const rest = rtx.slice(this.#rtxHead).filter((c) => c.marked);
      rest.sort((a, b) => (a.tsn - b.tsn) | 0);
      this.#rtx = rest;
      this.#rtxHead = 0;
    }
  }

  #nextMarked(): OutChunk | undefined {
    const rtx = this.#rtx;
    while (this.#rtxHead < rtx.length) {
      const c = rtx[this.#rtxHead];
      if (c.marked && !c.acked) return c;
      this.#rtxHead++;
    }
    if (rtx.length > 0) {
      this.#rtx = [];
      this.#rtxHead = 0;
    }
    return undefined;
  }

  #checkDrain(): void {
    const low = this.bufferedAmount <= this.#sendHighWater / 2 && this.#queue.queuedMessages <= this.#o.sendHighWaterMessages / 2;
    if (this.#needDrain && low && this.#state !== "closed") {
      this.#needDrain = false;
      this.#emitSafe("drain");
    }
  }

  // ---------------------------------------------------------------- timers

  /** §6.3.3: T3-rtx expired. */
  #onT3(): void {
    if (this.#sentHead >= this.#sent.length || this.#state === "closed") return;
    if (this.#checkDead()) return;
    this.#stats.t3Expiries++;
    // §6.1 A: an unanswered zero-window probe does not count as an error while SACKs still arrive.
    const zeroWindowProbe = this.#peerRwnd === 0 && this.#clock.now() - this.#lastHeard < this.#rto.rto;
    if (!zeroWindowProbe && ++this.#errors > this.#o.associationMaxRetrans) {
      // Chunks cut for the size that stopped getting through are resent whole (a TSN is never cut
      // again), so a path that shrank under them ends here: say so.
      const shrank = this.#fellBackFrom > 0
        ? `; packets of ${this.#fellBackFrom} bytes had stopped getting through (the path's packet size shrank), and data already cut to that size cannot be resent smaller`
        : "";
      this.#fail("timeout", `peer unreachable: ${this.#errors - 1} retransmissions unanswered${shrank}`, `no answer from you to our retransmissions${shrank}`);
      return;
    }
    this.#cc.onTimeout((this.#nextTsn - 1) >>> 0); // E1
    this.#rto.backoff(); // E2
    this.#rttProbe = undefined; // Karn
    this.#fastRtxPending = false;
    const list = this.#sent;
    const rtx: OutChunk[] = [];
    for (let i = this.#sentHead; i < list.length; i++) {
      const c = list[i]!;
      if (c.acked) continue;
      if (c.inFlight) this.#leaveFlight(c);
      c.marked = true;
      c.misses = 0;
      rtx.push(c);
    }
    this.#rtx = rtx;
    this.#rtxHead = 0;
    // RFC 8899 §4.3: packets of the PLPMTU stopped getting through: fall back to the base size. Not for
    // zero-window probes: a receiver that paused (a slow disk) dropped them, and the path was taken for a
    // black hole, falling from 65,504 to 1,200 bytes for a minute.
    if (!zeroWindowProbe && ++this.#t3Streak >= SCTP_DEFAULTS.pmtuBlackHoleT3 && this.#search && this.#pmtu > this.#search.base) {
      this.#fellBackFrom = this.#pmtu;
      this.#search.blackHole();
      this.#setPmtu(this.#search.pmtu);
      this.#probeTimer.start(SCTP_DEFAULTS.pmtuRaiseIntervalMs / 10);
    }
    // E3: retransmit as much as one MTU of cwnd allows; the flush restarts T3 (R1).
    this.#flush();
  }

  /**
   * The probe timeout: two smoothed RTTs (at least 10 ms, at most the RTO)
   * after the last acknowledgement that told us something new
   * (RFC 8985 §7.2). With a few probes in a row it doubles, like the RTO.
   * Until an RTT is measured it is the RTO (1 s at first, §7.2), so no probe
   * is armed (see {@link Association.#armPto}): the side that accepted the
   * association takes no sample during the handshake, and a 10 ms probe on a
   * longer path resent each message twice and, resending the chunk being
   * timed, discarded its sample (Karn) every time.
   */
  #ptoMs(): number {
    if (!this.#rto.measured) return this.#rto.rto;
    const base = Math.max(2 * this.#rto.srtt, 10) * 2 ** this.#ptoStreak;
    return Math.min(base, this.#rto.rto);
  }

  /**
   * Arms the probe timer (restarting it, or only when idle), unless it would
   * fire no sooner than T3-rtx: both would then resend the same chunk at the
   * same moment (RFC 8985 §7.2 arms no probe past the RTO). So before the first
   * RTT sample, and once probes have backed off to the RTO, T3-rtx alone acts.
   */
  #armPto(restart: boolean): void {
    const ms = this.#ptoMs();
    if (ms >= this.#rto.rto) this.#pto.stop();
    else if (restart) this.#pto.start(ms);
    else this.#pto.startIfIdle(ms);
  }

  /**
   * Tail-loss probe (RFC 8985 §7, adapted): data is outstanding and no SACK
   * has reported progress for a PTO. Loss detection only runs when a SACK
   * acknowledges something new, so a lost last packet, or a lost
   * retransmission with nothing sent after it, would otherwise wait for
   * T3-rtx, which collapses cwnd to one MTU (§7.2.3) and costs at least
   * RTO.min. The probe retransmits the lowest outstanding chunks (one
   * packet, regardless of cwnd, as §7.2.4 step 3 does) without touching
   * cwnd; its SACK restarts loss detection. After two probes without
   * progress T3-rtx takes over.
   */
  #onPto(): void {
    if (this.#state === "closed" || this.#sentHead >= this.#sent.length || this.#ptoStreak >= 2) return;
    const list = this.#sent;
    const probe: OutChunk[] = [];
    let size = SCTP_SIZES.commonHeader;
    for (let i = this.#sentHead; i < list.length; i++) {
      const c = list[i]!;
      if (c.acked || c.marked) continue;
      if (probe.length > 0 && size + c.size > this.#pmtu) break;
      size += c.size;
      probe.push(c);
    }
    this.#ptoStreak++;
    if (probe.length === 0) return;
    for (const c of probe) {
      if (c.inFlight) this.#leaveFlight(c);
      c.marked = true;
      c.misses = 0;
      // A lost probe is then found by the time-based rule of #detectLosses.
      c.fastRetransmitted = true;
    }
    this.#stats.tailLossProbes++;
    this.#queueRetransmissions(probe);
    this.#fastRtxPending = true;
    this.#armPto(true);
    this.#flush();
  }

  /** T2-shutdown (§9.2): resend SHUTDOWN or SHUTDOWN ACK. */
  #onT2(): void {
    if (this.#state !== "shutdown-sent" && this.#state !== "shutdown-ack-sent") return;
    if (++this.#errors > this.#o.associationMaxRetrans) {
      this.#fail("timeout", "peer did not answer SHUTDOWN", "no answer from you to SHUTDOWN");
      return;
    }
    this.#rto.backoff();
    if (this.#state === "shutdown-sent") this.#queueShutdown();
    else this.#control.push({ type: CHUNK.SHUTDOWN_ACK });
    this.#t2.start(this.#rto.rto);
    this.#flush();
  }

  #lastHeardNow(): void {
    this.#lastHeard = this.#clock.now();
    this.#wordsHeard++;
  }

  /** Reports the peer dead when nothing was heard for failureTimeoutMs. */
  #checkDead(): boolean {
    const silent = this.#clock.now() - this.#lastHeard;
    if (silent >= this.#o.failureTimeoutMs) {
      this.#fail("timeout", `peer silent for ${Math.round(silent)} ms`, `nothing heard from you for ${Math.round(silent / 1000)} s`, Math.round(silent));
      return true;
    }
    return false;
  }

  /**
   * Heartbeats (§8.3) for an idle association, and the failure deadline.
   * While data is outstanding, T3-rtx does the probing.
   */
  #onHeartbeatTimer(): void {
    if (this.#state === "closed" || this.#state === "cookie-wait" || this.#state === "cookie-echoed") return;
    if (this.#checkDead()) return;
    if (this.#state === "shutdown-ack-sent") {
      // T2 retransmits the SHUTDOWN ACK; a heartbeat would reach a peer that, its SHUTDOWN
      // COMPLETE lost, has forgotten us and answers ABORT. The failure deadline still holds.
      this.#scheduleHeartbeat();
      return;
    }
    const now = this.#clock.now();
    if (this.#hbOutstanding && now - this.#hbSentAt >= this.#rto.rto) {
      // Unanswered within an RTO: count it, back off, try again.
      this.#hbOutstanding = false;
      if (++this.#errors > this.#o.associationMaxRetrans) {
        this.#fail("timeout", "peer did not answer heartbeats", "no answer from you to heartbeats");
        return;
      }
      this.#rto.backoff();
      this.#sendHeartbeat();
    } else if (!this.#hbOutstanding && now - this.#lastHeard >= this.#o.heartbeatIntervalMs && this.#sentHead >= this.#sent.length) {
      this.#sendHeartbeat();
    }
    if (!this.#isClosed()) this.#scheduleHeartbeat();
  }

  #scheduleHeartbeat(): void {
    const now = this.#clock.now();
    let at = this.#hbOutstanding
      ? this.#hbSentAt + this.#rto.rto
      : Math.max(this.#lastHeard + this.#o.heartbeatIntervalMs, now + Math.min(this.#o.heartbeatIntervalMs, this.#rto.rto) / 2);
    at = Math.min(at, this.#lastHeard + this.#o.failureTimeoutMs);
    this.#hbTimer.start(Math.max(1, at - now));
  }

  #heartbeatInfo(kind: number, size: number): Uint8Array {
    const info = new Uint8Array(HB_INFO_SIZE);
    const v = new DataView(info.buffer);
    v.setUint8(0, kind);
    v.setUint32(4, this.#hbNonce);
    v.setUint32(8, size);
    v.setFloat64(12, this.#clock.now());
    return info;
  }

  #sendHeartbeat(): void {
    this.#hbOutstanding = true;
    this.#hbSentAt = this.#clock.now();
    this.#stats.heartbeatsSent++;
    this.#control.push({ type: CHUNK.HEARTBEAT, info: this.#heartbeatInfo(HB_LIVENESS, 0) });
    this.#flush();
  }

  #onHeartbeatAck(info: Uint8Array): void {
    if (info.length !== HB_INFO_SIZE) return;
    const v = new DataView(info.buffer, info.byteOffset, info.byteLength);
    if (v.getUint32(4) !== this.#hbNonce) return;
    const kind = v.getUint8(0);
    const sentAt = v.getFloat64(12);
    const rtt = this.#clock.now() - sentAt;
    if (kind === HB_LIVENESS) {
      this.#hbOutstanding = false;
      this.#errors = 0;
      // §8.3: a HEARTBEAT ACK gives an RTT measurement.
      if (rtt >= 0 && rtt < 60_000) this.#rto.measure(rtt);
      this.#scheduleHeartbeat();
    } else if (kind === HB_PROBE) {
      this.#onProbeAck(v.getUint32(8));
    } else if (kind === HB_CHECK) {
      for (const answered of this.#checks.splice(0)) answered();
    }
  }

  // ---------------------------------------------------------------- PLPMTUD

  #startPmtud(): void {
    const ceiling = Math.min(this.#host.pathCeiling(this.remote), this.#o.maxPacketSize ?? SCTP_DEFAULTS.maxPacketSize);
    this.#search = new PmtuSearch(this.#pmtu, ceiling, SCTP_DEFAULTS.pmtuMaxProbes, SCTP_DEFAULTS.pmtuSearchGranularity);
    // A COOKIE ACK queued by the handshake goes first (§5.1 D): the peer is
    // not established until it has it, and a probe would overtake it.
    if (this.#control.length > 0) this.#flush();
    this.#sendProbe();
  }

  #sendProbe(): void {
    const search = this.#search;
    if (!search || this.#state === "closed") return;
    for (let guard = 0; guard < 64; guard++) {
      const size = search.probeSize;
      if (size === 0) {
        // Search complete: look again upwards after PMTU_RAISE_TIMER (RFC 8899 §5.1.1).
        this.#probeTimer.start(SCTP_DEFAULTS.pmtuRaiseIntervalMs);
        return;
      }
      if (!search.countAttempt()) {
        search.failed();
        continue;
      }
      // RFC 8899 §6.2.1.2: HEARTBEAT + PAD chunk, padded to exactly `size`.
      const hb: HeartbeatChunk = { type: CHUNK.HEARTBEAT, info: this.#heartbeatInfo(HB_PROBE, size) };
      const hbLen = 4 + 4 + HB_INFO_SIZE;
      const padLen = size - SCTP_SIZES.commonHeader - hbLen - 4;
      this.#sendNow(this.#peerTag, padLen >= 0 ? [hb, { type: CHUNK.PAD, length: padLen }] : [hb]);
      this.#probeTimer.start(Math.max(this.#rto.rto, 100));
      return;
    }
  }

  #onProbeTimer(): void {
    if (this.#state === "closed" || !this.#search) return;
    if (this.#search.phase === "complete") {
      this.#search.restart(Math.min(this.#host.pathCeiling(this.remote), this.#o.maxPacketSize ?? SCTP_DEFAULTS.maxPacketSize));
      if (this.#search.pmtu < this.#pmtu) this.#setPmtu(this.#search.pmtu);
    }
    this.#sendProbe();
  }

  /** No data came after a window update that reopened the window: say it again, a few times, backing off. */
  #onWindowUpdateTimer(): void {
    if (this.#state !== "established" || this.#paused || this.#freeWindow() < this.#pmtu) return;
    this.#sackNeeded = true;
    this.#sackNow = true;
    this.#flush();
    if (++this.#windowUpdateRepeats < WINDOW_UPDATE_REPEATS) this.#windowUpdateTimer.start(this.#windowUpdateMs *= 2);
  }

  #onProbeAck(size: number): void {
    const search = this.#search;
    if (!search) return;
    if (search.acked(size)) this.#setPmtu(search.pmtu);
    this.#probeTimer.stop();
    this.#sendProbe();
  }

  #setPmtu(size: number): void {
    this.#pmtu = size;
    this.#cc.setMtu(size);
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Queues a SHUTDOWN with the cumulative TSN received, or brings the one
   * still queued up to date: the DATA packets of one batch of arrivals each
   * asked for one, and they went out bundled, one per packet received.
   */
  #queueShutdown(): void {
    for (const c of this.#control) {
      if (c.type === CHUNK.SHUTDOWN) {
        (c as { cumulativeTsnAck: number }).cumulativeTsnAck = this.#tsns.cum;
        return;
      }
    }
    this.#control.push({ type: CHUNK.SHUTDOWN, cumulativeTsnAck: this.#tsns.cum });
  }

  /** §9.2: in SHUTDOWN-PENDING, send SHUTDOWN once everything is acknowledged. */
  #maybeShutdown(): void {
    if (this.#state !== "shutdown-pending" || this.#queue.queuedMessages > 0 || this.#sentHead < this.#sent.length) return;
    this.#setState("shutdown-sent");
    this.#queueShutdown();
    this.#sackNeeded = false;
    this.#sackTimer.stop();
    this.#t2.start(this.#rto.rto);
    this.#t5.start(Math.max(5 * this.#rto.rto, this.#o.failureTimeoutMs));
    this.#scheduleFlush();
  }

  /** §9.2: SHUTDOWN received. */
  #onShutdown(cumTsnAck: number): void {
    switch (this.#state) {
      case "established":
      case "shutdown-pending":
        this.#setState("shutdown-received");
        this.#ackFromShutdown(cumTsnAck);
        this.#maybeShutdownAck();
        break;
      case "shutdown-received":
        this.#ackFromShutdown(cumTsnAck);
        this.#maybeShutdownAck();
        break;
      case "shutdown-sent":
        // Both sides closing: answer with SHUTDOWN ACK.
        this.#setState("shutdown-ack-sent");
        this.#control.push({ type: CHUNK.SHUTDOWN_ACK });
        this.#t2.start(this.#rto.rto);
        break;
      default:
        break;
    }
  }

  #ackFromShutdown(cum: number): void {
    if (tsnGte(cum, this.#lastCumAck) && tsnLt(cum, this.#nextTsn)) {
      this.#onSack({ type: CHUNK.SACK, cumulativeTsnAck: cum, aRwnd: 0, gapBlocks: [], duplicateTsns: [] }, false);
    }
  }

  #maybeShutdownAck(): void {
    if (this.#state !== "shutdown-received" || this.#queue.queuedMessages > 0 || this.#sentHead < this.#sent.length) return;
    this.#setState("shutdown-ack-sent");
    this.#control.push({ type: CHUNK.SHUTDOWN_ACK });
    this.#t2.start(this.#rto.rto);
    this.#t5.start(Math.max(5 * this.#rto.rto, this.#o.failureTimeoutMs));
    this.#scheduleFlush();
  }

  /** §9.2: SHUTDOWN ACK received. */
  #onShutdownAck(): void {
    if (this.#state !== "shutdown-sent" && this.#state !== "shutdown-ack-sent") return;
    this.#emit();
    this.#sendNow(this.#peerTag, [{ type: CHUNK.SHUTDOWN_COMPLETE, tBit: false }]);
    this.#terminate({ kind: "shutdown", message: "association shut down" });
  }

  // ------------------------------------------------------------- transmission

  /** Flushes after the current turn of the event loop (one timer per batch, never per packet). */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flushTask);
  }

  #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  /** Sends everything that is due, bundled into as few packets as possible. */
  #flush(): void {
    if (this.#flushing || this.#state === "closed") return;
    this.#flushing = true;
    try {
      const control = this.#control;
      if (control.length > 0) {
        this.#control = [];
        for (const c of control) this.#add(c, chunkLength(c));
      }
      const dataState = this.#state === "established" || this.#state === "shutdown-pending" || this.#state === "shutdown-received";
      if (this.#sackNow || (this.#sackNeeded && dataState && this.#hasDataToSend())) {
        const sack = this.#makeSack();
        this.#add(sack, chunkLength(sack));
      }
      if (dataState && this.#ready) this.#sendData();
      this.#emit();
      // Queued messages leave the count when they are cut into chunks, not when acknowledged.
      if (this.#needDrain) this.#checkDrain();
    } finally {
      this.#flushing = false;
    }
  }

  #hasDataToSend(): boolean {
    if (this.#flight >= this.#cc.cwnd) return this.#fastRtxPending;
    return this.#rtxHead < this.#rtx.length || this.#queue.queuedMessages > 0;
  }

  #sendData(): void {
    const mtu = this.#pmtu;
    const hdr = this.#queue.headerSize;
    const maxPayload = mtu - SCTP_SIZES.commonHeader - hdr;
    const now = this.#clock.now();
    if (this.#flight === 0 && this.#lastDataSentAt > 0 && now - this.#lastDataSentAt > this.#rto.rto) {
      // §7.2.1: after an idle RTO, cwnd decays.
      this.#cc.onIdle();
    }
    if (this.#fastRtxPending) {
      // §7.2.4 step 3: one packet of the lowest marked chunks, regardless of cwnd.
      this.#fastRtxPending = false;
      let first = true;
      for (let c = this.#nextMarked(); c; c = this.#nextMarked()) {
        if (!first && this.#pktSize + c.size > mtu) break;
        first = false;
        this.#transmit(c, now);
      }
      this.#emit();
    }
    const cc = this.#cc;
    // Pacing (BBR): a token bucket at the controller's rate, holding at most
    // PACING_BURST_MS of it (and never less than PACING_BURST_MTUS packets),
    // so a window goes out as a stream of small bursts, not all at once.
    const rate = cc.pacingRate(now);
    const paced = rate !== Infinity;
    if (paced) {
      const burst = Math.max(PACING_BURST_MTUS * mtu, rate * PACING_BURST_MS);
      this.#paceTokens = Math.min(burst, this.#paceTokens + (now - this.#paceAt) * rate);
    }
    this.#paceAt = now;
    for (let guard = 0; guard < 1_000_000 && this.#flight < cc.cwnd; guard++) {
      if (paced && this.#paceTokens <= 0) {
        this.#paceTimer.startIfIdle(Math.max(1, (mtu - this.#paceTokens) / rate));
        break;
      }
      const r = this.#nextMarked();
      if (r) {
        // §6.1 B lets new data exceed cwnd by less than one MTU, not retransmissions: after a T3-rtx
        // (cwnd one MTU) a second, small chunk went out in a second packet (§6.3.3 E3: one packet).
        if (this.#flight > 0 && this.#flight + r.userData.length > cc.cwnd) break;
        this.#transmit(r, now);
        if (paced) this.#paceTokens -= r.userData.length;
        continue;
      }
      let avail = mtu - this.#pktSize - hdr;
      const need = this.#queue.peekSize(maxPayload);
      if (need === 0) break;
      if (avail < Math.min(need, 256)) {
        this.#emit();
        avail = maxPayload;
      }
      const len = Math.min(need, avail);
      // §6.1 A: respect the peer's window, except for one probe when nothing is in flight.
      if (heldCost(len) > this.#peerRwnd && this.#flight > 0) break;
      const c = this.#queue.next(avail, this.#nextTsn)!;
      // RFC 7053 §4.1: the last chunk queued (nothing more to send for now, or
      // closing in SHUTDOWN-PENDING): ask for its SACK at once (I bit) rather
      // than after the peer's delayed-SACK timer, which held the SHUTDOWN back
      // by up to 200 ms at the end of a transfer and would make a tail-loss
      // probe of a lone packet fire before its SACK could arrive.
      if (this.#queue.queuedMessages === 0) c.immediate = true;
      this.#nextTsn = (this.#nextTsn + 1) >>> 0;
      this.#sent.push(c);
      this.#unacked += c.userData.length;
      this.#transmit(c, now);
      // The peer's window has no room for the next chunk: ask for this one's SACK at once too. A
      // reader taking tiny messages as they come opens its window by less than makes it send a
      // window update, and the delayed SACK came after a tail-loss probe had resent the packet.
      if (this.#peerRwnd < Math.max(maxPayload, 64) && heldCost(Math.max(1, this.#queue.peekSize(maxPayload))) > this.#peerRwnd) c.immediate = true;
      if (paced) this.#paceTokens -= c.userData.length;
    }
    if (this.#queue.queuedMessages === 0 && this.#flight < cc.cwnd && this.#rtxHead >= this.#rtx.length && !this.#needDrain) {
      // Nothing left to send and room in the window: until what is outstanding
      // now is acknowledged, delivery-rate samples measure the application, not
      // the path (a few small control messages must not end BBR's Startup).
      // Not when the application is waiting for "drain": then the send buffer
      // (unacknowledged data counts in it) is what limits, its writer has more.
      this.#appLimitedUntil = Math.max(1, this.#delivered + this.#flight);
    }
  }

  /** Puts one DATA chunk into the packet being built (§6.1 B, §6.3.2 R1). */
  #transmit(c: OutChunk, now: number): void {
    if (this.#pktSize + c.size > this.#pmtu && this.#pkt.length > 0) this.#emit();
    this.#pkt.push(c as unknown as Chunk);
    this.#pktSize += c.size;
    this.#pktHasData = true;
    const len = c.userData.length;
    c.transmissions++;
    c.sentAt = now;
    c.marked = false;
    if (this.#flight === 0) {
      // Nothing in flight: the sample interval starts now (§4.1.2).
      this.#deliveredTime = now;
      this.#firstSentTime = now;
    }
    c.deliveredAtSend = this.#delivered;
    c.deliveredTimeAtSend = this.#deliveredTime;
    c.firstSentAtSend = this.#firstSentTime;
    c.appLimited = this.#appLimitedUntil !== 0;
    if (!c.inFlight) {
      c.inFlight = true;
      this.#flight += len;
      this.#flightOverhead += heldCost(len) - len;
    }
    this.#peerRwnd = Math.max(0, this.#peerRwnd - heldCost(len));
    if (c.transmissions === 1) {
      this.#stats.bytesSent += len;
      if (!this.#rttProbe) this.#rttProbe = c;
    } else {
      this.#stats.retransmissions++;
      if (this.#rttProbe === c) this.#rttProbe = undefined;
    }
    this.#lastDataSentAt = now;
    this.#t3.startIfIdle(this.#rto.rto);
    this.#armPto(false);
  }

  #add(c: Chunk, len: number): void {
    if (this.#pktSize + len > this.#pmtu && this.#pkt.length > 0) this.#emit();
    this.#pkt.push(c);
    this.#pktSize += len;
  }

  /** Encodes and sends the packet being built. */
  #emit(): void {
    if (this.#pkt.length === 0) return;
    const chunks = this.#pkt;
    this.#pkt = [];
    this.#pktSize = SCTP_SIZES.commonHeader;
    this.#pktHasData = false;
    this.#sendNow(this.#peerTag, chunks);
  }

  /** Encodes `chunks` into one packet with verification tag `vt` and sends it now. */
  #sendNow(vt: number, chunks: Chunk[]): void {
    const bytes = encodePacket({ srcPort: this.localPort, dstPort: this.peerPort, verificationTag: vt, chunks });
    this.#stats.packetsSent++;
    this.#host.transmit(bytes, this.remote);
  }

  // ---------------------------------------------------------------- endings

  #badTag(): void {
    this.#stats.badTagPackets++;
  }

  #protocolViolation(what: string): void {
    if (this.#state === "closed") return;
    this.#emit();
    this.#sendNow(this.#peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [protocolViolationCause(firstCodePoints(what, 200))] }]);
    this.#terminate({ kind: "error", message: `protocol violation: ${what}` });
  }

  /**
   * Ends the association on a timeout. Giving up on a peer we no longer hear, we tell it why
   * (`told`, in its terms) with an ABORT (§9.1 allows one at any time): when only one direction
   * failed, the other carries it, and the peer learns now instead of at its own deadline, up to
   * failureTimeoutMs later (it may still hear from us, or we from it). No ABORT before the peer's
   * tag is known (COOKIE-WAIT): it has no association to end.
   */
  #fail(kind: CloseReason["kind"], message: string, told: string, silentMs?: number): void {
    if (this.#peerTag !== 0 && this.#state !== "closed" && this.#state !== "cookie-wait") {
      this.#sendNow(this.#peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [userInitiatedAbortCause(told)] }]);
    }
    this.#terminate({ kind, message, ...(silentMs === undefined ? {} : { silentMs }) });
  }

  /** Moves to CLOSED, stops everything and reports the reason exactly once. */
  #terminate(reason: CloseReason): void {
    if (this.#state === "closed") return;
    // Once the peer's SHUTDOWN has come, all it sent has arrived and been acknowledged (§9.2).
    // Not on our own abort(): the application said it wants nothing more.
    const allReceived = reason.kind === "shutdown" ||
      (reason.kind !== "abort" && (this.#state === "shutdown-received" || this.#state === "shutdown-ack-sent"));
    this.#setState("closed");
    this.#closeReason = reason;
    for (const t of [this.#t1, this.#t2, this.#t3, this.#pto, this.#paceTimer, this.#t5, this.#sackTimer, this.#hbTimer, this.#probeTimer, this.#windowUpdateTimer]) t.stop();
    this.#sent = [];
    this.#sentHead = 0;
    this.#rtx = [];
    this.#rtxHead = 0;
    this.#control = [];
    this.#pkt = [];
    this.#flight = 0;
    this.#flightOverhead = 0;
    this.#unacked = 0;
    this.#gapAcked = 0;
    this.#queue.clear();
    this.#host.associationDown(this, reason);
    // §9.2: after a graceful shutdown everything the peer sent was delivered.
    // Messages pause() held back are the application's too: it gets them
    // before "close" (nothing can be received after it; its last words —
    // often why it is closing — would be lost). Also when the shutdown does
    // not complete (SHUTDOWN COMPLETE lost, the peer gone): they were
    // acknowledged, and the peer will not send them again.
    if (allReceived) this.#releaseHeldOnClose();
    this.#emitSafe("close", reason);
    const waiters = this.#closeWaiters;
    this.#closeWaiters = [];
    for (const w of waiters) w();
  }

  #releaseHeldOnClose(): void {
    // Nobody listens yet (a listener added after some asynchronous setup): held for the first one,
    // closed or not. Dropped, they were lost while the peer was told all was delivered.
    if (this.listenerCount("message") === 0) {
      this.#heldPastClose = true;
      return;
    }
    const held = this.#held;
    this.#held = [];
    const from = this.#heldHead;
    this.#heldHead = 0;
    this.#heldBytes = 0;
    for (let i = from; i < held.length; i++) this.#emitSafe("message", held[i].streamId, held[i].data, held[i].ppid);
  }

  /** A method, so TypeScript does not narrow the state across calls that may close. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #setState(next: AssociationState): void {
    this.#state = next;
  }

  /** Emits to user listeners; an exception they throw is rethrown asynchronously so protocol state stays consistent. */
  #emitSafe<K extends keyof AssociationEvents>(event: K, ...args: AssociationEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: AssociationEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  #peerName(): string {
    return formatAddress(this.remote.address, this.remote.port);
  }
}

/** The first `n` code points of `text` (a cut never splits a surrogate pair). */
function firstCodePoints(text: string, n: number): string {
  if (text.length <= n) return text;
  return Array.from(text).slice(0, n).join("");
}

/** Detaches a buffer the association owns, freeing its memory now; buffers that cannot be detached are left to the GC. */
function releaseBuffer(buffer: ArrayBuffer): void {
  try {
    (buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
  } catch {
    // Not detachable (e.g. a WebAssembly memory): the collector frees it.
  }
}
