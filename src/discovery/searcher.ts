/**
 * The client side of discovery: send a query to the group (TTL 1, by every
 * IPv4 interface, loopback included), collect the unicast replies that echo
 * its nonce, and report each server once.
 *
 * @module
 */
import type { RemoteAddress } from "../transport/datagram.ts";
import { SfxError } from "../errors.ts";
import { DISCOVERY_GROUP, DISCOVERY_PORT, DISCOVERY_SETTLE_MS, DISCOVERY_TIMEOUT_MS, DISCOVERY_TTL, MAX_SERVERS_PER_SEARCH, QUERY_REPEATS } from "./defaults.ts";
import { localAddresses, multicastInterfaces } from "./interfaces.ts";
import { isLoopback } from "../transport/udp.ts";
import { decodeDiscoveryMessage, type DiscoveryReply, encodeQuery, NONCE_BYTES } from "./message.ts";
import { type MulticastSocket, openDiscoverySocket } from "./udp_socket.ts";
import { formatAddress } from "../transport/datagram.ts";
import { mayReach } from "../deno_access.ts";

/** A server that answered. */
export interface DiscoveredServer {
  /** Its name. */
  name: string;
  /** Its sfx version. */
  version: string;
  /** Where to connect: the reply's source address (the server's address on the path that reached us). */
  host: string;
  /** Its SCTP-over-UDP port. */
  port: number;
  /** Every address the server advertises. */
  addresses: string[];
  /** The server's instance ID (16 hex digits): one per running server. */
  instanceId: string;
}

/** How to search. */
export interface DiscoverOptions {
  /** How long to listen for answers, in ms; default 1000. */
  timeoutMs?: number;
  /** The multicast group; default 239.255.69.69. */
  group?: string;
  /** The discovery port; default 6969. */
  port?: number;
  /** Query this address by unicast instead of the group (the responder answers either). */
  target?: RemoteAddress;
  /** IPv4 addresses of the interfaces to send the query by; default every IPv4 interface, loopback included. */
  interfaces?: string[];
  /** How many times to send the query within the first half of the timeout; default 3. */
  repeats?: number;
  /** Stops the search: the promise rejects with SFX_CANCELLED. */
  signal?: AbortSignal;
  /** Called once per server, as it answers. */
  onServer?: (server: DiscoveredServer) => void;
}

/**
 * Finds the sfx servers on the local network: resolves after `timeoutMs`
 * with every server that answered, each once (an empty list when none did).
 * Rejects with `SFX_NO_SERVER` only when the query could not be sent at all
 * (no usable interface), and with `SFX_CANCELLED` when `signal` aborts.
 *
 * @example
 * ```ts
 * for (const s of await discoverServers({ timeoutMs: 1000 })) {
 *   console.log(`${s.name} at ${s.host}:${s.port} (sfx ${s.version})`);
 * }
 * ```
 */
export function discoverServers(options: DiscoverOptions = {}): Promise<DiscoveredServer[]> {
  return search(options);
}

/**
 * Resolves with the first server that answers; rejects with SfxError
 * `SFX_NO_SERVER` when none does within `timeoutMs`.
 *
 * @example
 * ```ts
 * const server = await findFirstServer({ timeoutMs: 1000 });
 * ```
 */
export async function findFirstServer(options: DiscoverOptions = {}): Promise<DiscoveredServer> {
  const found = await search(options, 0);
  if (found.length === 0) throw noServerError(options);
  return found[0];
}

/**
 * Resolves with the one server that answers. Two clients that each took the
 * first answer could end up on different servers (and never meet), or one
 * of them on a LAN peer answering in a real server's name: so after the
 * first answer this listens `settleMs` more (default 300 ms, past
 * `timeoutMs` if need be), and rejects with `SFX_SEVERAL_SERVERS`, naming each, when
 * another answered. `SFX_NO_SERVER` when none does within `timeoutMs`.
 *
 * @example
 * ```ts
 * const server = await findOnlyServer({ timeoutMs: 1000 });
 * ```
 */
export async function findOnlyServer(options: DiscoverOptions & { settleMs?: number } = {}): Promise<DiscoveredServer> {
  const found = await search(options, options.settleMs ?? DISCOVERY_SETTLE_MS);
  if (found.length === 0) throw noServerError(options);
  if (found.length > 1) {
    // At most 10 named (a flood of fake replies must not make one line of kilobytes), in `sfx
    // discover`'s order, not the order they happened to answer in.
    const each = sortServers(found).slice(0, 10).map((s) => `"${s.name}" at ${formatAddress(s.host, s.port)}`).join(", ");
    const more = found.length > 10 ? ` and ${found.length - 10} more` : "";
    throw new SfxError("SFX_SEVERAL_SERVERS", `${found.length} sfx servers answered: ${each}${more}`);
  }
  return found[0];
}

/** Servers by name, then address: the order `sfx discover` lists them in, and names them in errors. */
export function sortServers(servers: readonly DiscoveredServer[]): DiscoveredServer[] {
  return [...servers].sort((a, b) => a.name.localeCompare(b.name) || a.host.localeCompare(b.host));
}

/** The error for a search that found nothing, naming where it looked. */
export function noServerError(options: DiscoverOptions): SfxError {
  const seconds = (options.timeoutMs ?? DISCOVERY_TIMEOUT_MS) / 1000;
  const where = options.target
    ? `at ${formatAddress(options.target.address, options.target.port)}`
    : `on multicast group ${options.group ?? DISCOVERY_GROUP} port ${options.port ?? DISCOVERY_PORT}`;
  return new SfxError("SFX_NO_SERVER", `No sfx server answered within ${seconds} s ${where}`);
}

/**
 * Where a reply goes in a search's results, or undefined for one already
 * there. A server reached through several interfaces answers once on each:
 * one entry, when the two replies list each other's source address, or when
 * both come from this machine (a loopback source and one of its own
 * addresses: a server here answers a query looped back on every interface).
 * Anyone on the LAN can see a query and answer it with another server's
 * instance id, though, and had it answered first, the real server's reply
 * would be dropped as a repeat: a reply that names the same instance from
 * elsewhere is listed beside it, so the user sees two servers (and `sfx
 * client` asks which).
 */
function keyFor(found: Map<string, DiscoveredServer>, instanceId: string, host: string, reply: DiscoveryReply, own: () => ReadonlySet<string>): string | undefined {
  const here = (a: string, b: string) => isLoopback(a) && own().has(b);
  for (const seen of found.values()) {
    if (seen.instanceId !== instanceId || seen.port !== reply.port) continue;
    if (seen.host === host || (seen.addresses.includes(host) && reply.addresses.includes(seen.host))) return undefined;
    if (here(seen.host, host) || here(host, seen.host)) return undefined;
  }
  return found.has(instanceId) ? `${instanceId} ${formatAddress(host, reply.port)}` : instanceId;
}

/**
 * Sends the query and collects the answers until `timeoutMs`, or until
 * `settleMs` after the first answer when given (0: at the first answer).
 */
async function search(options: DiscoverOptions, settleMs?: number): Promise<DiscoveredServer[]> {
  const timeoutMs = options.timeoutMs ?? DISCOVERY_TIMEOUT_MS;
  const repeats = Math.max(1, Math.min(10, options.repeats ?? QUERY_REPEATS));
  if (!(timeoutMs >= 0)) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid discovery timeout ${timeoutMs}`);
  if (options.signal?.aborted) throw new SfxError("SFX_CANCELLED", "Discovery cancelled");
  const target: RemoteAddress = options.target ?? { address: options.group ?? DISCOVERY_GROUP, port: options.port ?? DISCOVERY_PORT };
  const multicast = options.target === undefined;
  // Deno drops a query to an address --allow-net does not list with a bare "UNKNOWN": said first.
  if (!mayReach(target.address, target.port)) {
    throw new SfxError("SFX_IO", `Deno did not grant network access to ${formatAddress(target.address, target.port)}, where discovery asks: allow it with --allow-net (or -A); commands that take --server can be given one instead`);
  }
  const socket = await openDiscoverySocket({ host: target.address.includes(":") ? "::" : "0.0.0.0", port: 0 });
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const query = encodeQuery(nonce);
  const found = new Map<string, DiscoveredServer>();
  let ownList: ReadonlySet<string> | undefined;
  const own = () => (ownList ??= localAddresses());
  const timers: ReturnType<typeof setTimeout>[] = [];

  return new Promise<DiscoveredServer[]>((resolve, reject) => {
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener("abort", onAbort);
      socket.close().then(() => (error === undefined ? resolve([...found.values()]) : reject(error)));
    };
    const onAbort = () => finish(new SfxError("SFX_CANCELLED", "Discovery cancelled"));
    options.signal?.addEventListener("abort", onAbort, { once: true });

    socket.onError(() => {}); // ICMP unreachable and the like: other paths may still answer.
    socket.onMessage((data, from) => {
      if (done) return;
      let message;
      try {
        message = decodeDiscoveryMessage(data);
      } catch {
        return; // foreign or malformed: not ours
      }
      if (message.type !== "reply" || !sameBytes(message.nonce, nonce)) return; // stale or someone else's
      const instanceId = [...message.instanceId].map((b) => b.toString(16).padStart(2, "0")).join("");
      const key = keyFor(found, instanceId, from.address, message, own);
      if (key === undefined || found.size >= MAX_SERVERS_PER_SEARCH) return;
      const server: DiscoveredServer = {
        name: message.name,
        version: message.version,
        host: from.address,
        port: message.port,
        addresses: message.addresses,
        instanceId,
      };
      found.set(key, server);
      try {
        options.onServer?.(server);
      } catch (err) {
        return finish(err);
      }
      if (settleMs === 0) finish();
      else if (settleMs !== undefined && found.size === 1) {
        settling = true;
        timers.push(setTimeout(finish, settleMs));
      }
    });

    if (multicast) {
      try {
        socket.setMulticastTTL(DISCOVERY_TTL);
        socket.setMulticastLoopback(true); // a server on this host answers too
      } catch (err) {
        return finish(new SfxError("SFX_IO", `Cannot set up multicast: ${(err as Error).message}`, { cause: err }));
      }
    }
    const interfaces = multicast ? options.interfaces ?? multicastInterfaces() : [];
    let sent = 0;
    let sendError: unknown;
    /** A first answer came, and its settle time runs (see `settleMs`). */
    let settling = false;
    const sendOne = async (iface?: string) => {
      try {
        if (iface !== undefined) socket.setMulticastInterface(iface);
        await socket.sendNow(query, target);
        sent++;
      } catch (err) {
        sendError = err; // that interface cannot send (down, no route): the others may
      }
    };
    const sendRound = async () => {
      if (!multicast) return sendOne();
      // One interface at a time: the interface is a socket option, read when each datagram is sent.
      for (const iface of interfaces) {
        if (done) return;
        await sendOne(iface);
      }
    };
    // Repeat the query over the first half of the window, in case one is lost.
    const spacing = repeats > 1 ? timeoutMs / 2 / (repeats - 1) : 0;
    let chain = Promise.resolve();
    for (let i = 0; i < repeats; i++) {
      timers.push(setTimeout(() => {
        chain = chain.then(() => (done ? undefined : sendRound()));
      }, i * spacing));
    }
    timers.push(setTimeout(() => {
      // Not one query left this host: say why, rather than "nobody answered".
      const noInterface = multicast && interfaces.length === 0;
      if (sent === 0 && found.size === 0 && (sendError !== undefined || noInterface)) {
        const why = noInterface ? "no IPv4 interface" : sendError instanceof Error ? sendError.message : String(sendError);
        return finish(new SfxError("SFX_NO_SERVER", `Cannot send the discovery query to ${formatAddress(target.address, target.port)}: ${why}`, { cause: sendError }));
      }
      // A first answer late in the window still gets its whole settle time: another server may
      // answer just after it (multicast on Wi-Fi waits for a beacon), and must not be missed.
      if (!settling) finish();
    }, timeoutMs));
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
