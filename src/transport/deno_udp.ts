/**
 * The datagram seam on Deno's own UDP API, `Deno.listenDatagram` (needs
 * `--unstable-net`). Under Deno, node:dgram's compatibility layer receives
 * roughly a tenth of the datagrams per second this API does, so
 * `socket.ts` picks this adapter whenever it is available.
 *
 * Deno offers no way to set SO_RCVBUF/SO_SNDBUF; the kernel defaults apply.
 *
 * @module
 */
import type { DatagramHandler, DatagramSocket, LocalAddress, RemoteAddress } from "./datagram.ts";
import { maxDatagramSizeFor } from "./udp.ts";
import { receiveOverflowCounter } from "./receive_overflows.ts";

/** The parts of Deno's unstable datagram API this adapter uses (typed here so Node's tsc needs no Deno types). */
interface DenoNetAddr {
  transport: "udp";
  hostname: string;
  port: number;
}
interface DenoMembership {
  leave(): Promise<void>;
  setLoopback(on: boolean): Promise<void>;
  /** IPv4 memberships only. */
  setTTL?(ttl: number): Promise<void>;
}
interface DenoDatagramConn {
  readonly addr: DenoNetAddr;
  receive(p?: Uint8Array): Promise<[Uint8Array, DenoNetAddr]>;
  send(p: Uint8Array, addr: DenoNetAddr): Promise<number>;
  joinMulticastV4(address: string, networkInterface: string): Promise<DenoMembership>;
  joinMulticastV6(address: string, networkInterface: number): Promise<DenoMembership>;
  close(): void;
}
interface DenoNamespace {
  listenDatagram(opts: { transport: "udp"; hostname?: string; port: number; reuseAddress?: boolean; loopback?: boolean }): DenoDatagramConn;
}

/** Deno's namespace when running under Deno with `--unstable-net`, else undefined. */
function denoNet(): DenoNamespace | undefined {
  const deno = (globalThis as unknown as { Deno?: Partial<DenoNamespace> }).Deno;
  return typeof deno?.listenDatagram === "function" ? (deno as DenoNamespace) : undefined;
}

/** Whether `Deno.listenDatagram` can be used (Deno with `--unstable-net`). */
export function hasDenoDatagram(): boolean {
  return denoNet() !== undefined;
}

/** Options for {@link openDenoUdpSocket}. */
export interface DenoUdpSocketOptions {
  /** Address to bind; default `0.0.0.0` (`::` for udp6). */
  host?: string;
  /** Port to bind; default 0. */
  port?: number;
  type?: "udp4" | "udp6";
  reuseAddr?: boolean;
}

/** Receive buffers are carved from slabs of this size, so each datagram gets fresh memory without a 64 KiB allocation. */
const SLAB = 1 << 20;
const MAX_DATAGRAM = 65536;

/**
 * Opens a UDP socket with `Deno.listenDatagram`. Throws when not running
 * under Deno with `--unstable-net` (use `openDatagramSocket` to fall back).
 *
 * @example
 * ```ts
 * const socket = await openDenoUdpSocket({ host: "127.0.0.1" });
 * socket.onMessage((data, from) => socket.send(data, from));
 * ```
 */
export function openDenoUdpSocket(opts: DenoUdpSocketOptions = {}): Promise<DenoUdpSocket> {
  const deno = denoNet();
  if (!deno) return Promise.reject(new Error("Deno.listenDatagram is not available (run under Deno with --unstable-net)"));
  const type = opts.type ?? (opts.host?.includes(":") ? "udp6" : "udp4");
  const hostname = opts.host ?? (type === "udp6" ? "::" : "0.0.0.0");
  try {
    const conn = deno.listenDatagram({ transport: "udp", hostname, port: opts.port ?? 0, reuseAddress: opts.reuseAddr, loopback: true });
    return Promise.resolve(new DenoUdpSocket(conn));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** A `Deno.DatagramConn` behind the {@link DatagramSocket} seam. */
export class DenoUdpSocket implements DatagramSocket {
  readonly #conn: DenoDatagramConn;
  readonly #local: LocalAddress;
  #handler: DatagramHandler = () => {};
  #errorHandler: (err: Error) => void = () => {};
  #closed = false;
  #loop: Promise<void>;
  #memberships: Array<Promise<DenoMembership | undefined>> = [];
  #ttl: number | undefined;
  #slab = new Uint8Array(SLAB);
  #slabOffset = 0;
  /** Reused destination objects: Deno wants `{transport, hostname, port}`. */
  #lastTo: RemoteAddress | undefined;
  #lastAddr: DenoNetAddr | undefined;
  /** Datagrams waiting for the one in flight, as [data, addr, released, data, addr, released, …] from #queueHead. */
  #queue: Array<Uint8Array | DenoNetAddr | ((data: Uint8Array) => void) | undefined> = [];
  #queueHead = 0;
  #sending = false;
  /** The datagram being sent, and whom to tell when Deno no longer holds it. */
  #inFlight: Uint8Array | undefined;
  #inFlightReleased: ((data: Uint8Array) => void) | undefined;
  #overflows: (() => number | undefined) | undefined;

  constructor(conn: DenoDatagramConn) {
    this.#conn = conn;
    const a = conn.addr;
    this.#local = { address: a.hostname, port: a.port, family: a.hostname.includes(":") ? "IPv6" : "IPv4" };
    this.#loop = this.#receiveLoop();
  }

  async #receiveLoop(): Promise<void> {
    while (!this.#closed) {
      if (this.#slab.length - this.#slabOffset < MAX_DATAGRAM) {
        this.#slab = new Uint8Array(SLAB);
        this.#slabOffset = 0;
      }
      let data: Uint8Array;
      let from: DenoNetAddr;
      try {
        [data, from] = await this.#conn.receive(this.#slab.subarray(this.#slabOffset, this.#slabOffset + MAX_DATAGRAM));
      } catch (err) {
        if (this.#closed) return;
        // ICMP errors surface on receive (e.g. ECONNREFUSED); the socket stays usable.
        this.#errorHandler(err as Error);
        continue;
      }
      // Keep the next datagram 8-byte aligned and off this one's bytes: handlers may keep views.
      this.#slabOffset += (data.length + 7) & ~7;
      try {
        this.#handler(data, { address: from.hostname, port: from.port });
      } catch (err) {
        this.#errorHandler(err as Error);
      }
    }
  }

  /**
   * Sends one datagram. Deno may hold `data` until it is sent: do not modify it afterwards,
   * unless `released` is given and has been called.
   * Deno's sends are asynchronous and two in flight at once can leave in either order
   * (measured: ~0.25% swapped), which SCTP would take for loss; so one send is in
   * flight at a time and the rest wait in order.
   */
  send(data: Uint8Array, to: RemoteAddress, released?: (data: Uint8Array) => void): void {
    if (this.#closed) return;
    let addr = this.#lastAddr;
    if (addr === undefined || this.#lastTo !== to) {
      addr = { transport: "udp", hostname: to.address, port: to.port };
      this.#lastTo = to;
      this.#lastAddr = addr;
    }
    if (this.#sending) {
      this.#queue.push(data, addr, released);
      return;
    }
    this.#start(data, addr, released);
  }

  #start(data: Uint8Array, addr: DenoNetAddr, released: ((data: Uint8Array) => void) | undefined): void {
    this.#sending = true;
    this.#inFlight = data;
    this.#inFlightReleased = released;
    this.#conn.send(data, addr).then(this.#sendNext, this.#sendFailed);
  }

  readonly #sendNext = (): void => {
    const released = this.#inFlightReleased;
    if (released !== undefined) {
      this.#inFlightReleased = undefined;
      released(this.#inFlight as Uint8Array);
    }
    this.#inFlight = undefined;
    if (this.#closed || this.#queueHead >= this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
      this.#sending = false;
      return;
    }
    const data = this.#queue[this.#queueHead] as Uint8Array;
    const addr = this.#queue[this.#queueHead + 1] as DenoNetAddr;
    const next = this.#queue[this.#queueHead + 2] as ((data: Uint8Array) => void) | undefined;
    this.#queueHead += 3;
    if (this.#queueHead > 6144 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    this.#start(data, addr, next);
  };

  readonly #sendFailed = (err: Error): void => {
    if (!this.#closed) this.#errorHandler(err);
    this.#sendNext();
  };

  onMessage(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  onError(handler: (err: Error) => void): void {
    this.#errorHandler = handler;
  }

  localAddress(): LocalAddress {
    return { ...this.#local };
  }

  maxDatagramSize(to: RemoteAddress): number {
    return maxDatagramSizeFor(this.#local.address, to.address);
  }

  /** Datagrams the kernel dropped for a full receive buffer, from the first call (Linux; see {@link receiveOverflowCounter}). */
  receiveOverflows(): number | undefined {
    return (this.#overflows ??= receiveOverflowCounter(this.#local))();
  }

  /** Joins a multicast group; `iface` is the interface address (IPv4) or index (IPv6). Errors go to onError. */
  addMembership(group: string, iface?: string): void {
    const joined = (group.includes(":") ? this.#conn.joinMulticastV6(group, Number(iface ?? 0)) : this.#conn.joinMulticastV4(group, iface ?? "0.0.0.0"))
      .then(async (m) => {
        if (this.#ttl !== undefined) await m.setTTL?.(this.#ttl);
        return m;
      })
      .catch((err: Error) => {
        this.#errorHandler(err);
        return undefined;
      });
    this.#memberships.push(joined);
  }

  /** Deno sets the TTL per membership: applied to current and later ones. */
  setMulticastTTL(ttl: number): void {
    this.#ttl = ttl;
    for (const m of this.#memberships) void m.then((x) => x?.setTTL?.(ttl)).catch((err: Error) => this.#errorHandler(err));
  }

  async close(): Promise<void> {
    if (this.#closed) return this.#loop;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    return this.#loop;
  }
}
