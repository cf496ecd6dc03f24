/**
 * How many datagrams the kernel dropped because one UDP socket's receive
 * buffer was full: the reader fell behind. A server short of CPU loses
 * datagrams there; this count tells that loss apart from loss on the path,
 * which the server cannot see.
 *
 * Linux has no per-socket count of exactly that. Its per-socket `drops`
 * (a column of `/proc/net/udp`, `udp6` for IPv6 sockets) also counts
 * datagrams with a bad checksum, which anyone can send. Its network
 * namespace counts them too, in `InCsumErrors`, and counts full buffers, of
 * every socket, in `RcvbufErrors` (`/proc/net/snmp`, and `Udp6…` in
 * `snmp6`). Over each interval between two reads, the count is the socket's
 * drops less every bad checksum of the namespace, and no more than its full
 * buffers. The namespace's counters are read on both sides of the socket's
 * line and taken at their widest for the checksums and their narrowest for
 * the full buffers, so that nothing that happens elsewhere in between can
 * be counted as this socket's overflow. Nothing a stranger sends, to this
 * socket or any other, makes the count grow; bad checksums sent anywhere in
 * the namespace (even small ones, which reach no socket) make it miss as
 * many overflows. Missing an overflow is the lesser harm (its user does
 * what it did without the count), where a false one would shrink what it
 * grants on a stranger's say. (Four other rules were tried and each was
 * fooled; `bench/HISTORY.md` says how.)
 *
 * While the namespace's full buffers stand still, the socket's table (whose
 * reading costs the kernel about 8 ms per 2,000 sockets) is not read.
 *
 * Elsewhere (no /proc, a sandbox that cannot read it, Deno without read
 * access already granted — asking would prompt on a terminal) the count is
 * `undefined`.
 *
 * @module
 */
import { endianness } from "node:os";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { LocalAddress } from "./datagram.ts";
import { ipv4AddressParam, ipv6AddressParam } from "./sctp/param.ts";

/** Columns of a /proc/net/udp line, split on white space. */
const LOCAL_ADDRESS = 1;
const INODE = 9;
const DROPS = 12;

/** The files' reader, for tests. */
export interface ProcReader {
  /** Whether the files may be read without asking anyone (Deno's permissions). */
  mayRead(): boolean;
  readFile(path: string): string;
  /** The socket inodes this process holds (from /proc/self/fd); read only when several sockets match. */
  ownSocketInodes(): Set<string>;
}

interface DenoReadPermissions {
  querySync(desc: { name: "read"; path: string }): { state: string };
}

const PROC: ProcReader = {
  mayRead() {
    const deno = (globalThis as { Deno?: { permissions?: DenoReadPermissions } }).Deno;
    if (deno === undefined) return true;
    return ["/proc/net", "/proc/self/fd"].every((path) => deno.permissions?.querySync({ name: "read", path }).state === "granted");
  },
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
 * Returns a function giving how many datagrams the kernel dropped for a full
 * receive buffer on this process's UDP socket bound to `local`, counted from
 * the function's first call; `undefined` where that cannot be read. The
 * socket is found once, by its address and port (and, if several sockets
 * match, by the inodes this process holds), then by its inode.
 *
 * @example
 * ```ts
 * const overflows = receiveOverflowCounter(socket.localAddress());
 * overflows(); // 0
 * // … later: datagrams lost because the socket was not read fast enough
 * console.log(overflows());
 * ```
 */
export function receiveOverflowCounter(local: LocalAddress, opts: { proc?: ProcReader } = {}): () => number | undefined {
  const proc = opts.proc ?? PROC;
  const table = local.family === "IPv6" ? "/proc/net/udp6" : "/proc/net/udp";
  let wanted = "";
  try {
    wanted = `${procAddress(local)}:${local.port.toString(16).toUpperCase().padStart(4, "0")}`;
  } catch { /* not an address /proc would print: the socket cannot be found */ }
  let inode: string | undefined;
  let unavailable = wanted === "" || !proc.mayRead();
  /** At the last read of the socket's line: its drops, the namespace's bad checksums just before, its full buffers just after. */
  let last: { drops: number; csumBefore: number; rcvbufAfter: number } | undefined;
  let total = 0;

  const socketDrops = (): number | undefined => {
    const lines = proc.readFile(table).split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > DROPS);
    if (inode === undefined) {
      let mine = lines.filter((f) => f[LOCAL_ADDRESS] === wanted);
      if (mine.length > 1) {
        const own = proc.ownSocketInodes();
        mine = mine.filter((f) => own.has(f[INODE]));
      }
      if (mine.length !== 1) return undefined; // not (yet) told apart: ask again next time
      inode = mine[0][INODE];
    }
    const drops = Number(lines.find((f) => f[INODE] === inode)?.[DROPS]);
    return Number.isSafeInteger(drops) ? drops : undefined;
  };

  return () => {
    if (unavailable) return undefined;
    try {
      const before = udpErrors(proc);
      // No full buffer anywhere since the last read: nothing to count, and no table to read.
      if (last !== undefined && before.rcvbuf === last.rcvbufAfter) return total;
      const drops = socketDrops();
      if (drops === undefined) return undefined;
      const after = udpErrors(proc);
      if (last !== undefined) {
        const ours = drops - last.drops - (after.csum - last.csumBefore);
        total += Math.max(0, Math.min(ours, before.rcvbuf - last.rcvbufAfter));
      }
      last = { drops, csumBefore: before.csum, rcvbufAfter: after.rcvbuf };
      return total;
    } catch {
      unavailable = true;
      return undefined;
    }
  };
}

/** The namespace's counts of UDP datagrams dropped for a full receive buffer and for a bad checksum. */
interface UdpErrors {
  rcvbuf: number;
  csum: number;
}

/** {@link UdpErrors}, IPv4 and IPv6 together (a dual-stack socket's IPv4 datagrams count in the first). */
function udpErrors(proc: ProcReader): UdpErrors {
  const snmp = proc.readFile("/proc/net/snmp").split("\n").filter((l) => l.startsWith("Udp: "));
  const names = snmp[0]?.split(/\s+/) ?? [];
  const values = snmp[1]?.split(/\s+/) ?? [];
  const rcvbuf = Number(values[names.indexOf("RcvbufErrors")]);
  const csum = Number(values[names.indexOf("InCsumErrors")]);
  if (!Number.isSafeInteger(rcvbuf) || !Number.isSafeInteger(csum)) throw new Error("no RcvbufErrors or InCsumErrors in /proc/net/snmp");
  let snmp6 = "";
  try {
    snmp6 = proc.readFile("/proc/net/snmp6");
  } catch { /* no IPv6 */ }
  const v6 = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)`, "m").exec(snmp6)?.[1] ?? 0);
  return { rcvbuf: rcvbuf + v6("Udp6RcvbufErrors"), csum: csum + v6("Udp6InCsumErrors") };
}

/**
 * An address as /proc/net/udp(6) prints it: each 32-bit word of the address
 * in network order, printed as a native integer in hex (so byte-reversed on a
 * little-endian machine).
 */
export function procAddress(local: Pick<LocalAddress, "address" | "family">): string {
  // The SCTP address parameters' codecs parse the text (a zone, `%eth0`, is no part of the address).
  const bytes = local.family === "IPv6" ? ipv6AddressParam(local.address.split("%")[0]).value : ipv4AddressParam(local.address).value;
  const little = endianness() === "LE";
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    const word = [...bytes.subarray(i, i + 4)];
    if (little) word.reverse();
    out += word.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  }
  return out;
}
