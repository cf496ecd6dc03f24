/**
 * A client's connection to an sfx server: one association, hello/welcome
 * (the server assigns this client's ID), control messages on stream 0,
 * data on streams ≥ 1, keep-alive pings, and one error for however the
 * connection ends. Used by send, receive and shares.
 *
 * @example
 * ```ts
 * const conn = await connect({ server: { host: "127.0.0.1", port: 6969 } });
 * console.log(`My ID: ${formatId(conn.id)}`); // My ID: 482 913
 * // …sendFiles(conn, …), new Receiver(conn, …), new ShareClient(connectionShareLink(conn))…
 * await conn.close();
 * ```
 *
 * @module
 */
import { printable } from "../protocol/schema.ts";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { SfxError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { type AssociationLike, closeWithin, type CloseReason } from "../protocol/association.ts";
import { nextExchangeId } from "../protocol/data.ts";
import { CONTROL_PPID, CONTROL_STREAM, PEER_FAILURE_TIMEOUT_MS, PROTOCOL_VERSION, STREAMS } from "../protocol/defaults.ts";
import { announcedProtocol, ErrorMessage, errorFromMessage, errorToMessage, Hello, Ping, Pong, Welcome } from "../protocol/messages.ts";
import { type AnyMessage, decodeMessage, type MessageType } from "../protocol/registry.ts";
import { checkPort, formatAddress } from "../transport/datagram.ts";
import { mayReach, mayReachNow } from "../deno_access.ts";
import { AllAttemptsFailed, type AttemptFailure, firstToSucceed, interleaveFamilies } from "./happy_eyeballs.ts";

/** What the server told us in welcome. */
export interface WelcomeInfo {
  id: string;
  protocol: number;
  server: { name: string; version: string };
  limits: { maxFileSize: number; maxFilesPerOffer: number; offerTimeoutMs: number; idleTimeoutMs: number };
}

/** Options for {@link ClientConnection.handshake}. */
export interface HandshakeOptions {
  timeoutMs?: number;
  /** Resources to release when the connection closes (the endpoint and socket the association lives on). */
  owned?: { close(): Promise<void> };
  /** Protocol version to announce (tests of the version check). */
  protocol?: number;
  /** Aborting it gives up waiting for the welcome (SFX_CANCELLED). */
  signal?: AbortSignal;
}

/** A connection that has said hello and got an ID. */
export class ClientConnection {
  readonly association: AssociationLike;
  readonly welcome: WelcomeInfo;
  #messageListeners = new Set<(msg: AnyMessage) => void>();
  #dataListeners = new Set<(streamId: number, data: Uint8Array, ppid: number) => void>();
  #closeListeners = new Set<(err: SfxError) => void>();
  #protocolErrorListeners = new Set<(err: SfxError) => void>();
  #closedWith: SfxError | undefined;
  /** What the server said when it announced it was going away (shutdown), if it did. */
  #goingAway: SfxError | undefined;
  #owned: { close(): Promise<void> } | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pingN = 0;
  #xid = 0;
  #released = false;

  private constructor(association: AssociationLike, welcome: WelcomeInfo, owned?: { close(): Promise<void> }) {
    this.association = association;
    this.welcome = welcome;
    this.#owned = owned;
    association.on("message", (streamId, data, ppid) => this.#onMessage(streamId, data, ppid));
    association.on("close", (reason) => this.#onClose(reason));
    // Keep the server's idle timer from firing while we wait (e.g. a receiver waiting for offers):
    // three pings a timeout (a floor of 1 s let a server with `--idle-timeout 1s` drop waiting
    // receivers at random), 20 a second at the most: enough for any timeout down to 150 ms.
    const every = Math.max(50, Math.floor(welcome.limits.idleTimeoutMs / 3));
    this.#pingTimer = setInterval(() => {
      try {
        this.send(Ping, { n: ++this.#pingN % 2 ** 31 });
      } catch {
        // The association is closing (close() waits for it): nothing to keep alive, and a throw here is a crash.
      }
    }, every);
    (this.#pingTimer as { unref?: () => void }).unref?.();
  }

  /** Says hello on an established association and waits for welcome (or the server's error). */
  static handshake(association: AssociationLike, opts: HandshakeOptions = {}): Promise<ClientConnection> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      let cleanupSignal = () => {};
      const cleanup = () => {
        clearTimeout(timer);
        cleanupSignal();
        association.off("message", onMessage);
        association.off("close", onClose);
      };
      const fail = (err: SfxError) => {
        cleanup();
        association.abort("handshake failed");
        void opts.owned?.close();
        reject(err);
      };
      const onMessage = (streamId: number, data: Uint8Array) => {
        if (streamId !== CONTROL_STREAM) return;
        let msg: AnyMessage;
        try {
          msg = decodeMessage(data);
        } catch (err) {
          const other = announcedProtocol(data, "welcome");
          return fail(other && other.protocol !== PROTOCOL_VERSION ? incompatibleServer(other.protocol, other.software) : err as SfxError);
        }
        if (ErrorMessage.is(msg)) return fail(errorFromMessage(msg));
        if (Welcome.is(msg)) {
          cleanup();
          if (msg.protocol !== PROTOCOL_VERSION) return fail(incompatibleServer(msg.protocol, msg.server.version));
          resolve(new ClientConnection(association, {
            id: msg.id,
            protocol: msg.protocol,
            server: { name: msg.server.name, version: msg.server.version },
            limits: { ...msg.limits },
          }, opts.owned));
        }
      };
      const onClose = (reason: CloseReason) => fail(closeError(reason, "before the server answered hello"));
      timer = setTimeout(() => fail(new SfxError("SFX_CONNECT_FAILED", `The server did not answer hello within ${timeoutMs / 1000} s`)), timeoutMs);
      const onAbort = () => fail(new SfxError("SFX_CANCELLED", "Cancelled while connecting"));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      cleanupSignal = () => opts.signal?.removeEventListener("abort", onAbort);
      association.on("message", onMessage);
      association.on("close", onClose);
      try {
        association.send(CONTROL_STREAM, Hello.encode({ protocol: opts.protocol ?? PROTOCOL_VERSION, client: `sfx ${VERSION}` }), { ppid: CONTROL_PPID });
      } catch (err) {
        fail(new SfxError("SFX_CONNECT_FAILED", "Cannot send hello", { cause: err }));
      }
    });
  }

  /** This client's ID, as the server assigned it. */
  get id(): string {
    return this.welcome.id;
  }

  /** Why the connection ended, once it has. */
  get closedWith(): SfxError | undefined {
    return this.#closedWith;
  }

  /** A fresh exchange id for an offer on this connection (2 mod 4: see {@link nextExchangeId}). */
  nextXid(): number {
    this.#xid = nextExchangeId(this.#xid);
    return this.#xid;
  }

  /** Sends one encoded control message. Throws SFX_CONNECTION_LOST once closed. */
  sendControl(bytes: Uint8Array): void {
    if (this.#closedWith) throw this.#closedWith;
    this.association.send(CONTROL_STREAM, bytes, { ppid: CONTROL_PPID });
  }

  /** Encodes and sends one control message. */
  send<T>(def: MessageType<T>, fields: T): void {
    if (this.#closedWith) return;
    this.sendControl(def.encode(fields));
  }

  /**
   * Sends a data message; false: await {@link drain} before the next. With
   * `release` the transport owns `data` and frees its buffer once the peer
   * has it (see Association.send): the caller must not touch it afterwards.
   */
  sendData(streamId: number, data: Uint8Array, ppid: number, opts?: { release?: boolean }): boolean {
    if (this.#closedWith) throw this.#closedWith;
    return this.association.send(streamId, data, { ppid, release: opts?.release === true });
  }

  /** Resolves on the association's next "drain"; rejects if the connection ends first. */
  drain(): Promise<void> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.#closeListeners.delete(onClose);
        resolve();
      };
      const onClose = (err: SfxError) => {
        this.association.off("drain", onDrain);
        reject(err);
      };
      this.association.once("drain", onDrain);
      this.#closeListeners.add(onClose);
    });
  }

  /** Every control message after welcome (pongs excluded). Returns an unsubscribe function. */
  onMessage(listener: (msg: AnyMessage) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  /**
   * Each control message from the server that breaks the protocol (the server is told, and the
   * message ignored): an offer that cannot be read would otherwise leave a receiver waiting without
   * a word. Returns an unsubscribe function.
   */
  onProtocolError(listener: (err: SfxError) => void): () => void {
    this.#protocolErrorListeners.add(listener);
    return () => this.#protocolErrorListeners.delete(listener);
  }

  /** Every data-stream message. Returns an unsubscribe function. */
  onData(listener: (streamId: number, data: Uint8Array, ppid: number) => void): () => void {
    this.#dataListeners.add(listener);
    return () => this.#dataListeners.delete(listener);
  }

  /** Called once when the connection ends, with why. Returns an unsubscribe function. */
  onClose(listener: (err: SfxError) => void): () => void {
    if (this.#closedWith) {
      queueMicrotask(() => listener(this.#closedWith!));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Waits for the first message `match` accepts. Rejects with the
   * connection's error if it ends, SFX_CANCELLED on `signal`, or
   * `timeout.error` after `timeout.ms`.
   */
  waitFor(match: (msg: AnyMessage) => boolean, opts: { signal?: AbortSignal; timeout?: { ms: number; error: () => SfxError } } = {}): Promise<AnyMessage> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        offMessage();
        offClose();
        opts.signal?.removeEventListener("abort", onAbort);
      };
      const offMessage = this.onMessage((msg) => {
        if (!match(msg)) return;
        done();
        resolve(msg);
      });
      const offClose = this.onClose((err) => {
        done();
        reject(err);
      });
      const onAbort = () => {
        done();
        reject(cancelled());
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.timeout) {
        const t = opts.timeout;
        timer = setTimeout(() => {
          done();
          reject(t.error());
        }, t.ms);
      }
    });
  }

  /** Sends a request and waits for the first reply with the same `req`; an `error` reply rejects. */
  async request(bytes: Uint8Array, req: number, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<AnyMessage> {
    const reply = this.waitFor((m) => m.req === req, {
      signal: opts.signal,
      timeout: opts.timeoutMs ? { ms: opts.timeoutMs, error: () => new SfxError("SFX_CONNECTION_LOST", `The server did not answer within ${opts.timeoutMs! / 1000} s`) } : undefined,
    });
    this.sendControl(bytes);
    const msg = await reply;
    if (ErrorMessage.is(msg)) throw errorFromMessage(msg);
    return msg;
  }

  /**
   * Stops taking messages from the server (its sends then stop: end-to-end
   * backpressure). With `keepControl`, control messages still arrive: only data waits.
   */
  pause(opts?: { keepControl?: boolean }): void {
    this.association.pause(opts?.keepControl ? { except: [CONTROL_STREAM] } : undefined);
  }

  /** Takes messages again. */
  resume(): void {
    this.association.resume();
  }

  /**
   * Closes gracefully (what was sent is delivered); aborts after `graceMs`,
   * telling the server `abortReason` (default "close timed out").
   */
  async close(graceMs = 2000, abortReason?: string): Promise<void> {
    clearInterval(this.#pingTimer); // nothing to keep alive while it closes
    if (!this.#closedWith) {
      await closeWithin(this.association, graceMs, abortReason);
      this.#onClose({ kind: "shutdown", message: "closed by this client" });
    }
    await this.#release();
  }

  /** Closes at once (ABORT); `reason` reaches the server's log. */
  async abort(reason = "aborted"): Promise<void> {
    if (!this.#closedWith) {
      this.association.abort(reason);
      this.#onClose({ kind: "abort", message: reason });
    }
    await this.#release();
  }

  async #release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#owned?.close().catch(() => {});
  }

  #onMessage(streamId: number, data: Uint8Array, ppid: number): void {
    if (this.#closedWith) return;
    if (streamId !== CONTROL_STREAM) {
      for (const l of this.#dataListeners) l(streamId, data, ppid);
      return;
    }
    let msg: AnyMessage;
    try {
      msg = decodeMessage(data);
    } catch (err) {
      // A server that breaks the protocol is told, and the message ignored.
      try {
        this.sendControl(errorToMessage(err));
      } catch {
        // closed
      }
      const said = new SfxError("SFX_PROTOCOL", `The server sent a message sfx cannot read (${(err as Error).message}): it was told, and the message ignored`, { cause: err });
      for (const l of [...this.#protocolErrorListeners]) l(said);
      return;
    }
    if (Pong.is(msg)) return;
    if (Ping.is(msg)) {
      try {
        this.send(Pong, { n: msg.n });
      } catch {
        // closing
      }
      return;
    }
    // The server going away says so first (an error about no exchange or request): that is why the connection ends.
    if (ErrorMessage.is(msg) && msg.code === "SFX_CONNECTION_LOST" && msg.xid === undefined && msg.req === undefined) {
      this.#goingAway = errorFromMessage(msg);
    }
    for (const l of [...this.#messageListeners]) l(msg);
  }

  #onClose(reason: CloseReason): void {
    if (this.#closedWith) return;
    clearInterval(this.#pingTimer);
    this.#closedWith = this.#goingAway ?? closeError(reason, "", localTroubleOf(this.association));
    for (const l of [...this.#closeListeners]) l(this.#closedWith);
    this.#closeListeners.clear();
    void this.#release();
  }
}

function cancelled(): SfxError {
  return new SfxError("SFX_CANCELLED", "Cancelled");
}

/** The error for an association that ended. */
export function closeError(reason: CloseReason, when: string, local?: { code: string; at: number }): SfxError {
  const suffix = when ? ` ${when}` : "";
  // The peer's words (an ABORT's reason) are shown as any text from the other side is: printable.
  const detail = reason.message ? `: ${printable(reason.message)}` : "";
  switch (reason.kind) {
    case "shutdown":
      return new SfxError("SFX_CONNECTION_LOST", `The connection to the server was closed${suffix}`);
    case "timeout": {
      const silent = reason.silentMs;
      // This machine could not send while the server was silent (a network gone, an address changed):
      // said as ours, not the server's. Only an error of the silence itself: one that cleared before counts for nothing.
      if (local !== undefined && Date.now() - local.at <= (silent ?? LOCAL_TROUBLE_MS)) {
        return new SfxError("SFX_CONNECTION_LOST", `Lost the server${suffix}: this machine could not send to it (${local.code}): its network went down or its address changed`);
      }
      if (silent !== undefined) {
        return new SfxError("SFX_CONNECTION_LOST", `The server stopped responding${suffix}: nothing heard from it for ${Math.round(silent / 1000)} s (it, or the network on the way, is down)`);
      }
      return new SfxError("SFX_CONNECTION_LOST", `The server stopped responding${suffix}${detail}`);
    }
    case "peer-abort":
      if (reason.unknownToPeer && !reason.peerReason) {
        return new SfxError("SFX_CONNECTION_LOST", `The server no longer knows this connection${suffix}: it restarted, or your address changed (a new network, or a NAT that moved you)`);
      }
      // The server's own words when it gave some ("the server is shutting down"), not the SCTP cause around them.
      return new SfxError("SFX_CONNECTION_LOST", `The server ended the connection${suffix}${reason.peerReason ? `: ${printable(reason.peerReason)}` : detail}`);
    case "abort":
      if (reason.message === SERVER_GONE) return new SfxError("SFX_CONNECTION_LOST", `The server went away${suffix}: its port refuses datagrams (connection refused)`);
      return new SfxError("SFX_CONNECTION_LOST", `The connection was aborted${suffix}${detail}`);
    default:
      return new SfxError("SFX_CONNECTION_LOST", `The connection failed${suffix}${detail}`);
  }
}

/** Where to connect. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** The server; when absent, the one server discovery finds on the local network (`SFX_SEVERAL_SERVERS` when more than one answers). */
  server?: ServerAddress;
  /** How long to try to reach the server and get welcomed; default 10 s. */
  timeoutMs?: number;
  /** Discovery wait when no server is given; default 1 s. */
  discoveryTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Connects to an sfx server (discovering one when none is given), says
 * hello, and returns the welcomed connection.
 */
export async function connect(opts: ConnectOptions = {}): Promise<ClientConnection> {
  let server = opts.server;
  if (server) checkPort(server.port, 1, "server port");
  if (!server) {
    const { findOnlyServer } = await import("../discovery/index.ts");
    const found = await findOnlyServer({ timeoutMs: opts.discoveryTimeoutMs, signal: opts.signal });
    server = { host: found.host, port: found.port };
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeoutMs;
  // Happy Eyeballs (RFC 8305): a blackholed first address (a broken IPv6 route) costs a quarter of a second, not the timeout.
  const target = server;
  const addresses = interleaveFamilies(reachable(target, await addressesOf(target.host)));
  let connected;
  try {
    connected = await firstToSucceed(addresses, (address, signal) => associate(target, address, { deadline, timeoutMs, signal }), {
      signal: opts.signal,
      deadline,
      cancelled: () => new SfxError("SFX_CANCELLED", "Cancelled while connecting"),
      lostReason: LOST_RACE,
      discard: ({ association, owned }) => {
        association.abort(LOST_RACE);
        return owned.close();
      },
    });
  } catch (err) {
    throw err instanceof AllAttemptsFailed ? connectError(err.failures) : err;
  }
  // Not raced: a server that answered and then failed the hello is the one; no other address is tried.
  return ClientConnection.handshake(connected.association, { timeoutMs, owned: connected.owned, signal: opts.signal });
}

/** What the server is told (and logs) of an attempt that lost the race to another of its addresses. */
const LOST_RACE = "connected through another of the server's addresses";

/**
 * One error for a name whose every address failed. It leads with the most
 * telling failure: silence (which is what the user waited for) over a
 * refusal over a missing route or family, the earlier address on a tie. It
 * names the addresses tried when there were several, and what each did when
 * they did not all fail alike.
 */
function connectError(failures: readonly AttemptFailure[]): unknown {
  const judged = failures.map((f) => ({ ...f, ...judge(f.error) }));
  let chosen = judged[0];
  for (const f of judged) if (f.rank > chosen.rank) chosen = f;
  const err = chosen.error;
  if (failures.length < 2 || !(err instanceof SfxError)) return err;
  const each = judged.every((f) => f.words === judged[0].words)
    ? `; tried ${judged.map((f) => f.address).join(", ")}`
    : `; ${judged.map((f) => `${f.address}: ${f.words}`).join(", ")}`;
  return new SfxError(err.code, `${err.message}${each}`, { cause: err.cause });
}

/** A failed attempt: how telling it is (silence 3, a refusal 2, anything else 1, no route or family 0), and in a few words beside its address. */
function judge(err: unknown): { rank: number; words: string } {
  const code = errnoOf((err as Error | undefined)?.cause) ?? "";
  if (code === NO_ANSWER) return { rank: 3, words: "no answer" };
  if (code === "ECONNREFUSED") return { rank: 2, words: "connection refused" };
  const path = NO_PATH.get(code);
  if (path !== undefined) return { rank: 0, words: `${path} (${code})` };
  return { rank: 1, words: (err as Error | undefined)?.message ?? String(err) };
}

function incompatibleServer(protocol: number, version: string): SfxError {
  return new SfxError(
    "SFX_INCOMPATIBLE_VERSION",
    `Incompatible versions: the server speaks sfx protocol ${protocol} (sfx ${version}); this client speaks protocol ${PROTOCOL_VERSION} (sfx ${VERSION})`,
  );
}

/**
 * The server's addresses sfx may send to: all of them outside Deno; under Deno
 * those its --allow-net grants (asked on a terminal when none is). Deno drops a
 * datagram to any other, with an error that would read as a server not
 * answering for 10 s: refused here, saying which address to allow.
 */
function reachable(server: ServerAddress, addresses: string[]): string[] {
  const granted = addresses.filter((a) => mayReachNow(a, server.port));
  if (granted.length > 0) return granted;
  if (mayReach(addresses[0], server.port)) return [addresses[0]];
  const where = formatAddress(addresses[0], server.port);
  const named = addresses[0] === server.host ? "" : ` (what ${server.host} resolves to: Deno checks the address as well as the name)`;
  throw new SfxError("SFX_IO", `Deno did not grant network access to ${where}${named}: allow it with --allow-net (or -A)`);
}

/** Failures that say this machine has no way to the address (no route, no such family): less telling than a refusal or silence. */
const NO_PATH = new Map([
  ["ENETUNREACH", "no route"],
  ["EHOSTUNREACH", "host unreachable"],
  ["EADDRNOTAVAIL", "no address to send from"],
  ["EAFNOSUPPORT", "this machine has no such network"],
]);
/** The code of the cause of an attempt's "No answer" error. */
const NO_ANSWER = "ETIMEDOUT";

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A server's addresses: the literal itself, or every address its name resolves to, in the resolver's order. */
async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  try {
    // In getaddrinfo's order (RFC 6724), which Happy Eyeballs starts from: Deno's default puts IPv4 first.
    return [...new Set((await lookup(host, { all: true, order: "verbatim" })).map((a) => a.address))];
  } catch (err) {
    // Deno refuses the lookup of a name --allow-net does not list (getaddrinfo EPERM).
    if ((globalThis as { Deno?: unknown }).Deno && (errnoOf(err) === "EPERM" || (err as Error)?.name === "NotCapable")) {
      throw new SfxError("SFX_IO", `Deno did not grant network access to ${host}, which sfx must look up: allow the name without a port (--allow-net=${host}) and the address it resolves to (or -A)`, { cause: err });
    }
    throw new SfxError("SFX_CONNECT_FAILED", `Cannot resolve server name ${host}`, { cause: err });
  }
}

/** Opens a socket to one of the server's addresses and sets up the association by `deadline` (of `timeoutMs` in all). */
async function associate(
  server: ServerAddress,
  address: string,
  { deadline, timeoutMs, signal }: { deadline: number; timeoutMs: number; signal?: AbortSignal },
): Promise<{ association: AssociationLike; owned: { close(): Promise<void> } }> {
  const where = formatAddress(server.host, server.port);
  const { openDatagramSocket } = await import("../transport/socket.ts");
  const { SctpEndpoint } = await import("../transport/sctp/index.ts");
  // Connected to the server (a client talks to no one else): the kernel then
  // reports an ICMP "port unreachable" as ECONNREFUSED, so a port where
  // nothing listens fails at once instead of after the timeout.
  const bind = isIP(address) === 6 ? "::" : "0.0.0.0";
  let socket;
  try {
    socket = await openDatagramSocket({ host: bind, port: 0, connect: { address, port: server.port } });
  } catch (err) {
    if ((err as Error)?.name === "NotCapable" || (err as Error)?.name === "PermissionDenied") {
      throw new SfxError("SFX_IO", `Deno did not grant network access: ${(err as Error).message} (a client sends from ${formatAddress(bind, 0)}: allow it, and the server, with --allow-net)`, { cause: err });
    }
    throw new SfxError("SFX_CONNECT_FAILED", `Cannot reach ${where}: ${(err as Error).message}`, { cause: err });
  }
  const endpoint = SctpEndpoint.listen({ socket, failureTimeoutMs: PEER_FAILURE_TIMEOUT_MS });
  const owned = {
    async close() {
      await endpoint.close().catch(() => {});
      await socket.close().catch(() => {});
    },
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const association = await Promise.race([
      // The signal of a race lost to another address: its reason is what the server is told.
      endpoint.connect({ address, port: server.port }, { streams: STREAMS, signal }) as Promise<AssociationLike>,
      new Promise<never>((_, reject) => {
        // Ctrl-C while the server does not answer: stop now, not at the timeout.
        onAbort = () => reject(new SfxError("SFX_CANCELLED", "Cancelled while connecting"));
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
        const noAnswer = () => {
          const cause = Object.assign(new Error(`no answer from ${formatAddress(address, server.port)}`), { code: NO_ANSWER });
          reject(new SfxError("SFX_CONNECT_FAILED", `No answer from ${where} within ${timeoutMs / 1000} s`, { cause }));
        };
        timer = setTimeout(noAnswer, Math.max(0, deadline - performance.now()));
        socket.onError?.((err) => {
          if (errnoOf(err) !== "ECONNREFUSED") return;
          reject(new SfxError("SFX_CONNECT_FAILED", `Nothing is listening at ${where} (connection refused)`, { cause: err }));
        });
      }),
    ]);
    watchRefusals(socket, association);
    return { association, owned };
  } catch (err) {
    await owned.close();
    if (err instanceof SfxError) throw err;
    throw new SfxError("SFX_CONNECT_FAILED", `Cannot connect to ${where}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Once connected, liveness (heartbeats, retransmission limits) reports a
 * server that stops answering, after 20 s. A server whose process is gone
 * says so sooner: its host answers our datagrams with ICMP "port
 * unreachable", which the connected socket reports as ECONNREFUSED (a server
 * started again on the port would not know the association either). But
 * anyone who knows the two ports can forge that ICMP message, so it is only a
 * hint: the association asks the server for a word, and ends only if none
 * comes within {@link REFUSED_CHECK_MS}.
 * @internal Exported for tests.
 */
export function watchRefusals(socket: { onError?(handler: (err: Error) => void): void }, association: AssociationLike): void {
  let checking = false;
  socket.onError?.((err) => {
    const code = errnoOf(err);
    if (code !== undefined && LOCAL_TROUBLE.has(code)) localTrouble.set(association, { code, at: Date.now() });
    if (code !== "ECONNREFUSED" || checking || !association.checkPeer) return;
    checking = true;
    void association.checkPeer(REFUSED_CHECK_MS).then((answered) => {
      checking = false;
      if (!answered) association.abort(SERVER_GONE);
    });
  });
}

/**
 * Errors of this machine's own sending: its network is down, or its address is gone. (Not
 * EHOSTUNREACH: a router says that when the server's host is down.)
 */
const LOCAL_TROUBLE = new Set(["ENETUNREACH", "ENETDOWN", "EADDRNOTAVAIL"]);
/** A local sending error this recent, when the server is found silent (for a time not said), is told as the cause. */
const LOCAL_TROUBLE_MS = 20_000;
/** The last local sending error of each association's socket (see {@link watchRefusals}). */
const localTrouble = new WeakMap<AssociationLike, { code: string; at: number }>();

/** The last local sending error seen on `association`'s socket, if any. @internal Exported for tests. */
export function localTroubleOf(association: AssociationLike): { code: string; at: number } | undefined {
  return localTrouble.get(association);
}

/** How long a server whose port refused has to say something before the client ends the association. */
const REFUSED_CHECK_MS = 3000;
/** The reason an association ends with when the server's port refuses (see {@link closeError}). */
const SERVER_GONE = "the server's port refuses datagrams (connection refused)";
