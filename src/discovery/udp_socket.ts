/**
 * A small node:dgram adapter for discovery's own sockets (the searcher's, and
 * the responder's when it is not handed the server's shared socket). It
 * implements the {@link DatagramSocket} seam plus the multicast controls a
 * searcher needs. Kept behind this one function so it can later give way to
 * `src/transport/udp.ts`.
 *
 * @module
 */
import { createSocket, type Socket } from "node:dgram";
import type { DatagramHandler, DatagramSocket, LocalAddress, RemoteAddress } from "../transport/datagram.ts";
import { SfxError } from "../errors.ts";
import { formatAddress } from "../transport/datagram.ts";

/** A {@link DatagramSocket} with the multicast controls a searcher uses. */
export interface MulticastSocket extends DatagramSocket {
  onError(handler: (err: Error) => void): void;
  addMembership(group: string, iface?: string): void;
  setMulticastTTL(ttl: number): void;
  /** Whether multicast sent from this socket is delivered to sockets on this host too. */
  setMulticastLoopback(on: boolean): void;
  /** The local IPv4 address whose interface outgoing multicast leaves by. */
  setMulticastInterface(address: string): void;
  /** Like send(), resolving once the datagram is handed to the kernel (rejecting on a send error). */
  sendNow(data: Uint8Array, to: RemoteAddress): Promise<void>;
}

/** Where to bind a discovery socket. */
export interface BindOptions {
  host?: string;
  port?: number;
  /** SO_REUSEADDR: several processes on one host may then bind the same port (all get multicast). */
  reuseAddr?: boolean;
}

/** Opens and binds a UDP socket (IPv4 unless `host` is an IPv6 address). */
export function openDiscoverySocket(options: BindOptions = {}): Promise<MulticastSocket> {
  const host = options.host ?? "0.0.0.0";
  const port = options.port ?? 0;
  const socket: Socket = createSocket({ type: host.includes(":") ? "udp6" : "udp4", reuseAddr: options.reuseAddr ?? false });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error) => {
      socket.close();
      reject(new SfxError("SFX_IO", `Cannot bind UDP ${formatAddress(host, port)}: ${err.message}`, { cause: err }));
    };
    socket.once("error", onBindError);
    socket.bind(port, host, () => {
      socket.off("error", onBindError);
      resolve(wrap(socket));
    });
  });
}

function wrap(socket: Socket): MulticastSocket {
  let closed = false;
  let closing: Promise<void> | undefined;
  let onMessage: DatagramHandler = () => {};
  let onError: (err: Error) => void = () => {};
  socket.on("message", (msg, rinfo) => onMessage(msg, { address: rinfo.address, port: rinfo.port }));
  socket.on("error", (err) => onError(err));
  const bytes = (data: Uint8Array) => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return {
    send(data, to) {
      if (closed) return;
      socket.send(bytes(data), to.port, to.address, (err) => {
        if (err) onError(err);
      });
    },
    sendNow(data, to) {
      if (closed) return Promise.reject(new SfxError("SFX_IO", "socket closed"));
      return new Promise((resolve, reject) => {
        socket.send(bytes(data), to.port, to.address, (err) => (err ? reject(err) : resolve()));
      });
    },
    onMessage(handler) {
      onMessage = handler;
    },
    onError(handler) {
      onError = handler;
    },
    localAddress(): LocalAddress {
      const a = socket.address();
      return { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    },
    addMembership(group, iface) {
      socket.addMembership(group, iface);
    },
    setMulticastTTL(ttl) {
      socket.setMulticastTTL(ttl);
    },
    setMulticastLoopback(on) {
      socket.setMulticastLoopback(on);
    },
    setMulticastInterface(address) {
      socket.setMulticastInterface(address);
    },
    close() {
      if (!closing) {
        closed = true;
        closing = new Promise((resolve) => socket.close(() => resolve()));
      }
      return closing;
    },
  };
}
