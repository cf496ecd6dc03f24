/**
 * The node:dgram adapter for the datagram seam ({@link DatagramSocket}).
 *
 * One UDP socket carries many SCTP associations (RFC 6951 §5). The adapter
 * asks the kernel for large socket buffers (a burst of a congestion window
 * arrives faster than the event loop drains it) and tells the stack the
 * largest datagram worth sending: node:dgram cannot set the don't-fragment
 * bit, so without that ceiling the kernel would fragment oversized datagrams
 * and path MTU probes (RFC 8899) would "succeed" at sizes the path does not
 * carry unfragmented.
 *
 * @module
 */
import { lookup as dnsLookup } from "node:dns";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import type { DatagramHandler, DatagramSocket, LocalAddress, RemoteAddress } from "./datagram.ts";
import { receiveOverflowCounter } from "./receive_overflows.ts";

/** Options for {@link openUdpSocket}. */
export interface UdpSocketOptions {
  /** Address to bind; default `0.0.0.0` (`::` for udp6). */
  host?: string;
  /** Port to bind; default 0 (the kernel picks one). */
  port?: number;
  /** Address family; default from `host` (udp6 when it contains `:`), else udp4. */
  type?: "udp4" | "udp6";
  /** SO_REUSEADDR (needed by several listeners on one multicast port). */
  reuseAddr?: boolean;
  /** Wanted SO_RCVBUF / SO_SNDBUF in bytes; default 8 MiB, halved until the kernel accepts. */
  bufferSize?: number;
  /**
   * Connect the socket to this one peer (a client talking to one server):
   * the kernel then skips the route lookup per datagram (about +30% packets/s).
   * Datagrams from other addresses are no longer received.
   */
  connect?: RemoteAddress;
}

/** Largest UDP payload over IPv4: 65535 − 20 (IP header) − 8 (UDP header). */
export const MAX_UDP_PAYLOAD_V4 = 65507;
/** Largest UDP payload over IPv6 without jumbograms: 65535 − 8 (the IPv6 header is not counted in its payload length). */
export const MAX_UDP_PAYLOAD_V6 = 65527;
/** IP + UDP header bytes subtracted from an interface MTU. */
const HEADER_V4 = 28;
const HEADER_V6 = 48;
/** Used when the outgoing interface's MTU cannot be found: Ethernet's 1500 less headers. */
const FALLBACK_MTU = 1500;
const DEFAULT_BUFFER = 8 * 1024 * 1024;
const MIN_BUFFER = 256 * 1024;

/**
 * Opens a UDP socket bound to `host:port` and returns it behind the datagram seam.
 *
 * @example
 * ```ts
 * const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
 * socket.onMessage((data, from) => socket.send(data, from)); // echo
 * console.log(socket.localAddress().port);
 * await socket.close();
 * ```
 */
export async function openUdpSocket(opts: UdpSocketOptions = {}): Promise<UdpSocket> {
  const type = opts.type ?? (opts.host?.includes(":") ? "udp6" : "udp4");
  const host = opts.host ?? (type === "udp6" ? "::" : "0.0.0.0");
  const socket = createSocket({ type, reuseAddr: opts.reuseAddr ?? false, lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once("error", onError);
    socket.bind({ address: host, port: opts.port ?? 0, exclusive: !opts.reuseAddr }, () => {
      socket.off("error", onError);
      resolve();
    });
  });
  setBufferSizes(socket, opts.bufferSize ?? DEFAULT_BUFFER);
  if (opts.connect) {
    const to = opts.connect;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once("error", onError);
      try {
        // With a callback, node:dgram reports a failed connect (ENETUNREACH, EADDRNOTAVAIL) only to it.
        socket.connect(to.port, to.address, (err?: Error) => {
          if (err) return onError(err);
          socket.off("error", onError);
          resolve();
        });
      } catch (err) {
        onError(err as Error); // a port out of range throws here: the bound socket must not stay open
      }
    });
  }
  return new UdpSocket(socket, opts.connect);
}

/**
 * node:dgram resolves the address of every datagram with dns.lookup, which
 * answers even an IP literal on the next tick: one deferred callback per
 * datagram. The stack always sends to literals, so answer those at once
 * (measured: +5–25% datagrams/s on an unconnected socket).
 */
function literalLookup(host: string, opts: unknown, cb?: unknown): void {
  const callback = (typeof opts === "function" ? opts : cb) as (err: Error | null, address: string, family: number) => void;
  const family = isIP(host);
  if (family !== 0) return callback(null, host, family);
  // node:dgram passes the socket's family as a bare number (4 or 6): keep it, or a udp4 socket may get ::1.
  const options = typeof opts === "number" ? { family: opts } : typeof opts === "object" && opts !== null ? (opts as object) : {};
  dnsLookup(host, options, callback as never);
}

/** Sets SO_RCVBUF and SO_SNDBUF, halving the request until the kernel takes it. */
function setBufferSizes(socket: Socket, wanted: number): void {
  for (const set of [(n: number) => socket.setRecvBufferSize(n), (n: number) => socket.setSendBufferSize(n)]) {
    for (let size = wanted; size >= MIN_BUFFER; size = Math.floor(size / 2)) {
      try {
        set(size);
        break;
      } catch {
        // The kernel refused this size (or the platform has no such option): try a smaller one.
      }
    }
  }
}

/** A node:dgram socket behind the {@link DatagramSocket} seam. */
export class UdpSocket implements DatagramSocket {
  readonly #socket: Socket;
  readonly #connected: RemoteAddress | undefined;
  #handler: DatagramHandler = () => {};
  #errorHandler: (err: Error) => void = () => {};
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #local: LocalAddress;
  #overflows: (() => number | undefined) | undefined;

  constructor(socket: Socket, connected?: RemoteAddress) {
    this.#socket = socket;
    this.#connected = connected;
    const a = socket.address();
    this.#local = { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    // rinfo carries address and port: it is a RemoteAddress already, no copy needed.
    socket.on("message", (msg, rinfo) => this.#handler(msg, rinfo));
    // Without a listener an "error" event would throw; the seam reports errors instead.
    socket.on("error", (err) => this.#errorHandler(err));
  }

  /**
   * Sends one datagram. The socket may hold `data` until it is sent: do not modify it
   * afterwards, unless `released` is given and has been called.
   */
  send(data: Uint8Array, to: RemoteAddress, released?: (data: Uint8Array) => void): void {
    if (this.#closed) return;
    try {
      const c = this.#connected;
      // No callback unless asked for: one costs 10-25% of the send rate of small datagrams
      // (node:dgram calls it on the next tick even when the send completed at once). Without
      // one, a connected socket's ICMP errors (ECONNREFUSED) still reach onError through the
      // receive path when the socket is idle; one consumed by a send in a burst is lost, and
      // liveness detection covers that.
      const done = released === undefined ? undefined : () => released(data);
      if (c !== undefined && c.port === to.port && c.address === to.address) this.#socket.send(data, done);
      else this.#socket.send(data, to.port, to.address, done);
    } catch (err) {
      // Synchronous throws are argument errors (bad port) or a socket closed under us.
      this.#errorHandler(err as Error);
    }
  }

  onMessage(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  onError(handler: (err: Error) => void): void {
    this.#errorHandler = handler;
  }

  localAddress(): LocalAddress {
    return { ...this.#local };
  }

  /** Loopback: the largest UDP payload; elsewhere the outgoing interface's MTU less IP and UDP headers. */
  maxDatagramSize(to: RemoteAddress): number {
    return maxDatagramSizeFor(this.#local.address, to.address);
  }

  /** Datagrams the kernel dropped for a full receive buffer, from the first call (Linux; see {@link receiveOverflowCounter}). */
  receiveOverflows(): number | undefined {
    return (this.#overflows ??= receiveOverflowCounter(this.#local))();
  }

  /** Joins a multicast group (on the interface with address `iface`, default: the kernel's choice). */
  addMembership(group: string, iface?: string): void {
    this.#socket.addMembership(group, iface);
  }

  /** Leaves a multicast group. */
  dropMembership(group: string, iface?: string): void {
    this.#socket.dropMembership(group, iface);
  }

  setMulticastTTL(ttl: number): void {
    this.#socket.setMulticastTTL(ttl);
  }

  /** Whether this host receives its own multicast datagrams. */
  setMulticastLoopback(on: boolean): void {
    this.#socket.setMulticastLoopback(on);
  }

  /** Sets the outgoing interface for multicast (its address). */
  setMulticastInterface(iface: string): void {
    this.#socket.setMulticastInterface(iface);
  }

  setBroadcast(on: boolean): void {
    this.#socket.setBroadcast(on);
  }

  /** The kernel's actual SO_RCVBUF and SO_SNDBUF (Linux reports twice the requested size). */
  bufferSizes(): { recv: number; send: number } {
    return { recv: this.#socket.getRecvBufferSize(), send: this.#socket.getSendBufferSize() };
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.#closing;
  }
}

/** Whether an address is a loopback one (127/8, ::1, ::ffff:127.x). */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.") || address === "localhost";
}

/**
 * The largest UDP payload worth sending from a socket bound to `local` to
 * `remote`: the whole 64 KiB on loopback, otherwise the MTU of the interface
 * the datagram leaves by, less the IP and UDP headers.
 */
export function maxDatagramSizeFor(local: string, remote: string): number {
  const v6 = remote.includes(":") && !remote.startsWith("::ffff:");
  if (isLoopback(remote)) return v6 ? MAX_UDP_PAYLOAD_V6 : MAX_UDP_PAYLOAD_V4;
  const mtu = outgoingMtu(local, remote, v6) ?? FALLBACK_MTU;
  return Math.max(0, Math.min(mtu, 65535) - (v6 ? HEADER_V6 : HEADER_V4));
}

/** The MTU of the interface a datagram from `local` to `remote` leaves by, if it can be found. */
function outgoingMtu(local: string, remote: string, v6: boolean): number | undefined {
  let ifaces: ReturnType<typeof networkInterfaces>;
  try {
    ifaces = networkInterfaces();
  } catch {
    return undefined;
  }
  const family = v6 ? "IPv6" : "IPv4";
  const remote4 = v6 ? undefined : parseIpv4(remote.replace(/^::ffff:/, ""));
  let bound: string | undefined;
  let onLink: string | undefined;
  for (const [name, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) {
      if (a.address === local) bound = name;
      if (remote4 !== undefined && a.family === family && !a.internal) {
        const mine = parseIpv4(a.address);
        const mask = parseIpv4(a.netmask);
        if (mine !== undefined && mask !== undefined && ((mine & mask) >>> 0) === ((remote4 & mask) >>> 0)) onLink = name;
      }
    }
  }
  // The socket bound to one interface's address sends from it; otherwise the
  // destination's own subnet, then the default route, then the smallest MTU of all.
  const name = bound ?? onLink ?? (v6 ? undefined : defaultRouteInterface());
  if (name !== undefined) {
    const mtu = readMtu(name);
    if (mtu !== undefined) return mtu;
  }
  let smallest: number | undefined;
  for (const [n, addrs] of Object.entries(ifaces)) {
    if (!(addrs ?? []).some((a) => a.family === family && !a.internal)) continue;
    const mtu = readMtu(n);
    if (mtu !== undefined && (smallest === undefined || mtu < smallest)) smallest = mtu;
  }
  return smallest;
}

function readMtu(iface: string): number | undefined {
  if (!/^[\w.@:-]+$/.test(iface)) return undefined;
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${iface}/mtu`, "utf8").trim());
    return Number.isInteger(mtu) && mtu >= 68 ? mtu : undefined;
  } catch {
    return undefined; // not Linux, or no such interface
  }
}

/** The interface of the IPv4 default route, from /proc/net/route (Linux). */
function defaultRouteInterface(): string | undefined {
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
      if (dest === "00000000" && mask === "00000000") return iface;
    }
  } catch {
    // not Linux
  }
  return undefined;
}

function parseIpv4(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}
