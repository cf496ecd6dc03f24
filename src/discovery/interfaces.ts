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
export function advertisedAddresses(ifaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string[] {
  // Each interface's first address before any interface's second: a reply carries at most
  // MAX_ADDRESSES, and a client that hears this server on two links merges the two replies only
  // when each one's source (an interface's own address) is in the other's list. A host with many
  // addresses on one interface (secondary ones, containers) must not push its other links' out.
  const perInterface = Object.values(ifaces).map((list) =>
    (list ?? []).filter((a) => !a.internal && !(a.family === "IPv6" && /^fe[89ab]/i.test(a.address))).map((a) => a.address)
  );
  const out = new Set<string>();
  for (let i = 0; perInterface.some((l) => i < l.length); i++) {
    for (const l of perInterface) if (i < l.length) out.add(l[i]);
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
