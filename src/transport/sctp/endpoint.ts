/**
 * The SCTP endpoint: one datagram socket (UDP encapsulation, RFC 6951)
 * serving many associations. It demultiplexes packets by the remote UDP
 * address and port and the SCTP ports (then each association checks the
 * verification tag, RFC 9260 §8.5), answers INIT statelessly with a State
 * Cookie and creates an association only for a valid COOKIE ECHO (§5.1),
 * and handles out-of-the-blue packets (§8.4). A malformed datagram is
 * counted and dropped; nothing a peer sends can throw out of the socket
 * handler.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import { SfxError } from "../../errors.ts";
import type { DatagramSocket, LocalAddress, RemoteAddress } from "../datagram.ts";
import { Association, type AssociationHost, type CloseReason } from "./association.ts";
import { CAUSE, CHUNK, PARAM, type Chunk, type CookieEchoChunk, type ErrorChunk, type InitChunk, type Packet } from "./chunk_types.ts";
import { CookieJar, COOKIE_FLAG_IDATA, type CookieState } from "./cookie.ts";
import { SctpDecodeError } from "./decode_error.ts";
import { SCTP_DEFAULTS } from "./defaults.ts";
import { random32, randomTag, readInitParams, supportedExtensionsParam } from "./handshake.ts";
import { InitBudget } from "./init_budget.ts";
import { invalidMandatoryParameterCause, staleCookieCause } from "./error_cause.ts";
import { unrecognizedParameterReports } from "./param.ts";
import { type ResolvedSctpOptions, resolveOptions, type SctpOptions } from "./options.ts";
import { decodePacket, encodePacket, isPooledPacket, releasePacket } from "./packet.ts";
import { canonicalAddress, formatAddress } from "../datagram.ts";

/** Sockets an endpoint owns (see {@link SctpEndpoint.listen}). */
const ownedSockets = new WeakSet<DatagramSocket>();

/** Counters of one endpoint. */
export interface EndpointStats {
  /** Live associations (including handshakes in progress that we started). */
  associations: number;
  /** Datagrams that failed to decode (bad checksum, bad lengths) and were dropped. */
  malformedPackets: number;
  /** Packets that matched no association (§8.4). */
  ootbPackets: number;
  /** INIT chunks answered with INIT ACK. */
  initsAnswered: number;
  /** INITs dropped unanswered, over the INIT ACK budget (SctpOptions.initAcksPerSecond). */
  initsDropped: number;
  /** COOKIE ECHOs refused (bad MAC, wrong address or tag). */
  badCookies: number;
  /** COOKIE ECHOs too old (answered with a Stale Cookie error). */
  staleCookies: number;
  /** Exceptions caught in packet processing (bugs); the association involved is aborted. */
  internalErrors: number;
  /** Associations whose peer's packets came from a new UDP port (a NAT's new mapping) and that follow it (RFC 6951 §5.4). */
  portChanges: number;
}

/**
 * Receives datagrams on the endpoint's socket that are not SCTP (their first
 * two bytes, the SCTP source port, are zero), for protocols sharing the socket.
 */
export type ForeignDatagramHandler = (data: Uint8Array, from: RemoteAddress) => void;

interface PendingConnect {
  resolve(a: Association): void;
  reject(err: Error): void;
  cancelled: string | undefined;
  cleanup(): void;
}

function keyOf(address: string, port: number, peerPort: number, localPort: number): string {
  return `${address}|${port}|${peerPort}|${localPort}`;
}

/** An association by what does not change when a NAT maps its peer to another UDP port: address, SCTP ports, our tag. */
function tagKeyOf(address: string, peerPort: number, localPort: number, localTag: number): string {
  return `${address}|${peerPort}|${localPort}|${localTag}`;
}

/** An {@link SctpEndpoint}'s events and what their listeners get. */
export interface SctpEndpointEvents {
  /** A peer completed the handshake. */
  association: [association: Association];
  /** An internal error caught while handling a datagram (the association involved is aborted); emitted only while listened for. */
  warning: [error: Error];
}

/**
 * An SCTP endpoint on one datagram socket. Create it with
 * {@link SctpEndpoint.listen}; it emits "association" for each peer that
 * completes the handshake, and {@link connect} opens associations to others.
 */
export class SctpEndpoint extends EventEmitter<SctpEndpointEvents> {
  readonly #socket: DatagramSocket;
  readonly #o: ResolvedSctpOptions;
  readonly #cookies: CookieJar;
  readonly #assocs = new Map<string, Association>();
  /** The association the previous datagram went to, and its key parts: most datagrams follow one another from one peer. */
  #last: { a: Association; address: string; port: number; peerPort: number; localPort: number } | undefined;
  /** Every live association, with the key it was last found by in #assocs (another may have taken that since). */
  readonly #keys = new Map<Association, string>();
  /** The same associations by {@link tagKeyOf}, to follow a peer to a new UDP port. */
  readonly #byTag = new Map<string, Association>();
  readonly #pending = new Map<Association, PendingConnect>();
  readonly #host: AssociationHost;
  readonly #onForeign: ForeignDatagramHandler | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #ootbTokens: number = SCTP_DEFAULTS.ootbRepliesPerSecond;
  #ootbRefill = 0;
  /** Which INITs are answered ({@link SctpOptions.initAcksPerSecond}). */
  readonly #initBudget: InitBudget;
  readonly #stats = {
    malformedPackets: 0,
    ootbPackets: 0,
    initsAnswered: 0,
    initsDropped: 0,
    badCookies: 0,
    staleCookies: 0,
    internalErrors: 0,
    portChanges: 0,
  };
  /** The last exception caught in packet processing, for diagnostics. */
  lastInternalError: unknown;

  /**
   * Starts an endpoint on a bound datagram socket. It accepts associations
   * (unless `accept: false`) and can open its own with {@link connect}. The
   * endpoint owns the socket (it takes its datagrams, and closes it with
   * itself): a second endpoint on the same socket is refused (RangeError).
   *
   * @example
   * ```ts
   * import { openUdpSocket } from "../udp.ts";
   * const socket = await openUdpSocket({ host: "127.0.0.1", port: 6969 });
   * const server = SctpEndpoint.listen({ socket });
   * server.on("association", (a) => {
   *   a.on("message", (stream, data) => a.send(stream, data)); // echo
   * });
   * ```
   */
  static listen(opts: { socket: DatagramSocket; onForeignDatagram?: ForeignDatagramHandler } & SctpOptions): SctpEndpoint {
    // A second endpoint took the socket's datagrams from the first, whose associations died unseen.
    if (ownedSockets.has(opts.socket)) throw new RangeError("this socket already has an SCTP endpoint: one endpoint per socket (it serves any number of associations)");
    const endpoint = new SctpEndpoint(opts.socket, resolveOptions(opts), opts.onForeignDatagram);
    ownedSockets.add(opts.socket);
    return endpoint;
  }

  /** @internal Use {@link SctpEndpoint.listen}. */
  constructor(socket: DatagramSocket, options: ResolvedSctpOptions, onForeign?: ForeignDatagramHandler) {
    super();
    this.#socket = socket;
    this.#onForeign = onForeign;
    this.#o = options;
    this.#cookies = new CookieJar(options.cookieLifetimeMs, () => options.clock.now());
    this.#initBudget = new InitBudget(options.initAcksPerSecond, () => options.clock.now());
    const self = this;
    this.#host = {
      options,
      cookies: this.#cookies,
      transmit: (data, to) => transmit(socket, data, to),
      pathCeiling: (to) => {
        let max: number | undefined;
        try {
          max = socket.maxDatagramSize?.(to);
        } catch {
          max = undefined;
        }
        const ceiling = Math.min(max ?? SCTP_DEFAULTS.maxPacketSize, options.maxPacketSize ?? Infinity, 65507);
        return Math.floor(ceiling / 4) * 4;
      },
      associationUp: (a) => self.#associationUp(a),
      associationDown: (a, reason) => self.#associationDown(a, reason),
      peerRestarted: (a, state, packet, next) => self.#peerRestarted(a, state, packet, next),
      takeInitToken: (address) => self.#takeInitToken(address),
    };
    socket.onMessage((data, from) => this.#onDatagram(data, from));
    socket.onError?.(() => {
      // ICMP errors cannot be tied to an association reliably; liveness
      // detection (heartbeats, T3-rtx) reports dead peers instead.
    });
  }

  /** The socket's bound address. */
  get localAddress(): LocalAddress {
    return this.#socket.localAddress();
  }

  /** Counters, for diagnostics and tests. */
  stats(): EndpointStats {
    return { associations: this.#keys.size, ...this.#stats };
  }

  /** The live associations. */
  associations(): Association[] {
    return [...this.#keys.keys()];
  }

  /**
   * Opens an association to `to` (4-way handshake, RFC 9260 §5.1).
   * Resolves once it is ESTABLISHED.
   *
   * @throws {SfxError} SFX_CONNECT_FAILED when the peer does not answer
   * (after Max.Init.Retransmits or failureTimeoutMs), aborts, or the endpoint
   * closes; SFX_CANCELLED when `signal` aborts.
   * @throws {RangeError} (a rejection) for a port or a stream count out of range.
   *
   * @example
   * ```ts
   * const a = await client.connect({ address: "127.0.0.1", port: 6969 }, { streams: 8 });
   * a.send(0, new TextEncoder().encode("hello"));
   * await a.close();
   * ```
   */
  connect(to: RemoteAddress, opts: { streams?: number; signal?: AbortSignal; port?: number } = {}): Promise<Association> {
    if (typeof to?.address !== "string") return Promise.reject(new RangeError(`connect() takes { address, port }, got ${JSON.stringify(to)}`));
    // Keyed as replies arrive (`0:0:0:0:0:0:0:1` answers from `::1`): as typed, the handshake never completed.
    const remote = { address: canonicalAddress(to.address), port: to.port };
    const target = formatAddress(remote.address, remote.port);
    if (this.#closing) return Promise.reject(new SfxError("SFX_CONNECT_FAILED", `Cannot connect to ${target}: the endpoint is closed`));
    if (opts.signal?.aborted) return Promise.reject(new SfxError("SFX_CANCELLED", `Connecting to ${target} was cancelled`, { cause: opts.signal.reason }));
    const streams = opts.streams ?? this.#o.streams;
    if (!Number.isInteger(streams) || streams < 1 || streams > 65535) {
      return Promise.reject(new RangeError(`streams must be an integer from 1 to 65535, got ${streams}`));
    }
    // A host name (or an address written otherwise, 127.000.000.001) reaches the peer, but the reply
    // comes from the address itself and matches no association: it failed only after the whole timeout.
    const family = isIP(remote.address);
    if (family === 0) {
      return Promise.reject(new RangeError(`connect() takes an IP address, not ${JSON.stringify(to.address)}: look a name up first (node:dns lookup)`));
    }
    if (family === 6 && this.#socket.localAddress().family === "IPv4") {
      return Promise.reject(new RangeError(`an IPv6 address (${to.address}) cannot be reached from an IPv4 socket`));
    }
    for (const [what, port] of [["UDP port", to.port], ["SCTP port", opts.port]] as const) {
      // A port the socket cannot send to failed only as "no answer to INIT", after the whole timeout.
      if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
        return Promise.reject(new RangeError(`the ${what} must be an integer from 1 to 65535, got ${port}`));
      }
    }
    const localPort = this.#o.port;
    const peerPort = opts.port ?? this.#o.port;
    const key = keyOf(remote.address, remote.port, peerPort, localPort);
    if (this.#assocs.has(key)) {
      return Promise.reject(new SfxError("SFX_CONNECT_FAILED", `Cannot connect to ${target}: an association to it already exists on this endpoint`));
    }
    const a = new Association(this.#host, {
      remote,
      localPort,
      peerPort,
      localTag: randomTag(),
      localInitialTsn: random32(),
      streams,
    });
    this.#register(a, key);
    return new Promise<Association>((resolve, reject) => {
      const onAbort = () => {
        pending.cancelled = "cancelled";
        // A reason given as text is what the peer is told (and may log); any other, "connect cancelled".
        a._cancel(typeof opts.signal?.reason === "string" ? opts.signal.reason : "connect cancelled");
      };
      const pending: PendingConnect = {
        resolve,
        reject,
        cancelled: undefined,
        cleanup: () => opts.signal?.removeEventListener("abort", onAbort),
      };
      this.#pending.set(a, pending);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      a._connect();
    });
  }

  /**
   * Shuts every association down gracefully (aborting those that take longer
   * than 10 s), then closes the socket. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    const all = [...this.#keys.keys()];
    if (all.length > 0) {
      let timer: unknown;
      const timeout = new Promise<void>((resolve) => {
        timer = this.#o.clock.setTimer(resolve, SCTP_DEFAULTS.closeTimeoutMs);
      });
      await Promise.race([Promise.all(all.map((a) => a.close())), timeout]);
      this.#o.clock.clearTimer(timer);
      for (const a of [...this.#keys.keys()]) a.abort("endpoint closed");
    }
    await this.#socket.close();
  }

  // ------------------------------------------------------------- internals

  #register(a: Association, key: string): void {
    this.#last = undefined;
    this.#assocs.set(key, a);
    this.#keys.set(a, key);
    this.#byTag.set(tagKeyOf(a.remote.address, a.peerPort, a.localPort, a.localTag), a);
  }

  /**
   * RFC 6951 §5.4: once a packet has found its association and passed the tag
   * check, its UDP source port is where the peer is. A NAT may map the peer to
   * another port (after an idle spell, or a change of the peer's network); the
   * address must stay the same, or the packet belongs to no association.
   * Returns the association that `p` (not INIT, tag 0) moves to `key`, if any.
   */
  #moved(p: Packet, from: RemoteAddress, key: string): Association | undefined {
    const a = this.#byTag.get(tagKeyOf(from.address, p.srcPort, p.dstPort, p.verificationTag));
    if (a === undefined) return undefined;
    const old = this.#keys.get(a);
    if (old !== undefined && this.#assocs.get(old) === a) this.#assocs.delete(old);
    // Whoever had this port before has left it (a NAT gives one mapping to one peer at a time): it
    // stays live (in #keys, by its old key) and is found by its tag when its packets come from
    // wherever it is now.
    this.#assocs.set(key, a);
    this.#keys.set(a, key);
    this.#last = undefined;
    // Re-keyed (it may have lost this key to another peer), but only a new port is news.
    if (a.remote.port !== from.port) {
      a._moveTo(from.port);
      this.#stats.portChanges++;
    }
    return a;
  }

  #associationUp(a: Association): void {
    const p = this.#pending.get(a);
    if (p) {
      this.#pending.delete(a);
      p.cleanup();
      p.resolve(a);
      return;
    }
    this.emit("association", a);
  }

  #associationDown(a: Association, reason: CloseReason): void {
    const key = this.#keys.get(a);
    if (this.#last?.a === a) this.#last = undefined;
    if (key !== undefined) {
      this.#keys.delete(a);
      if (this.#assocs.get(key) === a) this.#assocs.delete(key);
    }
    const tagKey = tagKeyOf(a.remote.address, a.peerPort, a.localPort, a.localTag);
    if (this.#byTag.get(tagKey) === a) this.#byTag.delete(tagKey);
    const p = this.#pending.get(a);
    if (p) {
      this.#pending.delete(a);
      p.cleanup();
      const target = formatAddress(a.remote.address, a.remote.port);
      p.reject(
        p.cancelled
          ? new SfxError("SFX_CANCELLED", `Connecting to ${target} was cancelled`)
          : new SfxError("SFX_CONNECT_FAILED", `Cannot connect to ${target}: ${reason.message}`),
      );
    }
  }

  #onDatagram(data: Uint8Array, from: RemoteAddress): void {
    let a: Association | undefined;
    // SCTP source port 0 is illegal (RFC 9260 §3.1): such datagrams belong to
    // whoever shares the socket (e.g. discovery, whose datagrams start 00 00).
    if (this.#onForeign !== undefined && data.length >= 2 && data[0] === 0 && data[1] === 0) {
      this.#onForeign(data, from);
      return;
    }
    try {
      let p: Packet;
      try {
        p = decodePacket(data);
      } catch (err) {
        if (err instanceof SctpDecodeError) {
          this.#stats.malformedPackets++;
          return;
        }
        throw err;
      }
      const last = this.#last;
      const vt = p.verificationTag;
      if (last !== undefined && last.port === from.port && last.peerPort === p.srcPort && last.localPort === p.dstPort && last.address === from.address && last.a.localTag === vt) {
        a = last.a;
      } else {
        const key = keyOf(from.address, from.port, p.srcPort, p.dstPort);
        a = this.#assocs.get(key);
        if ((a === undefined || a.localTag !== vt) && vt !== 0) a = this.#moved(p, from, key) ?? a;
        if (a) this.#last = { a, address: from.address, port: from.port, peerPort: p.srcPort, localPort: p.dstPort };
      }
      if (a) a._receive(p);
      else this.#outOfTheBlue(p, from);
    } catch (err) {
      // A bug of ours: never let it escape into the socket, and do not keep
      // an association whose state may now be inconsistent.
      this.#stats.internalErrors++;
      this.lastInternalError = err;
      if (this.listenerCount("warning") > 0) this.emit("warning", err instanceof Error ? err : new Error(String(err)));
      try {
        a?.abort(`internal error: ${err instanceof Error ? err.message : String(err)}`);
      } catch {
        // ignore
      }
    }
  }

  /** RFC 9260 §8.4: packets that belong to no association. */
  #outOfTheBlue(p: Packet, from: RemoteAddress): void {
    this.#stats.ootbPackets++;
    const chunks = p.chunks;
    const first = chunks[0];
    const known = (c: Chunk) => !("unknown" in c);
    // (2) ABORT: discard.
    if (chunks.some((c) => c.type === CHUNK.ABORT && known(c))) return;
    // (3) INIT.
    if (first.type === CHUNK.INIT && known(first)) {
      if (p.verificationTag !== 0 || chunks.length !== 1) return;
      this.#onInit(p, first as InitChunk, from);
      return;
    }
    // (4) COOKIE ECHO.
    if (first.type === CHUNK.COOKIE_ECHO && known(first)) {
      this.#onCookieEcho(p, first as CookieEchoChunk, from);
      return;
    }
    for (const c of chunks) {
      if (!known(c)) continue;
      // (5) SHUTDOWN ACK: answer SHUTDOWN COMPLETE with the T bit, reflecting the tag.
      if (c.type === CHUNK.SHUTDOWN_ACK) {
        this.#reply(p, from, p.verificationTag, [{ type: CHUNK.SHUTDOWN_COMPLETE, tBit: true }]);
        return;
      }
      // (6) SHUTDOWN COMPLETE, (7) COOKIE ACK or a Stale Cookie error: discard.
      if (c.type === CHUNK.SHUTDOWN_COMPLETE || c.type === CHUNK.COOKIE_ACK) return;
      if (c.type === CHUNK.ERROR && (c as ErrorChunk).causes.some((x) => x.code === CAUSE.STALE_COOKIE)) return;
    }
    // §8.5.1: tag 0 is for a lone INIT only; anything else under it is discarded.
    if (p.verificationTag === 0) return;
    // (8) Anything else: ABORT with the T bit, rate limited.
    if (this.#takeOotbToken()) this.#reply(p, from, p.verificationTag, [{ type: CHUNK.ABORT, tBit: true, causes: [] }]);
  }

  #takeOotbToken(): boolean {
    const now = this.#o.clock.now();
    if (now - this.#ootbRefill >= 1000) {
      this.#ootbRefill = now;
      this.#ootbTokens = SCTP_DEFAULTS.ootbRepliesPerSecond;
    }
    if (this.#ootbTokens <= 0) return false;
    this.#ootbTokens--;
    return true;
  }

  /** Whether an INIT from `address` may be answered now (see {@link InitBudget}); counts the ones that may not. */
  #takeInitToken(address: string): boolean {
    if (this.#initBudget.take(address)) return true;
    this.#stats.initsDropped++;
    return false;
  }

  #reply(p: Packet, to: RemoteAddress, vt: number, chunks: Chunk[]): void {
    transmit(this.#socket, encodePacket({ srcPort: p.dstPort, dstPort: p.srcPort, verificationTag: vt, chunks }), to);
  }

  /** §5.1 B: answer an INIT with an INIT ACK carrying a State Cookie; keep no state. */
  #onInit(p: Packet, init: InitChunk, from: RemoteAddress): void {
    if (init.initiateTag === 0) return; // §3.3.2: silently discard
    if (this.#closing || !this.#o.accept || (this.#o.strictPort && p.dstPort !== this.#o.port)) {
      // §8.4 (3): not accepting: ABORT, with the INIT's tag.
      if (this.#takeOotbToken()) this.#reply(p, from, init.initiateTag, [{ type: CHUNK.ABORT, tBit: false, causes: [] }]);
      return;
    }
    if (init.outboundStreams === 0 || init.inboundStreams === 0) {
      if (this.#takeOotbToken()) this.#reply(p, from, init.initiateTag, [{ type: CHUNK.ABORT, tBit: false, causes: [invalidMandatoryParameterCause()] }]);
      return;
    }
    const params = readInitParams(init, false);
    if (params.invalid) return;
    if (!this.#takeInitToken(from.address)) return;
    const localTag = randomTag();
    const localTsn = random32();
    const outbound = Math.min(this.#o.streams, init.inboundStreams);
    const inbound = Math.min(SCTP_DEFAULTS.maxInboundStreams, init.outboundStreams);
    const cookie = this.#cookies.make({
      flags: this.#o.idata && params.idata ? COOKIE_FLAG_IDATA : 0,
      localTag,
      peerTag: init.initiateTag,
      localTieTag: 0,
      peerTieTag: 0,
      localInitialTsn: localTsn,
      peerInitialTsn: init.initialTsn,
      peerRwnd: init.aRwnd,
      outboundStreams: outbound,
      inboundStreams: inbound,
      localPort: p.dstPort,
      peerPort: p.srcPort,
      address: from.address,
      udpPort: from.port,
    });
    const ack: InitChunk = {
      type: CHUNK.INIT_ACK,
      initiateTag: localTag,
      aRwnd: this.#o.receiveBufferSize,
      outboundStreams: outbound,
      inboundStreams: SCTP_DEFAULTS.maxInboundStreams,
      initialTsn: localTsn,
      params: [
        { type: PARAM.STATE_COOKIE, value: cookie },
        ...supportedExtensionsParam(this.#o.idata),
        // §3.2.1: report unrecognized parameters whose type asked for it (up to a budget).
        ...unrecognizedParameterReports(params.unrecognized),
      ],
    };
    this.#stats.initsAnswered++;
    this.#reply(p, from, init.initiateTag, [ack]);
  }

  /** §5.1 D: a COOKIE ECHO with no association: create one if the cookie is valid. */
  #onCookieEcho(p: Packet, c: CookieEchoChunk, from: RemoteAddress): void {
    if (this.#closing || !this.#o.accept) return;
    const r = this.#cookies.open(c.cookie);
    if (!r.ok && r.reason === "invalid") {
      this.#stats.badCookies++;
      return;
    }
    const s = r.state;
    // The cookie is bound to the address, ports and tag it was issued for (§5.1.5, §8.5.1 D).
    if (s.address !== from.address || s.udpPort !== from.port || s.peerPort !== p.srcPort || s.localPort !== p.dstPort || p.verificationTag !== s.localTag) {
      this.#stats.badCookies++;
      return;
    }
    if (!r.ok) {
      // §5.1.5 step 3: stale: report how stale, keep no state.
      this.#stats.staleCookies++;
      this.#reply(p, from, s.peerTag, [{ type: CHUNK.ERROR, causes: [staleCookieCause(r.stalenessUs)] }]);
      return;
    }
    this.#createFromCookie(s, p, from);
  }

  #createFromCookie(s: CookieState, p: Packet, from: RemoteAddress): void {
    const a = new Association(this.#host, {
      remote: from,
      localPort: s.localPort,
      peerPort: s.peerPort,
      localTag: s.localTag,
      localInitialTsn: s.localInitialTsn,
      streams: s.outboundStreams,
    });
    this.#register(a, keyOf(from.address, from.port, s.peerPort, s.localPort));
    // Establishes and emits "association" before the rest of the packet
    // (DATA bundled after the COOKIE ECHO) is delivered.
    a._acceptCookie(s);
    a._receive(p, 1);
  }

  /**
   * §5.2.4 case A: the peer restarted; the old association ends, and a new one
   * starts unless this endpoint takes no associations (`accept: false`, or
   * closing): then the COOKIE ECHO is answered with an ABORT, as an INIT
   * would be (§8.4 (3)). Emitted to an endpoint that takes none, the new
   * association had nobody to close it.
   */
  #peerRestarted(old: Association, s: CookieState, p: Packet, _next: number): void {
    old._terminate({ kind: "peer-abort", message: "peer restarted the association" });
    if (this.#closing || !this.#o.accept) {
      this.#reply(p, old.remote, s.peerTag, [{ type: CHUNK.ABORT, tBit: false, causes: [] }]);
      return;
    }
    this.#createFromCookie(s, p, old.remote);
  }
}

/** Sends a packet from encodePacket; a pooled (large) one goes back to the pool once the socket has sent it. */
function transmit(socket: DatagramSocket, data: Uint8Array, to: RemoteAddress): void {
  if (isPooledPacket(data)) socket.send(data, to, releasePacket);
  else socket.send(data, to);
}
