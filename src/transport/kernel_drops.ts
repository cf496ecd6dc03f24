/**
 * How many datagrams the kernel dropped on one UDP socket because its receive
 * buffer was full: Linux's per-socket `drops` counter, a column of
 * `/proc/net/udp` (`udp6` for IPv6 sockets). A server that cannot read its
 * socket as fast as clients fill it loses datagrams there; the counter tells
 * that loss apart from loss on the path, which it cannot see.
 *
 * Elsewhere (no /proc, or a sandbox that cannot read it) the counter is
 * `undefined`.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { LocalAddress } from "./datagram.ts";

/** Columns of a /proc/net/udp line, split on white space. */
const LOCAL_ADDRESS = 1;
const INODE = 9;
const DROPS = 12;

/** The files' reader, for tests. */
export interface ProcReader {
  readFile(path: string): string;
  /** The socket inodes this process holds (from /proc/self/fd); read only when several sockets share the port. */
  ownSocketInodes(): Set<string>;
}

const PROC: ProcReader = {
  readFile: (path) => readFileSync(path, "latin1"),
  ownSocketInodes() {
    const inodes = new Set<string>();
    for (const fd of readdirSync("/proc/self/fd")) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch { /* closed since the listing */ }
    }
    return inodes;
  },
};

/**
 * Returns a function giving the kernel's drop counter of this process's UDP
 * socket bound to `local` (counted since the socket opened), or `undefined`
 * where it cannot be read. The socket is found once, by its port (and, if
 * other sockets share the port, by the inodes this process holds), then by its
 * inode on every read.
 *
 * @example
 * ```ts
 * const drops = kernelDropCounter(socket.localAddress());
 * const before = drops();
 * // … later: datagrams lost because the receive buffer was full
 * console.log((drops() ?? 0) - (before ?? 0));
 * ```
 */
export function kernelDropCounter(local: LocalAddress, proc: ProcReader = PROC): () => number | undefined {
  const path = local.family === "IPv6" ? "/proc/net/udp6" : "/proc/net/udp";
  const portSuffix = `:${local.port.toString(16).toUpperCase().padStart(4, "0")}`;
  let inode: string | undefined;
  let unavailable = false;
  return () => {
    if (unavailable) return undefined;
    let lines: string[][];
    try {
      lines = proc.readFile(path).split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > DROPS);
    } catch {
      unavailable = true;
      return undefined;
    }
    if (inode === undefined) {
      let mine = lines.filter((f) => f[LOCAL_ADDRESS].endsWith(portSuffix));
      if (mine.length > 1) {
        try {
          const own = proc.ownSocketInodes();
          mine = mine.filter((f) => own.has(f[INODE]));
        } catch {
          mine = [];
        }
      }
      if (mine.length !== 1) return undefined; // not (yet) told apart: ask again next time
      inode = mine[0][INODE];
    }
    const line = lines.find((f) => f[INODE] === inode);
    const drops = line ? Number(line[DROPS]) : NaN;
    return Number.isSafeInteger(drops) ? drops : undefined;
  };
}
