/**
 * The datagram seam: the only thing the SCTP stack needs from the network.
 * `udp.ts` implements it on node:dgram, `deno_udp.ts` on Deno.listenDatagram,
 * and `test/_bridge.ts` as an in-memory lossy link. One socket carries many
 * associations (RFC 6951 §5: one UDP port, associations told apart by the
 * remote address and port and the SCTP ports and tags inside).
 *
 * @module
 */

import { SfxError } from "../errors.ts";
import { SocketAddress } from "node:net";

/**
 * An IP address in the form received datagrams carry it (RFC 5952 for IPv6:
 * `0:0:0:0:0:0:0:1` and `::0001` become `::1`, hex in lower case, an
 * IPv4-mapped address dotted), so an address a user typed matches the one a
 * reply comes from. A zone (`%eth0`) is kept. Anything else is returned as is.
 */
export function canonicalAddress(address: string): string {
  if (!address.includes(":")) return address;
  const zone = address.indexOf("%");
  const bare = zone < 0 ? address : address.slice(0, zone);
  try {
    return new SocketAddress({ address: bare, family: "ipv6" }).address + (zone < 0 ? "" : address.slice(zone));
  } catch {
    return address;
  }
}

/**
 * Throws `SFX_BAD_ARGUMENT` unless `port` is a whole number from `lowest` to
 * 65535 (node:dgram would quietly take 99999 as 34463 and 1.5 as 1). `what`
 * names it in the message: "port", "server port".
 */
export function checkPort(port: unknown, lowest: 0 | 1, what = "port"): void {
  if (!(Number.isInteger(port) && (port as number) >= lowest && (port as number) <= 65535)) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid ${what} ${JSON.stringify(port)}: use a number from ${lowest} to 65535`);
  }
}

/** `host:port` for messages and logs, with an IPv6 address in brackets (`[::1]:6969`). */
export function formatAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Where a datagram came from or goes to. */
export interface RemoteAddress {
  address: string;
  port: number;
}

/** The local end of a socket. */
export interface LocalAddress extends RemoteAddress {
  family: "IPv4" | "IPv6";
}

/** Receives every datagram that arrives on the socket. `data` is only valid during the call unless copied. */
export type DatagramHandler = (data: Uint8Array, from: RemoteAddress) => void;

/** A bound datagram socket. */
export interface DatagramSocket {
  /**
   * Sends one datagram. Never throws for network errors (they are reported with onError); drops when the socket is closed.
   * The socket may hold `data` until it is sent. `released`, if given, is called once it no longer does (sent, failed or
   * dropped), so the caller may reuse the buffer; never from within `send`, and perhaps never (the buffer is then
   * garbage like any other).
   */
  send(data: Uint8Array, to: RemoteAddress, released?: (data: Uint8Array) => void): void;
  /** Sets the one receiver of incoming datagrams (a later call replaces it). */
  onMessage(handler: DatagramHandler): void;
  /** Reports asynchronous socket errors (e.g. ICMP unreachable surfaced as ECONNREFUSED). */
  onError?(handler: (err: Error) => void): void;
  /** The bound address and port (after binding port 0, the chosen port). */
  localAddress(): LocalAddress;
  /** Largest datagram payload worth sending from this socket (e.g. the interface MTU less IP/UDP headers), if known. */
  maxDatagramSize?(to: RemoteAddress): number | undefined;
  /**
   * Datagrams the kernel dropped because this socket's receive buffer was full (the reader fell behind),
   * counted from the first call, where the platform tells (Linux); `undefined` otherwise.
   */
  receiveOverflows?(): number | undefined;
  /** Multicast, where the platform has it (discovery uses it). */
  addMembership?(group: string, iface?: string): void;
  setMulticastTTL?(ttl: number): void;
  /** Closes the socket; resolves once it is closed. Idempotent. */
  close(): Promise<void>;
}
