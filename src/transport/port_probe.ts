/**
 * Whether a peer's UDP port is closed, from the ICMP "port unreachable" its
 * host answers: a hint that the process behind an association is gone.
 *
 * @module
 */
import type { RemoteAddress } from "./datagram.ts";
import { openUdpSocket } from "./udp.ts";
import { isIP } from "node:net";

/**
 * Sends one empty datagram to `remote` from a socket connected to it, and
 * resolves true if its host answers that nothing listens there (ICMP port
 * unreachable: ECONNREFUSED) within `withinMs`, else false.
 *
 * A process killed with -9 leaves its port closed, and its host says so; one
 * stopped (Ctrl-Z), or on a dark or lossy path, does not. An empty datagram
 * is no SCTP packet: a live peer drops it. But anyone on the path could
 * forge the answer, and a firewall that rejects flows it does not know gives
 * it too (the probe comes from another port than the association's): act on
 * it only together with the peer's silence. It never rejects; a socket that
 * cannot be opened, or a runtime that does not report ICMP errors, gives
 * false.
 */
export async function portRefuses(remote: RemoteAddress, withinMs: number): Promise<boolean> {
  let socket;
  try {
    socket = await openUdpSocket({ host: isIP(remote.address) === 6 ? "::" : "0.0.0.0", port: 0, connect: remote });
  } catch {
    return false;
  }
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), withinMs);
      socket.onError?.((err) => {
        if ((err as NodeJS.ErrnoException).code !== "ECONNREFUSED") return;
        clearTimeout(timer);
        resolve(true);
      });
      socket.send(new Uint8Array(0), remote);
    });
  } finally {
    await socket.close().catch(() => {});
  }
}
