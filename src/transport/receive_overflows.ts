/**
 * How many datagrams the kernel dropped because one UDP socket's receive
 * buffer was full: the reader fell behind. A server short of CPU loses
 * datagrams there; this count tells that loss apart from loss on the path,
 * which the server cannot see.
 *
 * Linux has no per-socket count of exactly that. Its per-socket `drops`
 * (a column of `/proc/net/udp`, `udp6` for IPv6 sockets) also counts
 * datagrams with a bad checksum, which anyone can send. Its `RcvbufErrors`
 * (`/proc/net/snmp`, `Udp6RcvbufErrors` in `snmp6`) counts only full
 * buffers, but of every socket of the network namespace. Over each interval
 * between two reads, the count is the socket's drops, but no more than the
 * namespace's full buffers less every other socket's drops (their
 * overflows, and their bad checksums, are theirs):
 * - bad checksums sent to this socket while another overflows: the other's
 *   drops take its full buffers away, nothing is counted;
 * - bad checksums sent to a closed port while this socket overflows: they
 *   are in nobody's drops, every overflow is counted;
 * - bad checksums sent to another open socket while this one overflows hide
 *   as many overflows: the count errs low, and missing an overflow is the
 *   lesser harm (its user does what it did without the count), where a
 *   false one would shrink what it grants on a stranger's say.
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
  const wanted = `${procAddress(local)}:${local.port.toString(16).toUpperCase().padStart(4, "0")}`;
  const ownTable = local.family === "IPv6" ? "/proc/net/udp6" : "/proc/net/udp";
  let inode: string | undefined;
  let unavailable = !proc.mayRead();
  /** At the last read: every socket's drops by inode, and the namespace's full buffers just after. */
  let last: { drops: Map<string, number>; rcvbufAfter: number } | undefined;
  let total = 0;

  /** Every UDP socket of the namespace (IPv4 and IPv6 tables): inode → drops; finds ours the first time. */
  const readDrops = (): Map<string, number> | undefined => {
    const drops = new Map<string, number>();
    for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
      let text: string;
      try {
        text = proc.readFile(table);
      } catch (err) {
        if (table === ownTable) throw err;
        continue; // no IPv6
      }
      const lines = text.split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > DROPS);
      for (const f of lines) {
        const n = Number(f[DROPS]);
        if (Number.isSafeInteger(n)) drops.set(f[INODE], n);
      }
      if (inode === undefined && table === ownTable) {
        let mine = lines.filter((f) => f[LOCAL_ADDRESS] === wanted);
        if (mine.length > 1) {
          const own = proc.ownSocketInodes();
          mine = mine.filter((f) => own.has(f[INODE]));
        }
        if (mine.length === 1) inode = mine[0][INODE];
      }
    }
    // Not (yet) told apart from the other sockets on its port: ask again next time.
    return inode !== undefined && drops.has(inode) ? drops : undefined;
  };

  return () => {
    if (unavailable) return undefined;
    let now: { drops: Map<string, number>; rcvbufBefore: number; rcvbufAfter: number } | undefined;
    try {
      // The full buffers are read on both sides of the sockets' drops, and only those between the
      // two reads' inner sides are taken: an overflow elsewhere in the moments between reading one
      // file and the other can then only be missed, never counted as ours.
      const rcvbufBefore = rcvbufErrors(proc);
      const drops = readDrops();
      if (drops !== undefined) now = { drops, rcvbufBefore, rcvbufAfter: rcvbufErrors(proc) };
    } catch {
      unavailable = true;
      return undefined;
    }
    if (now === undefined) return undefined;
    if (last !== undefined) {
      let others = 0;
      for (const [other, n] of now.drops) if (other !== inode) others += Math.max(0, n - (last.drops.get(other) ?? 0));
      const ours = now.drops.get(inode!)! - (last.drops.get(inode!) ?? 0);
      total += Math.max(0, Math.min(ours, now.rcvbufBefore - last.rcvbufAfter - others));
    }
    last = now;
    return total;
  };
}

/** The namespace's count of UDP datagrams dropped for a full receive buffer, IPv4 and IPv6 (a dual-stack socket's IPv4 datagrams count in the first). */
function rcvbufErrors(proc: ProcReader): number {
  const snmp = proc.readFile("/proc/net/snmp").split("\n").filter((l) => l.startsWith("Udp: "));
  const names = snmp[0]?.split(/\s+/) ?? [];
  const values = snmp[1]?.split(/\s+/) ?? [];
  const v4 = Number(values[names.indexOf("RcvbufErrors")]);
  if (!Number.isSafeInteger(v4)) throw new Error("no RcvbufErrors in /proc/net/snmp");
  let v6 = 0;
  try {
    v6 = Number(/^Udp6RcvbufErrors\s+(\d+)/m.exec(proc.readFile("/proc/net/snmp6"))?.[1] ?? 0);
  } catch { /* no IPv6 */ }
  return v4 + v6;
}

/**
 * An address as /proc/net/udp(6) prints it: each 32-bit word of the address
 * in network order, printed as a native integer in hex (so byte-reversed on a
 * little-endian machine).
 */
export function procAddress(local: Pick<LocalAddress, "address" | "family">): string {
  const bytes = local.family === "IPv6" ? ipv6Bytes(local.address) : local.address.split(".").map(Number);
  const little = endianness() === "LE";
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.slice(i, i + 4);
    if (little) word.reverse();
    out += word.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  }
  return out;
}

/** The 16 bytes of an IPv6 address (`::`, `::1`, `fe80::1%eth0`, `::ffff:127.0.0.1`). */
function ipv6Bytes(address: string): number[] {
  let text = address.split("%")[0];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}
