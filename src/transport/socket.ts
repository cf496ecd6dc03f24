/**
 * Opens the right datagram socket for the runtime: `Deno.listenDatagram`
 * under Deno with `--unstable-net` (about ten times the receive rate of
 * node:dgram's compatibility layer there), node:dgram everywhere else.
 *
 * @module
 */
import type { DatagramSocket } from "./datagram.ts";
import { hasDenoDatagram, openDenoUdpSocket } from "./deno_udp.ts";
import { openUdpSocket, type UdpSocketOptions } from "./udp.ts";

/** Options for {@link openDatagramSocket}. */
export interface DatagramSocketOptions extends UdpSocketOptions {
  /** Force one implementation; default `"auto"`. `"deno"` throws when Deno's API is unavailable. */
  impl?: "auto" | "node" | "deno";
}

/** Which adapter {@link openDatagramSocket} would use with `impl: "auto"`. */
export function defaultDatagramImpl(): "node" | "deno" {
  return hasDenoDatagram() ? "deno" : "node";
}

/**
 * Opens a UDP socket behind the datagram seam, on the fastest API the runtime has.
 * Under Deno, `bufferSize` and `connect` are ignored (Deno has no such options).
 *
 * @example
 * ```ts
 * const socket = await openDatagramSocket({ host: "127.0.0.1", port: 6969 });
 * const endpoint = SctpEndpoint.listen({ socket });
 * ```
 */
export function openDatagramSocket(opts: DatagramSocketOptions = {}): Promise<DatagramSocket> {
  const impl = opts.impl === undefined || opts.impl === "auto" ? defaultDatagramImpl() : opts.impl;
  if (impl === "deno") return openDenoUdpSocket({ host: opts.host, port: opts.port, type: opts.type, reuseAddr: opts.reuseAddr });
  return openUdpSocket(opts);
}
