/**
 * Receive-side reassembly and per-stream delivery order (RFC 9260 §6.5,
 * §6.6, §6.9; RFC 8260 §2.1 for I-DATA).
 *
 * DATA: the fragments of one message carry consecutive TSNs (§6.9), so a
 * message is complete when a run of TSNs from a B fragment to an E
 * fragment is present. I-DATA: fragments are identified by stream, U bit,
 * MID and FSN, and may interleave with other messages' fragments.
 * Complete ordered messages wait for their SSN/MID turn per stream;
 * unordered ones are delivered at once.
 *
 * The caller (the association) has already dropped duplicate TSNs. Held
 * data that was not delivered can be given up again ({@link Reassembler.renege}).
 *
 * @module
 */

import { ssnNext, tsnLt } from "./tsn.ts";

/** The fields of a received DATA or I-DATA chunk that reassembly needs. */
export interface InboundFragment {
  tsn: number;
  streamId: number;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  /** DATA: SSN; I-DATA: MID. */
  seq: number;
  /** I-DATA: FSN (0 for the first fragment); DATA: unused. */
  fsn: number;
  /** PPID (I-DATA: valid on the first fragment only). */
  ppid: number;
  userData: Uint8Array;
}

/**
 * What a message held whole (waiting for its turn, or for a paused reader)
 * counts against the receive window: its bytes, and never less than 64. Each
 * costs objects beyond its bytes: counted by its bytes alone, one-byte
 * messages waiting for one that never came held 1.1 million of them within
 * a 64 KiB window and its one message more. (Fragments count their bytes;
 * their number is bounded apart, by the association.)
 */
export function heldCost(bytes: number): number {
  return bytes < 64 ? 64 : bytes;
}

/** Where a complete message's TSNs are: its one chunk's, a DATA run's, or its I-DATA fragments'. */
type TsnsOf = number | { first: number; count: number } | readonly (InboundFragment | undefined)[];

function tsnList(of: TsnsOf): number | number[] {
  if (typeof of === "number") return of;
  if ("first" in of) return Array.from({ length: of.count }, (_, i) => (of.first + i) >>> 0);
  return of.map((f) => f!.tsn);
}

/** Receives each complete message, in the order the stream rules allow. */
export type DeliverFn = (streamId: number, data: Uint8Array, ppid: number) => void;

interface Completed {
  data: Uint8Array;
  ppid: number;
  /** The TSN of a one-chunk message, or every TSN of a fragmented one (to renege on it). */
  tsns: number | number[];
}

interface IGroup {
  /** Fragments by FSN (dense: every fragment carries at least one byte, so FSNs stay below the message size limit). */
  frags: (InboundFragment | undefined)[];
  count: number;
  endFsn: number;
  bytes: number;
}

interface InStream {
  /** Next SSN (DATA) or MID (I-DATA) to deliver in order. */
  next: number;
  /** Complete ordered messages waiting for earlier ones. */
  pending: Map<number, Completed>;
  /** I-DATA partial messages, ordered and unordered, by MID. */
  ordered?: Map<number, IGroup>;
  unordered?: Map<number, IGroup>;
}

/** Reassembles fragments and enforces per-stream order. */
export class Reassembler {
  /** Bytes held: fragments of incomplete messages plus complete messages waiting for their turn (each counted as {@link heldCost}). */
  bytesHeld = 0;
  /** Fragments held for incomplete messages (the same as {@link fragmentCount}, kept as it changes). */
  fragmentsHeld = 0;
  /** Counts every change to what is held ({@link add}, {@link renege}): equal counts, same holdings. */
  changes = 0;
  readonly #idata: boolean;
  readonly #deliver: DeliverFn;
  readonly #maxMessageSize: number;
  readonly #streams = new Map<number, InStream>();
  /** DATA fragments (not both B and E) by TSN. */
  readonly #frags = new Map<number, InboundFragment>();

  constructor(idata: boolean, deliver: DeliverFn, maxMessageSize: number) {
    this.#idata = idata;
    this.#deliver = deliver;
    this.#maxMessageSize = maxMessageSize;
  }

  /** Number of fragments held for incomplete messages (for tests and stats). */
  get fragmentCount(): number {
    let n = this.#frags.size;
    for (const s of this.#streams.values()) {
      for (const g of s.ordered?.values() ?? []) n += g.count;
      for (const g of s.unordered?.values() ?? []) n += g.count;
    }
    return n;
  }

  /**
   * Takes one new (non-duplicate) fragment. Returns false when it breaks the
   * protocol (a message over the size limit, inconsistent fragments); the
   * caller then aborts the association.
   */
  add(f: InboundFragment): boolean {
    this.changes++;
    const len = f.userData.length;
    if (f.beginning && f.ending) {
      // The common case: a whole message in one chunk. Copy, since the
      // datagram buffer is only ours during the call.
      this.bytesHeld += len;
      this.#complete(f.streamId, f.unordered, f.seq, f.userData.slice(), f.ppid, f.tsn);
      return true;
    }
    this.bytesHeld += len;
    // A fragment waits for the rest of its message. As a view it would keep its
    // whole datagram alive, which the window (counting user data) does not see:
    // 1-byte fragments in 64 KB datagrams pinned 64 KB each. Copy a fragment
    // that is only a small part of its datagram; a full-sized one stays a view.
    if (f.userData.buffer.byteLength > 2 * len + 64) f.userData = f.userData.slice();
    return this.#idata ? this.#addIData(f) : this.#addData(f);
  }

  /**
   * Reneging (RFC 9260 §6.2): gives up held data that was not delivered,
   * highest TSN first, until at least `bytes` are freed or nothing more
   * qualifies — and nothing at all unless at least `atLeast` bytes can be.
   * A fragment qualifies when its TSN is above `above`; a complete message
   * waiting for its turn goes whole, when its highest TSN is above `above`
   * and every one of them above `cum` (what was cumulatively acknowledged is
   * never given up). `forget` gets each TSN given up, for the caller to stop
   * acknowledging it. Returns the bytes freed, and the bytes that qualified
   * (all of which were free to go).
   *
   * It scans everything held: the caller frees well past its immediate need,
   * so that one scan serves many later arrivals.
   */
  renege(cum: number, above: number, bytes: number, atLeast: number, forget: (tsn: number) => void): { freed: number; available: number } {
    const units: { top: number; bytes: number; give: () => void }[] = [];
    const after = (tsn: number, than: number) => ((tsn - than) | 0) > 0;
    for (const [tsn, f] of this.#frags) {
      if (!after(tsn, above)) continue;
      units.push({ top: tsn, bytes: f.userData.length, give: () => {
        this.#frags.delete(tsn);
        this.fragmentsHeld--;
        forget(tsn);
      } });
    }
    for (const s of this.#streams.values()) {
      for (const groups of [s.ordered, s.unordered]) {
        if (groups === undefined) continue;
        for (const [mid, g] of groups) {
          // The FSNs held (not every index up to the highest: a far FSN makes the array sparse).
          for (const key of Object.keys(g.frags)) {
            const fsn = Number(key);
            const f = g.frags[fsn];
            if (f === undefined || !after(f.tsn, above)) continue; // a fragment given up before leaves its slot
            units.push({ top: f.tsn, bytes: f.userData.length, give: () => this.#giveFragment(groups, mid, g, fsn, forget) });
          }
        }
      }
      for (const [seq, m] of s.pending) {
        const tsns = typeof m.tsns === "number" ? [m.tsns] : m.tsns;
        let top = tsns[0];
        let bottom = tsns[0];
        for (const t of tsns) {
          if (after(t, top)) top = t;
          if (after(bottom, t)) bottom = t;
        }
        if (!after(top, above) || !after(bottom, cum)) continue;
        units.push({ top, bytes: heldCost(m.data.length), give: () => {
          s.pending.delete(seq);
          for (const t of tsns) forget(t);
        } });
      }
    }
    let available = 0;
    for (const u of units) available += u.bytes;
    if (available < atLeast || available === 0) return { freed: 0, available };
    units.sort((a, b) => ((b.top - cum) >>> 0) - ((a.top - cum) >>> 0));
    let freed = 0;
    this.changes++;
    for (const u of units) {
      if (freed >= bytes) break;
      u.give();
      this.bytesHeld -= u.bytes;
      freed += u.bytes;
    }
    return { freed, available };
  }

  /** Gives up I-DATA fragment `fsn` of message `mid` (reneging); its message waits for it again. */
  #giveFragment(groups: Map<number, IGroup>, mid: number, g: IGroup, fsn: number, forget: (tsn: number) => void): void {
    const frags = g.frags;
    forget(frags[fsn]!.tsn);
    g.bytes -= frags[fsn]!.userData.length;
    frags[fsn] = undefined;
    g.count--;
    this.fragmentsHeld--;
    if (g.endFsn === fsn) g.endFsn = -1;
    while (frags.length > 0 && frags[frags.length - 1] === undefined) frags.length--;
    if (g.count === 0) groups.delete(mid);
  }

  #addData(f: InboundFragment): boolean {
    this.#frags.set(f.tsn, f);
    this.fragmentsHeld++;
    // Find the E fragment at or after f, then the B fragment at or before it.
    let last = f;
    let total = 0;
    for (let i = 0; !last.ending; i++) {
      const next = this.#frags.get((last.tsn + 1) >>> 0);
      if (!next || next.beginning) return next ? false : true; // a B inside a message is a violation
      last = next;
      if (i > 1_000_000) return false;
    }
    let first = f;
    for (let i = 0; !first.beginning; i++) {
      const prev = this.#frags.get((first.tsn - 1) >>> 0);
      if (!prev || prev.ending) return prev ? false : true;
      first = prev;
      if (i > 1_000_000) return false;
    }
    const count = ((last.tsn - first.tsn) >>> 0) + 1;
    let tsn = first.tsn;
    for (let i = 0; i < count; i++, tsn = (tsn + 1) >>> 0) {
      const c = this.#frags.get(tsn)!;
      if (c.streamId !== first.streamId || c.unordered !== first.unordered || (!c.unordered && c.seq !== first.seq)) return false;
      total += c.userData.length;
    }
    if (total > this.#maxMessageSize) return false;
    const data = new Uint8Array(total);
    let off = 0;
    tsn = first.tsn;
    for (let i = 0; i < count; i++, tsn = (tsn + 1) >>> 0) {
      const c = this.#frags.get(tsn)!;
      data.set(c.userData, off);
      off += c.userData.length;
      this.#frags.delete(tsn);
    }
    this.fragmentsHeld -= count;
    this.#complete(first.streamId, first.unordered, first.seq, data, first.ppid, { first: first.tsn, count });
    return true;
  }

  #addIData(f: InboundFragment): boolean {
    const s = this.#stream(f.streamId);
    if (!f.unordered && ((f.seq - s.next) | 0) < 0) {
      // A fragment of an ordered message already delivered: stale.
      this.bytesHeld -= f.userData.length;
      return true;
    }
    const groups = f.unordered ? (s.unordered ??= new Map()) : (s.ordered ??= new Map());
    const fsn = f.beginning ? 0 : f.fsn;
    // Each fragment holds at least one byte: an FSN at or past the size limit
    // cannot belong to an acceptable message.
    if (fsn >= this.#maxMessageSize) return false;
    let g = groups.get(f.seq);
    if (!g) {
      g = { frags: [], count: 0, endFsn: -1, bytes: 0 };
      groups.set(f.seq, g);
    }
    const frags = g.frags;
    if (fsn < frags.length && frags[fsn] !== undefined) {
      // Same fragment under another TSN: keep the first.
      this.bytesHeld -= f.userData.length;
      return true;
    }
    if (f.ending) {
      if (g.endFsn >= 0 && g.endFsn !== fsn) return false;
      if (fsn < frags.length - 1) return false; // a fragment past the end is already held
      g.endFsn = fsn;
    }
    if (g.endFsn >= 0 && fsn > g.endFsn) return false;
    frags[fsn] = f; // in order this appends; a far FSN leaves holes (V8 stores a very sparse array as a dictionary)
    g.count++;
    this.fragmentsHeld++;
    g.bytes += f.userData.length;
    if (g.bytes > this.#maxMessageSize) return false;
    if (g.endFsn < 0 || g.count !== g.endFsn + 1) return true;
    const data = new Uint8Array(g.bytes);
    let off = 0;
    for (let i = 0; i <= g.endFsn; i++) {
      const c = frags[i]!;
      data.set(c.userData, off);
      off += c.userData.length;
    }
    groups.delete(f.seq);
    this.fragmentsHeld -= g.count;
    this.#complete(f.streamId, f.unordered, f.seq, data, frags[0]!.ppid, frags);
    return true;
  }

  #stream(id: number): InStream {
    let s = this.#streams.get(id);
    if (!s) {
      s = { next: 0, pending: new Map() };
      this.#streams.set(id, s);
    }
    return s;
  }

  /** `tsns`: where the message's TSNs are, listed only if it has to wait for its turn. */
  #complete(streamId: number, unordered: boolean, seq: number, data: Uint8Array, ppid: number, tsns: TsnsOf): void {
    if (unordered) {
      this.bytesHeld -= data.length;
      this.#deliver(streamId, data, ppid);
      return;
    }
    const s = this.#stream(streamId);
    if (seq !== s.next) {
      // I-DATA: a MID behind the next to deliver is a stale copy (32-bit serial numbers). DATA: no
      // such test. Duplicates were dropped by TSN, and up to 65,000 TSNs may be held beyond the
      // cumulative ack, so a complete message can be more than 2^15 SSNs ahead: 16-bit serial
      // arithmetic would call it "behind" and drop a message whose TSN was already acknowledged.
      const stale = this.#idata && tsnLt(seq, s.next);
      if (stale || s.pending.has(seq)) {
        this.bytesHeld -= data.length;
        return;
      }
      this.bytesHeld += heldCost(data.length) - data.length;
      s.pending.set(seq, { data, ppid, tsns: tsnList(tsns) });
      return;
    }
    // §6.6: deliver in SSN order; release any that were waiting on this one.
    this.bytesHeld -= data.length;
    s.next = this.#idata ? (s.next + 1) >>> 0 : ssnNext(s.next);
    this.#deliver(streamId, data, ppid);
    for (let m = s.pending.get(s.next); m; m = s.pending.get(s.next)) {
      s.pending.delete(s.next);
      this.bytesHeld -= heldCost(m.data.length);
      s.next = this.#idata ? (s.next + 1) >>> 0 : ssnNext(s.next);
      this.#deliver(streamId, m.data, m.ppid);
    }
  }
}
