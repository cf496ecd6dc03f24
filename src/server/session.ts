/**
 * One client's session on the server, and the table of control-message
 * handlers every feature registers into (exchanges here, shares in their own
 * module): hello/welcome and version check, an ID per client, strict
 * decoding with an `error` reply for anything malformed, ping/pong, idle and
 * hello timeouts, and data-stream routing.
 *
 * @example
 * ```ts
 * const server = new SessionServer({ serverName: "box" });
 * server.handle(SharePut, async (session, msg) => { … session.send(SharePutOk, { … }); });
 * endpoint.on("association", (a) => server.attach(a));
 * ```
 *
 * @module
 */
import { SfxError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { type AssociationLike, closeWithin, type CloseReason } from "../protocol/association.ts";
import { CONTROL_PPID, CONTROL_STREAM } from "../protocol/defaults.ts";
import { announcedProtocol, errorToMessage, Hello, Ping, Pong, Welcome } from "../protocol/messages.ts";
import { type AnyMessage, decodeMessage, type MessageType, ProtocolError } from "../protocol/registry.ts";
import { PROTOCOL_VERSION } from "../protocol/defaults.ts";
import {
  CLIENT_WINDOW_BYTES, CONTROL_WINDOW_BYTES, DEFAULT_PAIRING_LIMITS, SENDER_WINDOW_POOL_BYTES, MAX_PENDING_HELLOS_PER_ADDRESS, MAX_PROTOCOL_ERRORS, PENDING_HELLO_ALLOWANCE, type PairingLimits,
  RECEIVER_BUFFER_BYTES, RECEIVER_BUFFER_MIN_BYTES, RECEIVER_BUFFER_POOL_BYTES,
} from "../pairing/defaults.ts";
import type { Exchange, ExchangePeer } from "../pairing/exchange.ts";
import { formatId, IdRegistry } from "../pairing/id_registry.ts";
import { LogBudget, type PairingLog, SILENT_LOG } from "../pairing/log.ts";
import { formatAddress } from "../transport/datagram.ts";
import { OverflowLog } from "./overflow_log.ts";
import { SendBufferPool } from "./send_pool.ts";
import { WindowPool } from "./window_pool.ts";
import { formatBytes } from "../units.ts";
import { addressKey, hostKey } from "../failure_limiter.ts";

/**
 * Bytes waiting to reach one client beyond which it is cut off as not
 * reading. Data keeps well below this on its own: the relay and downloads
 * wait for "drain" at the association's high-water mark (4 MiB, less when
 * many receive: see {@link SendBufferPool}; or 1024 queued messages), no message a client may send is over 1 MiB, and a
 * graceful close hands on at most one 8 MiB receive window. Only replies to
 * a client that asks without reading get here.
 */
const MAX_UNREAD_BYTES = 24 * 1024 * 1024;
/**
 * Control messages waiting to reach one client, counted with
 * {@link MESSAGE_OVERHEAD_BYTES} each, beyond which it is cut off. A client
 * that reads waits for each answer (the largest, a share's listing, is
 * 1 MiB); what an exchange relays to a receiver comes faster: the `end` of
 * each of 10,000 empty files, a round trip of a slow path before they are
 * acknowledged, count some 11 MiB.
 */
const MAX_UNREAD_CONTROL_BYTES = 16 * 1024 * 1024;
/**
 * What all clients may leave unread of their control messages together.
 * Past it, the clients holding the most are cut off until a quarter is free
 * again: 150 clients that asked without reading, each under the 24 MiB a
 * client could hold, had made the server hold 3.7 GB.
 */
const MAX_UNREAD_CONTROL_TOTAL = 128 * 1024 * 1024;
/**
 * Past the server's total, only clients that look like not reading are cut
 * off: their oldest unacknowledged control message has waited this long, and
 * nothing they acknowledged (data included) has moved for as long. A reply
 * just queued is the biggest thing its client holds, and clients that never
 * acknowledge could otherwise have a well-behaved one's fresh listing cut off
 * (a review did, with 90 connections); a client on a slow path that is taking
 * a large reply acknowledges its packets as they come.
 */
const UNREAD_GRACE_MS = 5_000;
/** What a client must acknowledge within {@link UNREAD_GRACE_MS} to count as reading (13 KB/s). */
const ACK_PROGRESS_BYTES = 64 * 1024;
/** What one queued message costs in memory beyond its bytes, counted generously (a pong: ~400 B queued, more in garbage until collected). */
const MESSAGE_OVERHEAD_BYTES = 1024;

/**
 * The most clients from one IPv6 /64 (an IPv4 address is its own): half the server's places, and
 * never fewer than one address may have. A host is given a whole /64 and may step through its
 * addresses; a LAN's hosts with IPv6 autoconfiguration share one too, and so half the server.
 */
function mostFromNetwork(limits: { maxClients: number; maxClientsPerAddress: number }): number {
  return Math.max(limits.maxClientsPerAddress, Math.floor(limits.maxClients / 2));
}

/** What a client is told when the server stops while it is connected (the text of the SCTP ABORT). */
const SERVER_SHUTTING_DOWN = "the server is shutting down";

/** Handles one decoded control message of a session that has said hello. */
export type ControlHandler<T> = (session: ServerSession, msg: AnyMessage & T) => void | Promise<void>;

/** Receives a session's data-stream messages (streams ≥ 1). */
export type DataHandler = (streamId: number, data: Uint8Array, ppid: number) => void;

/** Options for {@link SessionServer}. */
export interface SessionServerOptions {
  /** Shown to clients in welcome. */
  serverName: string;
  limits?: Partial<PairingLimits>;
  log?: PairingLog;
  /** Bytes waiting to reach a client beyond which it is cut off as not reading (default 24 MiB; for tests). */
  maxUnreadBytes?: number;
  /** Replies waiting to reach one client beyond which it is cut off (default {@link MAX_UNREAD_CONTROL_BYTES}; for tests). */
  maxUnreadControlBytes?: number;
  /** Replies all clients may leave unread together (default {@link MAX_UNREAD_CONTROL_TOTAL}; for tests). */
  maxUnreadControlTotal?: number;
  /** How long a reply may wait before its client counts as not reading (default {@link UNREAD_GRACE_MS}; for tests). */
  unreadGraceMs?: number;
  /** Pings a connection gets answered a second, after twice as many at once (default {@link PINGS_PER_SECOND}; for tests that ask with pings). */
  pingsPerSecond?: number;
  /** The clock of the unread-replies watch, in ms (default performance.now; for tests). */
  now?: () => number;
  /** What the receive windows of sending clients may add up to (default {@link SENDER_WINDOW_POOL_BYTES}). */
  windowPoolBytes?: number;
  /** What the send buffers towards receiving clients may add up to (default {@link RECEIVER_BUFFER_POOL_BYTES}). */
  receiverBufferPoolBytes?: number;
  /** The server socket's count of datagrams the kernel dropped for a full receive buffer: the senders' windows shrink when it grows (see {@link WindowPool}). */
  socketOverflows?: () => number | undefined;
}

/** Internal errors logged (with their stack) per session; the rest are counted only. */
const MAX_LOGGED_INTERNAL_ERRORS = 5;
/**
 * Pings one connection gets answered: 20 at once, then 10 a second. A client pings to keep an idle
 * connection alive, once a minute or so; one that pings in a loop made the server answer as fast
 * as it could and queue the answers (20 connections slowed a transfer beside them 4×). The rest are
 * dropped unanswered: a ping asks for nothing else.
 */
const PINGS_PER_SECOND = 10;

/** The sessions of one server and the handler table they dispatch through. */
export class SessionServer {
  readonly limits: PairingLimits;
  readonly serverName: string;
  readonly ids = new IdRegistry<ServerSession>();
  readonly sessions = new Set<ServerSession>();
  readonly log: PairingLog;
  /** See {@link SessionServerOptions.maxUnreadBytes}. */
  readonly maxUnreadBytes: number;
  /** See {@link SessionServerOptions.maxUnreadControlBytes}. */
  readonly maxUnreadControlBytes: number;
  readonly #maxUnreadControlTotal: number;
  readonly #unreadGraceMs: number;
  /** @internal Pings each connection gets answered: twice {@link PINGS_PER_SECOND} at once, then that many a second. */
  readonly pings: LogBudget;
  /** See {@link SessionServerOptions.now}. */
  readonly now: () => number;
  /** While over the total: the next look for clients that have come to look like not reading. */
  #rescan: ReturnType<typeof setTimeout> | undefined;
  /**
   * The lines one address's connections may add to the log (connections,
   * disconnections, protocol errors): a burst, then 100 a minute (an office
   * behind one NAT address connects less often than that). 200 connections
   * that each sent 20 undecodable messages had written 1 MB in 0.8 s,
   * rotating the admin's history away in under a minute.
   */
  readonly #addressLines = new LogBudget({ burst: 200, perMinute: 100 });
  /** The budget's key per address, most recently seen last (at most 4,096 kept). */
  readonly #addressLineKeys = new Map<string, object>();
  /** The sessions' unread replies as each last counted them (see {@link ServerSession.unreadControlBytes}). */
  #unreadControl = 0;
  #cuttingOff = false;
  /** The receive windows of clients that are sending (see {@link ServerSession.sending}). */
  readonly windows: WindowPool;
  /** The send buffers towards clients that are receiving (see {@link ServerSession.receiving}). */
  readonly sendBuffers: SendBufferPool;
  #handlers = new Map<string, ControlHandler<never>>();
  /** Tried in order for data that no session-level handler took (the exchange relay first). */
  #dataRoutes: Array<(session: ServerSession, streamId: number, data: Uint8Array, ppid: number) => boolean> = [];
  #closeListeners: Array<(session: ServerSession, reason: CloseReason) => void> = [];
  #closed = false;
  #refusedConnections = 0;
  /** Says, at most once a minute, that the socket overflowed and the senders' windows were cut. */
  readonly #overflowLog: OverflowLog;

  constructor(opts: SessionServerOptions) {
    this.serverName = opts.serverName;
    this.limits = { ...DEFAULT_PAIRING_LIMITS, ...opts.limits };
    this.log = opts.log ?? SILENT_LOG;
    this.maxUnreadBytes = opts.maxUnreadBytes ?? MAX_UNREAD_BYTES;
    this.maxUnreadControlBytes = opts.maxUnreadControlBytes ?? MAX_UNREAD_CONTROL_BYTES;
    this.#maxUnreadControlTotal = opts.maxUnreadControlTotal ?? MAX_UNREAD_CONTROL_TOTAL;
    this.#unreadGraceMs = opts.unreadGraceMs ?? UNREAD_GRACE_MS;
    const pingRate = opts.pingsPerSecond ?? PINGS_PER_SECOND;
    // A budget per connection like a log line's: the same token bucket.
    this.pings = new LogBudget({ burst: 2 * pingRate, perMinute: 60 * pingRate });
    this.now = opts.now ?? (() => performance.now());
    this.#overflowLog = new OverflowLog(this.log);
    this.windows = new WindowPool({
      poolBytes: opts.windowPoolBytes ?? SENDER_WINDOW_POOL_BYTES,
      idleBytes: CONTROL_WINDOW_BYTES,
      maxBytes: CLIENT_WINDOW_BYTES,
      overflows: opts.socketOverflows,
      onOverflow: (dropped, share) => this.#overflowLog.cut(dropped, share),
    });
    this.sendBuffers = new SendBufferPool({
      poolBytes: opts.receiverBufferPoolBytes ?? RECEIVER_BUFFER_POOL_BYTES,
      minBytes: RECEIVER_BUFFER_MIN_BYTES,
      maxBytes: RECEIVER_BUFFER_BYTES,
    });
  }

  /** Registers the handler of one message type. One handler per type. */
  handle<T>(def: MessageType<T>, handler: ControlHandler<T>): void {
    if (this.#handlers.has(def.type)) throw new Error(`A handler for '${def.type}' is already registered`);
    this.#handlers.set(def.type, handler as ControlHandler<never>);
  }

  /** Adds a data route: returns true when it took the message. */
  routeData(route: (session: ServerSession, streamId: number, data: Uint8Array, ppid: number) => boolean): void {
    this.#dataRoutes.push(route);
  }

  /** Called when any session closes (after its ID is released). */
  onSessionClose(listener: (session: ServerSession, reason: CloseReason) => void): void {
    this.#closeListeners.push(listener);
  }

  /**
   * Starts a session on a new association. Connections count against the
   * client limits from the start, not from their hello (with an allowance
   * for handshakes in progress), and an address may have at most
   * {@link MAX_PENDING_HELLOS_PER_ADDRESS} that have not said hello: more are
   * aborted at once.
   */
  attach(association: AssociationLike): ServerSession | undefined {
    if (this.#closed) {
      association.abort(SERVER_SHUTTING_DOWN);
      return undefined;
    }
    const refused = this.#overLimit(association);
    if (refused) {
      // One line per burst, not per connection: refusing is what a flood of them gets.
      if ((++this.#refusedConnections & (this.#refusedConnections - 1)) === 0) {
        this.log.warn("Refused a connection from {address}: {why} ({n} refused so far)", { address: association.remote.address, why: refused, n: this.#refusedConnections });
      }
      association.abort(refused);
      return undefined;
    }
    const session = new ServerSession(this, association);
    this.sessions.add(session);
    return session;
  }

  #overLimit(association: AssociationLike): string | undefined {
    if (this.sessions.size >= this.limits.maxClients + PENDING_HELLO_ALLOWANCE) return "server full";
    // Fair shares count each address (a LAN's IPv6 hosts share one /64); floods count the /64 an
    // IPv6 host is given whole, whose addresses it may step through.
    const address = association.remote.address;
    const from = this.clientsFrom(address, () => true);
    if (from.address >= this.limits.maxClientsPerAddress + PENDING_HELLO_ALLOWANCE) return "too many connections from this address";
    if (from.network >= mostFromNetwork(this.limits) + PENDING_HELLO_ALLOWANCE) return "too many connections from this network";
    if (this.clientsFrom(address, (s) => s.state === "hello").network >= MAX_PENDING_HELLOS_PER_ADDRESS) {
      return "too many connections from this address (or its IPv6 /64) waiting to say hello";
    }
    return undefined;
  }

  /**
   * @internal The sessions `counts` takes from `address` itself ({@link hostKey}) and from its
   * network ({@link addressKey}: an IPv6 /64; an IPv4 address is its own).
   */
  clientsFrom(address: string, counts: (s: ServerSession) => boolean): { address: number; network: number } {
    const key = hostKey(address);
    const network = addressKey(address);
    const n = { address: 0, network: 0 };
    for (const s of this.sessions) {
      const remote = s.association.remote.address;
      if (addressKey(remote) !== network || !counts(s)) continue;
      n.network++;
      if (hostKey(remote) === key) n.address++;
    }
    return n;
  }

  /**
   * @internal Whether a line about a connection from `address` may be logged
   * now: -1 when not, else how many of its lines were held back since the last
   * (to say so).
   */
  lineFrom(address: string): number {
    return this.#addressLines.take(this.logKeyOf(address));
  }

  /**
   * @internal The object a {@link LogBudget} counts the lines about
   * connections from `address` by (an IPv4 address, an IPv6 /64), the same
   * for all its connections: a client that reconnects in a loop gets no fresh
   * budget. The 4,096 most recent addresses keep theirs.
   */
  logKeyOf(address: string): object {
    const key = addressKey(address);
    let k = this.#addressLineKeys.get(key);
    if (k === undefined) {
      if (this.#addressLineKeys.size >= 4096) this.#addressLineKeys.delete(this.#addressLineKeys.keys().next().value!);
      k = {};
    } else {
      this.#addressLineKeys.delete(key);
    }
    this.#addressLineKeys.set(key, k);
    return k;
  }

  /** Looks a live, welcomed client up by ID. */
  lookup(id: string): ServerSession | undefined {
    return this.ids.get(id);
  }

  /** Closes every session (gracefully; aborts after `graceMs`). */
  async close(graceMs = 1000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#rescan);
    this.#rescan = undefined;
    // Say why before the connections end: an error about no exchange or request is about the connection.
    const notice = errorToMessage(new SfxError("SFX_CONNECTION_LOST", "The server is shutting down"));
    for (const s of this.sessions) s.sendControl(notice);
    await Promise.all([...this.sessions].map((s) => s.close(graceMs, SERVER_SHUTTING_DOWN)));
    this.windows.close();
    this.sendBuffers.close();
    this.#overflowLog.close();
  }

  /** @internal */
  dispatch(session: ServerSession, msg: AnyMessage): void | Promise<void> {
    const handler = this.#handlers.get(msg.type);
    if (!handler) throw new ProtocolError("invalid", `Unexpected '${msg.type}' message from a client`, msg.type);
    return handler(session, msg as never);
  }

  /** @internal */
  routeDataOf(session: ServerSession, streamId: number, data: Uint8Array, ppid: number): boolean {
    for (const route of this.#dataRoutes) if (route(session, streamId, data, ppid)) return true;
    return false;
  }

  /**
   * @internal A session's count of unread replies changed by `delta`. Past
   * the server's total, the sessions that look like not reading (see
   * {@link UNREAD_GRACE_MS}) are cut off, those holding the most first
   * (counted afresh: what was read since is not held against anyone), until
   * a quarter of it is free; while it stays over, it looks again every
   * quarter of the grace, messages or not. Past twice the total, the heaviest
   * go whatever they look like: clients that acknowledge a trickle cannot
   * hold more than that.
   */
  unreadControlChanged(delta: number): void {
    this.#unreadControl += delta;
    // Between two looks only the hard ceiling is checked at each message: the looks are timed.
    if (delta > 0 && (this.#rescan === undefined || this.#unreadControl > 2 * this.#maxUnreadControlTotal)) this.#enforceUnread();
  }

  #enforceUnread(): void {
    if (this.#cuttingOff || this.#closed || this.#unreadControl <= this.#maxUnreadControlTotal) return;
    const max = this.#maxUnreadControlTotal;
    const now = this.now();
    this.#cuttingOff = true;
    try {
      const held = [...this.sessions]
        .map((s) => ({ s, bytes: s.unreadControlBytes(), still: s.unreadStillMs(now) }))
        .filter((h) => h.bytes > 0)
        .sort((a, b) => b.bytes - a.bytes);
      const cut = (h: (typeof held)[number], why: string) => {
        h.s.cutOff(`${formatBytes(h.bytes)} unacknowledged, ${why}, while all clients leave ${formatBytes(this.#unreadControl)} unread, over the server's ${formatBytes(max)}`);
      };
      for (const h of held) {
        if (this.#unreadControl <= max * 0.75) break;
        if (h.still >= this.#unreadGraceMs) cut(h, `nothing acknowledged for ${(h.still / 1000).toFixed(1)} s`);
      }
      for (const h of held) {
        if (this.#unreadControl <= 2 * max) break;
        if (h.s.state !== "closed") cut(h, "the most of anyone, past twice the total");
      }
    } finally {
      this.#cuttingOff = false;
    }
    if (this.#unreadControl > max && this.#rescan === undefined) {
      this.#rescan = setTimeout(() => {
        this.#rescan = undefined;
        this.#enforceUnread();
      }, Math.max(10, this.#unreadGraceMs / 4));
      (this.#rescan as { unref?: () => void }).unref?.();
    }
  }

  /** @internal */
  closed(session: ServerSession, reason: CloseReason): void {
    this.sessions.delete(session);
    for (const l of this.#closeListeners) {
      try {
        l(session, reason);
      } catch (err) {
        this.log.error("Session close listener failed: {error}", { error: String(err) });
      }
    }
  }
}

/** The states of a session. */
export type SessionState = "hello" | "ready" | "closed";

/** One client's session: its association, its ID once welcomed, its current exchange. */
export class ServerSession implements ExchangePeer {
  readonly association: AssociationLike;
  readonly server: SessionServer;
  /** The client ID (empty until hello). */
  id = "";
  /** The client's software, from hello. */
  client = "";
  exchange: Exchange | null = null;
  pullable = false;
  /** Data handler of a feature that owns the data streams for now (a share upload). */
  dataHandler: DataHandler | null = null;
  readonly connectedAt = Date.now();
  protocolErrors = 0;
  /** What log budgets count this client's lines by: the same for every connection from its address ({@link SessionServer.logKeyOf}). */
  readonly logKey: object;
  #internalErrors = 0;
  #state: SessionState = "hello";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = Date.now();
  #closeListeners: Array<(reason: CloseReason) => void> = [];
  #log: PairingLog;
  /** What it is sending now (an exchange, share uploads): while any, it draws a large window. */
  #sending = 0;
  /** What it is receiving now (an exchange, share downloads): while any, its send buffer comes from the pool. */
  #receiving = 0;
  /** What each reply sent and not yet acknowledged costs, and when it was sent (server.now()), oldest first from #unreadHead, and their sum. */
  #unread: number[] = [];
  #unreadAt: number[] = [];
  /** The association's acknowledged bytes as last seen, and when they were seen to move (server.now()). */
  #ackedSeen = 0;
  #ackedAt = 0;
  #unreadHead = 0;
  #unreadBytes = 0;

  constructor(server: SessionServer, association: AssociationLike) {
    this.server = server;
    this.association = association;
    this.#log = server.log;
    this.logKey = server.logKeyOf(association.remote.address);
    // IPv6 in brackets: `::1:37245` could be read as an address of its own.
    this.#logLine("info", "Connection from {from}", { from: formatAddress(association.remote.address, association.remote.port) });
    association.on("message", (streamId, data, ppid) => this.#onMessage(streamId, data, ppid));
    association.on("close", (reason) => this.#onClose(reason));
    association.on("address", (_remote, previousPort) => {
      this.#log.info("Client {label} now comes from UDP port {port}, not {previous}: its NAT gave it a new mapping", {
        label: this.label, port: this.association.remote.port, previous: previousPort,
      });
    });
    this.#arm(server.limits.helloTimeoutMs);
  }

  get state(): SessionState {
    return this.#state;
  }

  /** "482 913 (127.0.0.1:50000)", for logs and messages. */
  get label(): string {
    const where = formatAddress(this.association.remote.address, this.association.remote.port);
    return this.id ? `${formatId(this.id)} (${where})` : where;
  }

  /**
   * The client starts (true) or stops (false) sending something: an exchange
   * it sends, a share upload. Calls pair up. While it sends anything, its
   * receive window comes from the server's pool (up to 8 MiB, what a file
   * needs to stream over a long path); otherwise it has the small one.
   */
  sending(on: boolean): void {
    this.#sending = this.#count(this.#sending, on, this.server.windows);
  }

  /**
   * The client starts (true) or stops (false) receiving data the server
   * streams to it: an exchange it receives, a share download. Calls pair up.
   * While it receives anything, what the server may queue for it comes from
   * the server's pool (up to 4 MiB; see {@link SendBufferPool}).
   */
  receiving(on: boolean): void {
    this.#receiving = this.#count(this.#receiving, on, this.server.sendBuffers);
  }

  /** `before` counted up (`on`) or down, never below 0: the association joins `pool` at the first and leaves it after the last. */
  #count(before: number, on: boolean, pool: { join(a: AssociationLike): void; leave(a: AssociationLike): void }): number {
    const after = Math.max(0, before + (on ? 1 : -1));
    if (this.#state !== "closed") {
      if (before === 0 && after > 0) pool.join(this.association);
      else if (before > 0 && after === 0) pool.leave(this.association);
    }
    return after;
  }

  /** True while the session must not be closed for idleness. */
  get busy(): boolean {
    return this.exchange !== null || this.dataHandler !== null;
  }

  #setState(next: SessionState): void {
    this.#log.debug("Session {label}: {from} => {to}", { label: this.label, from: this.#state, to: next });
    this.#state = next;
  }

  /**
   * Sends one encoded control message (dropped once closed). Replies are
   * small and never wait, but a client that keeps asking while it reads
   * nothing would have them pile up without end: past
   * {@link MAX_UNREAD_BYTES} waiting for it, the client is cut off.
   */
  sendControl(bytes: Uint8Array): void {
    if (this.#state === "closed") return;
    try {
      this.association.send(CONTROL_STREAM, bytes, { ppid: CONTROL_PPID });
    } catch (err) {
      this.#log.debug("Send to {label} failed: {error}", { label: this.label, error: String(err) });
      return;
    }
    // Each queued message costs some hundred bytes beyond its own (buffer, queue entry, chunk):
    // a flood of small replies is counted at that cost, not at its few bytes.
    const cost = bytes.length + MESSAGE_OVERHEAD_BYTES;
    this.#unread.push(cost);
    this.#unreadAt.push(this.server.now());
    this.#unreadBytes += cost;
    this.server.unreadControlChanged(cost);
    const replies = this.unreadControlBytes();
    const waiting = this.association.bufferedAmount + MESSAGE_OVERHEAD_BYTES * (this.association.queuedMessages ?? 0);
    if (replies > this.server.maxUnreadControlBytes) this.cutOff(`${formatBytes(replies)} of replies waiting`);
    else if (waiting > this.server.maxUnreadBytes) this.cutOff(`${formatBytes(waiting)} waiting`);
  }

  /**
   * The replies sent to this client that it has not acknowledged, in bytes
   * (with what each costs queued). A client's stack acknowledges the
   * messages of a stream in the order they were sent: those still out are the
   * last ones.
   */
  unreadControlBytes(): number {
    if (this.#state === "closed") return 0;
    this.#noteAcks(this.server.now());
    const { given, acknowledged } = this.association.messagesAcknowledged(CONTROL_STREAM);
    const before = this.#unreadBytes;
    while (this.#unread.length - this.#unreadHead > Math.max(0, given - acknowledged)) this.#unreadBytes -= this.#unread[this.#unreadHead++];
    if (this.#unreadHead > 1024 && this.#unreadHead * 2 > this.#unread.length) {
      this.#unread.splice(0, this.#unreadHead);
      this.#unreadAt.splice(0, this.#unreadHead);
      this.#unreadHead = 0;
    }
    if (this.#unreadBytes !== before) this.server.unreadControlChanged(this.#unreadBytes - before);
    return this.#unreadBytes;
  }

  /**
   * How long this client has looked like not reading, at `now`: since its
   * oldest unacknowledged control message was sent, or since it last
   * acknowledged anything (data included), whichever is later; 0 when nothing
   * of it waits.
   */
  unreadStillMs(now: number): number {
    if (this.#unreadHead >= this.#unread.length) return 0;
    this.#noteAcks(now);
    return now - Math.max(this.#unreadAt[this.#unreadHead], this.#ackedAt);
  }

  /** Notes when what the client acknowledged last moved by a real step: 64 KiB, or all it has waiting if less (a trickle, one probe's chunk at a time, is no reading). */
  #noteAcks(now: number): void {
    const acked = this.association.acknowledgedBytes;
    if (acked - this.#ackedSeen >= Math.min(ACK_PROGRESS_BYTES, Math.max(1, this.#unreadBytes))) {
      this.#ackedSeen = acked;
      this.#ackedAt = now;
    }
  }

  /** @internal Aborts a client that does not read what it asks for. */
  cutOff(why: string): void {
    if (this.#state === "closed") return;
    this.#logLine("warn", "Aborting {label}: it reads nothing of what it asks for ({why})", { label: this.label, why });
    this.#forgetUnread(); // freed with the association, whenever its close comes
    this.association.abort("the client does not read the server's replies");
  }

  #forgetUnread(): void {
    this.server.unreadControlChanged(-this.#unreadBytes);
    this.#unreadBytes = 0;
    this.#unread = [];
    this.#unreadAt = [];
    this.#unreadHead = 0;
  }

  /** Encodes and sends one control message. */
  send<T>(def: MessageType<T>, fields: T): void {
    this.sendControl(def.encode(fields));
  }

  /** Sends a data-stream message; false: wait for the association's "drain". */
  sendData(streamId: number, data: Uint8Array, ppid: number, opts?: { release?: boolean }): boolean {
    return this.association.send(streamId, data, { ppid, release: opts?.release });
  }

  /** Called once when the session ends. */
  onClose(listener: (reason: CloseReason) => void): void {
    this.#closeListeners.push(listener);
  }

  /** Ends the session gracefully; aborts, telling the client `reason`, if the close does not finish within `graceMs`. */
  async close(graceMs = 1000, reason?: string): Promise<void> {
    if (this.#state === "closed") return;
    await closeWithin(this.association, graceMs, reason);
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onTimer(), ms);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #onTimer(): void {
    if (this.#state === "closed") return;
    if (this.#state === "hello") {
      this.#logLine("info", "Client {label} said no hello in time; closing", { label: this.label });
      this.association.abort("no hello");
      return;
    }
    const idle = Date.now() - this.#lastActivity;
    const limit = this.server.limits.idleTimeoutMs;
    if (this.busy || idle < limit) return this.#arm(Math.max(1000, limit - (this.busy ? 0 : idle)));
    this.#log.info("Client {label} idle for {seconds} s; closing", { label: this.label, seconds: Math.round(idle / 1000) });
    this.sendControl(errorToMessage(new SfxError("SFX_CONNECTION_LOST", `Disconnected after ${Number((limit / 1000).toFixed(1))} s without activity`)));
    void this.close();
  }

  #onMessage(streamId: number, data: Uint8Array, ppid: number): void {
    if (this.#state === "closed") return;
    this.#lastActivity = Date.now();
    if (streamId !== CONTROL_STREAM) {
      if (this.#state !== "ready") return;
      try {
        if (this.dataHandler) return this.dataHandler(streamId, data, ppid);
        if (!this.server.routeDataOf(this, streamId, data, ppid)) {
          this.#log.debug("Dropped {bytes} data bytes on stream {stream} from {label}: nothing expects them", {
            bytes: data.length, stream: streamId, label: this.label,
          });
        }
      } catch (err) {
        // A fault of ours while handling one client's data ends that client, never the server.
        this.#log.error("Handling data from {label} failed: {error}", { label: this.label, error: String((err as Error)?.stack ?? err) });
        this.association.abort("internal error");
      }
      return;
    }
    let msg: AnyMessage;
    try {
      msg = decodeMessage(data);
    } catch (err) {
      const other = this.#state === "hello" ? announcedProtocol(data, "hello") : undefined;
      if (other && other.protocol !== PROTOCOL_VERSION) return this.#refuseVersion(other.protocol, other.software);
      return this.#protocolError(err);
    }
    try {
      if (this.#state === "hello") return this.#hello(msg);
      if (Ping.is(msg)) {
        if (this.server.pings.take(this) >= 0) this.send(Pong, { n: msg.n });
        return;
      }
      const result = this.server.dispatch(this, msg);
      if (result) result.catch((err) => this.#handlerError(msg, err));
    } catch (err) {
      this.#handlerError(msg, err);
    }
  }

  #handlerError(msg: AnyMessage, err: unknown): void {
    if (err instanceof ProtocolError) return this.#protocolError(err);
    const req = typeof msg.req === "number" ? msg.req : undefined;
    const xid = typeof msg.xid === "number" ? msg.xid : undefined;
    if (!(err instanceof SfxError) || err.code === "SFX_INTERNAL") {
      // A bug of ours that a client can trigger at will would fill the log: the first few per session.
      if (++this.#internalErrors <= MAX_LOGGED_INTERNAL_ERRORS) {
        const last = this.#internalErrors === MAX_LOGGED_INTERNAL_ERRORS ? " (no more such errors from this client are logged)" : "";
        this.#log.error(`Handling '{type}' from {label} failed: {error}${last}`, { type: msg.type, label: this.label, error: String((err as Error)?.stack ?? err) });
      }
    }
    this.sendControl(errorToMessage(err, { req, xid }));
  }

  #protocolError(err: unknown): void {
    this.protocolErrors++;
    this.#logLine("warn", "Protocol error from {label}: {error}", { label: this.label, error: (err as Error).message });
    this.sendControl(errorToMessage(err));
    if (this.protocolErrors >= MAX_PROTOCOL_ERRORS) {
      this.#logLine("warn", "Aborting {label}: {n} protocol errors", { label: this.label, n: this.protocolErrors });
      this.association.abort("too many protocol errors");
    }
  }

  /** A line about this connection, within its address's budget ({@link SessionServer.lineFrom}). */
  #logLine(level: "info" | "warn", message: string, properties: Record<string, unknown>): void {
    const held = this.server.lineFrom(this.association.remote.address);
    if (held < 0) return;
    this.#log[level](held > 0 ? `${message} (and ${held} more lines about connections from this address not logged)` : message, properties);
  }

  #refuseVersion(protocol: number, client: string): void {
    const message = `Incompatible versions: this server speaks sfx protocol ${PROTOCOL_VERSION} (sfx ${VERSION}); ` +
      `the client speaks protocol ${protocol} (${client}). Use matching sfx versions.`;
    this.#logLine("warn", "Refused {label}: {message}", { label: this.label, message });
    this.sendControl(errorToMessage(new SfxError("SFX_INCOMPATIBLE_VERSION", message)));
    void this.close();
  }

  #hello(msg: AnyMessage): void {
    if (!Hello.is(msg)) {
      throw new ProtocolError("invalid", `Expected 'hello' first, got '${msg.type}'`, msg.type);
    }
    this.client = msg.client;
    if (msg.protocol !== PROTOCOL_VERSION) return this.#refuseVersion(msg.protocol, msg.client);
    if (this.server.ids.size >= this.server.limits.maxClients) {
      const message = `This server is full: ${this.server.limits.maxClients} clients are connected`;
      this.#logLine("warn", "Refused {label}: {message}", { label: this.label, message });
      this.sendControl(errorToMessage(new SfxError("SFX_LIMIT", message)));
      void this.close();
      return;
    }
    const address = this.association.remote.address;
    const from = this.server.clientsFrom(address, (other) => other !== this && Boolean(other.id));
    const perAddress = from.address >= this.server.limits.maxClientsPerAddress;
    if (perAddress || from.network >= mostFromNetwork(this.server.limits)) {
      const message = perAddress
        ? `Too many clients from ${address}: ${from.address} are connected, the most this server allows from one address`
        : `Too many clients from ${addressKey(address)}: ${from.network} are connected, the most this server allows from one IPv6 /64 network`;
      this.#logLine("warn", "Refused {label}: {message}", { label: this.label, message });
      this.sendControl(errorToMessage(new SfxError("SFX_LIMIT", message)));
      void this.close();
      return;
    }
    this.id = this.server.ids.allocate(this);
    this.#setState("ready");
    // The window stays the small one it had before its hello: a large one only while it sends.
    this.#logLine("info", "Client {id} at {from} ({client}) got its ID", {
      id: formatId(this.id), from: formatAddress(this.association.remote.address, this.association.remote.port), client: msg.client,
    });
    const limits = this.server.limits;
    this.send(Welcome, {
      protocol: PROTOCOL_VERSION,
      id: this.id,
      server: { name: this.server.serverName, version: VERSION },
      limits: {
        maxFileSize: limits.maxFileSize,
        maxFilesPerOffer: limits.maxFilesPerOffer,
        offerTimeoutMs: limits.offerTimeoutMs,
        idleTimeoutMs: limits.idleTimeoutMs,
      },
    });
    this.#arm(limits.idleTimeoutMs);
  }

  #onClose(reason: CloseReason): void {
    if (this.#state === "closed") return;
    this.#setState("closed");
    this.#forgetUnread(); // freed with its association
    clearTimeout(this.#timer);
    const seconds = ((Date.now() - this.connectedAt) / 1000).toFixed(1);
    this.#logLine("info", `Client {label} disconnected after {seconds} s (${reason.message ? "{kind}: {message}" : "{kind}"})`, {
      label: this.label, seconds, kind: reason.kind, message: reason.message ?? "",
    });
    if (this.id) this.server.ids.release(this.id);
    this.server.windows.forget(this.association);
    this.server.sendBuffers.forget(this.association);
    for (const l of this.#closeListeners.splice(0)) {
      try {
        l(reason);
      } catch (err) {
        this.#log.error("Close listener of {label} failed: {error}", { label: this.label, error: String(err) });
      }
    }
    this.server.closed(this, reason);
  }
}
