/**
 * This host's addresses, as discovery sees them.
 *
 * @module
 */
import { networkInterfaces } from "node:os";

/**
 * The IPv4 addresses of every interface that is up, loopback included:
 * the interfaces a responder joins the group on and a searcher sends by
 * (so a server and a client on one offline machine still find each other).
 */
export function multicastInterfaces(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4") out.add(a.address);
  }
  return [...out];
}

/**
 * The addresses a server advertises: non-internal IPv4 and IPv6, without
 * IPv6 link-local ones (useless without their zone).
 */
export function advertisedAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === "IPv6" && /^fe[89ab]/i.test(a.address)) continue;
      out.add(a.address);
    }
  }
  return [...out];
}

/** Every address of this machine's interfaces, loopback included (none where they cannot be listed). */
export function localAddresses(): ReadonlySet<string> {
  try {
    return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
  } catch {
    return new Set();
  }
}
