/** Shared by the discovery tests: a bounded wait, a seeded PRNG, a query client. */
import { decodeDiscoveryMessage, type DiscoveryReply, encodeQuery } from "../../src/discovery/message.ts";
import { type MulticastSocket, openDiscoverySocket } from "../../src/discovery/udp_socket.ts";
import type { RemoteAddress } from "../../src/transport/datagram.ts";

/** Resolves once `check()` is true; rejects after `timeoutMs` naming `what`. Polls every few ms. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UDP client that records every datagram it gets. */
export interface Client {
  socket: MulticastSocket;
  received: Array<{ data: Uint8Array; from: RemoteAddress }>;
  /** Sends a fresh query to `to`; resolves with the reply echoing its nonce, or undefined after `timeoutMs`. */
  query(to: RemoteAddress, timeoutMs?: number): Promise<DiscoveryReply | undefined>;
  close(): Promise<void>;
}

/** Opens a client bound to `host`:0. */
export async function openClient(host = "127.0.0.1"): Promise<Client> {
  const socket = await openDiscoverySocket({ host, port: 0 });
  const received: Client["received"] = [];
  const waiters = new Set<() => void>();
  socket.onMessage((data, from) => {
    received.push({ data: Uint8Array.from(data), from });
    for (const w of waiters) w();
  });
  return {
    socket,
    received,
    query(to, timeoutMs = 2000) {
      const nonce = crypto.getRandomValues(new Uint8Array(16));
      return new Promise((resolve) => {
        const check = () => {
          for (const r of received) {
            try {
              const m = decodeDiscoveryMessage(r.data);
              if (m.type === "reply" && m.nonce.every((b, i) => b === nonce[i])) return done(m);
            } catch {
              // not a reply
            }
          }
        };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        const done = (m: DiscoveryReply | undefined) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        socket.send(encodeQuery(nonce), to);
      });
    },
    close: () => socket.close(),
  };
}
