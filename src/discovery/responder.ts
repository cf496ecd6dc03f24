/**
 * The server side of discovery: answers each valid query, by unicast to the
 * query's source, with who this server is and where to connect.
 *
 * It runs either on a socket of its own ({@link ResponderOptions.bind}), or
 * on the server's shared UDP socket ({@link ResponderOptions.socket}): then
 * the socket's owner routes datagrams for which {@link isDiscoveryDatagram}
 * is true to {@link DiscoveryResponder.handle}, and everything else to SCTP.
 *
 * Nothing a datagram contains can make it throw: bad datagrams are dropped
 * and counted by reason, and replies are rate-limited per source address.
 *
 * @module
 */
import { type DatagramSocket, formatAddress, type LocalAddress, type RemoteAddress } from "../transport/datagram.ts";
import { SfxError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { DISCOVERY_GROUP, DISCOVERY_PORT, MAX_DISCOVERY_DATAGRAM } from "./defaults.ts";
import { advertisedAddresses, multicastInterfaces } from "./interfaces.ts";
import { type DiscoveryLog, SILENT_LOG } from "./log.ts";
import { decodeDiscoveryMessage, DiscoveryDecodeError, type DropReason, encodeReply, INSTANCE_ID_BYTES, isDiscoveryDatagram, isUnicastAddress, NONCE_BYTES } from "./message.ts";
import { type RateLimitOptions, RateLimiter } from "./rate_limit.ts";
import { openDiscoverySocket } from "./udp_socket.ts";

/** How the responder is set up. */
export interface ResponderOptions {
  /** The server name replies carry (cut to 64 UTF-8 bytes). */
  name: string;
  /** The sfx version replies carry; defaults to this build's. */
  version?: string;
  /** The port clients should connect to (the SCTP endpoint's); defaults to the bound port. */
  advertisePort?: number;
  /** A socket to share (the SCTP endpoint's): the responder only sends on it; its owner feeds {@link DiscoveryResponder.handle}. Not closed by close(). */
  socket?: DatagramSocket;
  /** Where to bind a socket of its own when none is given; default 0.0.0.0:6969. */
  bind?: { host?: string; port?: number; reuseAddr?: boolean };
  /** The multicast group to join; default 239.255.69.69. `null`: answer unicast queries only. */
  group?: string | null;
  /**
   * IPv4 addresses of the interfaces to join the group on; default every IPv4 interface, loopback
   * included, looked at again every `rejoinMs` to join those that came up since (Wi-Fi or a VPN
   * after the server started, a DHCP lease late at boot).
   */
  interfaces?: string[];
  /** How often the interfaces are looked at again (when `interfaces` is not given); default 10 s, 0: never. */
  rejoinMs?: number;
  /** @internal The interfaces there are now; default {@link multicastInterfaces} (for tests). */
  listInterfaces?: () => string[];
  /** The addresses replies advertise; default this host's non-internal ones. */
  addresses?: () => string[];
  /** Milliseconds, monotonic (for the rate limiter); default performance.now(). */
  now?: () => number;
  /** Per-source reply limits; default 10/s, burst 20. */
  rateLimit?: Omit<RateLimitOptions, "now">;
  log?: DiscoveryLog;
}

/** How often a responder looks for interfaces that came up (or back) since it joined the group. */
const REJOIN_MS = 10_000;

/** Counters, for logs, tests and a status command. */
export interface DiscoveryResponderStats {
  /** Datagrams handed to the responder. */
  received: number;
  /** Valid queries. */
  queries: number;
  /** Replies sent. */
  replies: number;
  /** Valid queries not answered because their source had used up its rate. */
  rateLimited: number;
  /** Datagrams dropped, by reason. */
  dropped: Record<DropReason, number>;
}

/** A running responder. */
export interface DiscoveryResponder {
  /** This server's instance ID (16 hex digits), the same in every reply. */
  readonly instanceId: string;
  /** The group interfaces joined (IPv4 addresses; `*` for the system default). */
  readonly joined: readonly string[];
  /** Handles one datagram (the shared-socket case calls this; its own socket does too). Never throws. */
  handle(data: Uint8Array, from: RemoteAddress): void;
  /** A copy of the counters. */
  stats(): DiscoveryResponderStats;
  /** The socket's local address. */
  localAddress(): LocalAddress;
  /** Stops answering; closes the socket if the responder opened it. Idempotent. */
  close(): Promise<void>;
}

const ADDRESS_CACHE_MS = 5000;

/**
 * Starts a discovery responder.
 *
 * @example
 * ```ts
 * const responder = await startDiscoveryResponder({ name: "office", advertisePort: 6969 });
 * // … later
 * await responder.close();
 * ```
 */
export async function startDiscoveryResponder(options: ResponderOptions): Promise<DiscoveryResponder> {
  const log = options.log ?? SILENT_LOG;
  const now = options.now ?? (() => performance.now());
  const owned = options.socket === undefined;
  const version = options.version ?? VERSION;
  // Settings a reply cannot carry fail here, once, rather than on every query.
  checkReplyFields(options.name, version, options.advertisePort ?? 1);
  const socket: DatagramSocket = options.socket ??
    await openDiscoverySocket({ host: options.bind?.host ?? "0.0.0.0", port: options.bind?.port ?? DISCOVERY_PORT, reuseAddr: options.bind?.reuseAddr });
  const local = socket.localAddress();
  const advertisePort = options.advertisePort ?? local.port;
  const limiter = new RateLimiter({ ...options.rateLimit, now });
  const instance = crypto.getRandomValues(new Uint8Array(INSTANCE_ID_BYTES));
  const instanceId = [...instance].map((b) => b.toString(16).padStart(2, "0")).join("");
  const addressesOf = options.addresses ?? advertisedAddresses;
  let cachedAddresses: { at: number; list: string[] } | undefined;
  const counters: DiscoveryResponderStats = {
    received: 0,
    queries: 0,
    replies: 0,
    rateLimited: 0,
    dropped: { oversized: 0, foreign: 0, version: 0, malformed: 0, unexpected: 0, source: 0 },
  };
  let closed = false;

  const listInterfaces = options.listInterfaces ?? multicastInterfaces;
  const joined = joinGroup(socket, options.group === undefined ? DISCOVERY_GROUP : options.group, options.interfaces ?? listInterfaces(), options.interfaces === undefined, log);
  // Interfaces that come up later are joined as they appear (the list was read at start).
  const rejoinMs = options.rejoinMs ?? REJOIN_MS;
  const rejoin = options.interfaces === undefined && options.group !== null && socket.addMembership && rejoinMs > 0
    ? setInterval(() => {
      let now: string[];
      try {
        now = listInterfaces();
      } catch {
        return;
      }
      // One gone since (deleted, down, its address changed): the kernel dropped its membership, so it is
      // joined again when it comes back, a VPN reconnecting or an adapter plugged in again.
      for (let i = joined.length - 1; i >= 0; i--) if (joined[i] !== "*" && !now.includes(joined[i])) joined.splice(i, 1);
      const fresh = now.filter((iface) => !joined.includes(iface));
      if (fresh.length === 0) return;
      const added = joinGroup(socket, options.group ?? DISCOVERY_GROUP, fresh, false, log);
      joined.push(...added);
      if (added.length > 0) log.info("Discovery: joined group {group} on {interfaces} too (up since the start, or back)", { group: options.group ?? DISCOVERY_GROUP, interfaces: added.join(", ") });
    }, rejoinMs)
    : undefined;
  (rejoin as { unref?: () => void } | undefined)?.unref?.();

  const addresses = (): string[] => {
    const t = now();
    if (!cachedAddresses || t - cachedAddresses.at > ADDRESS_CACHE_MS) {
      let list: string[] = [];
      try {
        list = addressesOf();
      } catch (err) {
        log.warn("Cannot list this host's addresses: {error}", { error: String(err) });
      }
      cachedAddresses = { at: t, list };
    }
    return cachedAddresses.list;
  };

  const drop = (reason: DropReason, from: RemoteAddress, detail: string) => {
    counters.dropped[reason]++;
    log.debug("Dropped a discovery datagram from {address}: {detail}", { address: from.address, port: from.port, reason, detail });
  };

  const handle = (data: Uint8Array, from: RemoteAddress): void => {
    if (closed) return;
    counters.received++;
    // The common junk is turned away before the decoder (whose errors cost a stack trace each).
    if (data.length > MAX_DISCOVERY_DATAGRAM) return drop("oversized", from, `${data.length} bytes`);
    if (!isDiscoveryDatagram(data)) return drop("foreign", from, "no sfx discovery magic");
    try {
      const message = decodeDiscoveryMessage(data);
      if (message.type !== "query") return drop("unexpected", from, `a ${message.type}, not a query`);
      if (from.port === 0 || !isUnicastAddress(from.address)) return drop("source", from, "no reply may go to that source");
      counters.queries++;
      if (!limiter.take(from.address)) {
        counters.rateLimited++;
        log.debug("Not answering {address}: over its reply rate", { address: from.address });
        return;
      }
      const reply = encodeReply({ nonce: message.nonce, instanceId: instance, port: advertisePort, name: options.name, version, addresses: addresses() });
      socket.send(reply, from);
      counters.replies++;
      log.debug("Answered a discovery query from {address}", { address: from.address, port: from.port });
    } catch (err) {
      if (err instanceof DiscoveryDecodeError) return drop(err.reason, from, err.message);
      // An encoder or socket failure is ours, not the sender's: log it, keep serving.
      log.warn("Discovery responder failed on a datagram from {from}: {error}", { from: from.address, error: String(err) });
    }
  };

  if (owned) {
    socket.onMessage(handle);
    socket.onError?.((err) => log.debug("Discovery socket error: {error}", { error: err.message }));
  }
  const group = options.group === undefined ? DISCOVERY_GROUP : options.group;
  log.info("Discovery responder on {on} ({multicast})", {
    on: formatAddress(local.address, local.port),
    multicast: group === null ? "unicast queries only" : `group ${group} joined on ${joined.join(", ") || "no interface"}`,
    advertisePort,
    instanceId,
  });

  return {
    instanceId,
    joined,
    handle,
    stats: () => ({ ...counters, dropped: { ...counters.dropped } }),
    localAddress: () => socket.localAddress(),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(rejoin);
      const dropped = Object.values(counters.dropped).reduce((a, b) => a + b, 0);
      log.info("Discovery responder stopped: {queries} queries, {replies} replies, {rateLimited} rate-limited, {dropped} dropped", {
        ...counters,
        dropped,
        droppedBy: { ...counters.dropped },
      });
      if (owned) await socket.close();
    },
  };
}

/** Throws SFX_BAD_ARGUMENT when a reply could not carry these values. */
function checkReplyFields(name: string, version: string, port: number): void {
  try {
    encodeReply({ nonce: new Uint8Array(NONCE_BYTES), instanceId: new Uint8Array(INSTANCE_ID_BYTES), port, name, version, addresses: [] });
  } catch (err) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid discovery settings (name '${name}', version '${version}', port ${port}): ${(err as Error).message}`, { cause: err });
  }
}

/** Joins `group` on each interface; returns those that worked ('*' when only the system default did, `orDefault` allowing it). */
function joinGroup(socket: DatagramSocket, group: string | null, interfaces: string[], orDefault: boolean, log: DiscoveryLog): string[] {
  if (group === null) return [];
  if (!socket.addMembership) {
    log.warn("This socket cannot join multicast groups: answering unicast queries only");
    return [];
  }
  try {
    socket.setMulticastTTL?.(1);
  } catch {
    // Only replies are sent, by unicast; TTL does not matter for them.
  }
  const joined: string[] = [];
  for (const iface of interfaces) {
    try {
      socket.addMembership(group, iface);
      joined.push(iface);
    } catch (err) {
      // A member already: the kernel keeps a membership through a link down and up, or an address
      // change on the same device, which the interface list had dropped meanwhile.
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE" || /EADDRINUSE/.test(String(err))) {
        joined.push(iface);
        continue;
      }
      log.debug("Cannot join {group} on {iface}: {error}", { group, iface, error: String(err) });
    }
  }
  if (joined.length === 0 && orDefault) {
    try {
      socket.addMembership(group);
      joined.push("*");
    } catch (err) {
      log.warn("Cannot join multicast group {group}: {error}; answering unicast queries only", { group, error: String(err) });
    }
  }
  return joined;
}
