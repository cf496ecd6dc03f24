/**
 * Serial number arithmetic for 32-bit TSNs and MIDs and 16-bit SSNs
 * (RFC 9260 §1.6, after RFC 1982): comparisons wrap around.
 *
 * @module
 */

/** `a + n` modulo 2^32. */
export function tsnAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance `a - b` in 32-bit serial arithmetic (negative when a is before b). */
export function tsnDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when `a` comes before `b` (RFC 1982 s1 < s2). */
export function tsnLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** True when `a` comes before or equals `b`. */
export function tsnLte(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** True when `a` comes after `b`. */
export function tsnGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** True when `a` comes after or equals `b`. */
export function tsnGte(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** True when 16-bit SSN `a` comes before `b` (RFC 9260 §1.6). */
export function ssnLt(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d >= 0x8000;
}

/** `a + 1` modulo 2^16. */
export function ssnNext(a: number): number {
  return (a + 1) & 0xffff;
}

/**
 * The receiver's record of TSNs (RFC 9260 §6.2): the cumulative TSN and the
 * runs received beyond it, kept as sorted runs so that gap-ack blocks and
 * duplicate checks cost O(runs), and in-order arrival O(1).
 */
export class ReceivedTsns {
  /** Cumulative TSN Ack Point: every TSN up to and including it was received. */
  cum: number;
  /** Highest TSN received. */
  highest: number;
  /** Runs of TSNs received beyond `cum + 1`, sorted: starts[i] … ends[i] inclusive. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  /** `initialTsn` is the peer's Initial TSN: the first one it will send. */
  constructor(initialTsn: number) {
    this.cum = (initialTsn - 1) >>> 0;
    this.highest = this.cum;
  }

  /** True when some TSN beyond `cum` was received while one before it is missing. */
  get hasGaps(): boolean {
    return this.starts.length > 0;
  }

  /** True when `tsn` was received already. */
  has(tsn: number): boolean {
    if (((tsn - this.cum) | 0) <= 0) return true;
    const i = this.#find(tsn);
    return i >= 0 && ((tsn - this.starts[i]) | 0) >= 0 && ((tsn - this.ends[i]) | 0) <= 0;
  }

  /** Records `tsn`; returns false when it is a duplicate. */
  add(tsn: number): boolean {
    const d = (tsn - this.cum) | 0;
    if (d <= 0) return false;
    if (((tsn - this.highest) | 0) > 0) this.highest = tsn;
    if (d === 1) {
      this.cum = tsn;
      if (this.starts.length > 0 && this.starts[0] === ((tsn + 1) >>> 0)) {
        this.cum = this.ends[0];
        this.starts.shift();
        this.ends.shift();
      }
      return true;
    }
    const n = this.starts.length;
    // Common case: at or beyond the end of the last run.
    if (n === 0 || ((tsn - this.ends[n - 1]) | 0) > 0) {
      if (n > 0 && tsn === ((this.ends[n - 1] + 1) >>> 0)) this.ends[n - 1] = tsn;
      else {
        this.starts.push(tsn);
        this.ends.push(tsn);
      }
      return true;
    }
    // i: the last run starting at or before tsn (-1 if none).
    const i = this.#find(tsn);
    if (i >= 0 && ((tsn - this.ends[i]) | 0) <= 0) return false;
    const joinsPrev = i >= 0 && tsn === ((this.ends[i] + 1) >>> 0);
    const joinsNext = i + 1 < n && ((this.starts[i + 1] - 1) >>> 0) === tsn;
    if (joinsPrev && joinsNext) {
      this.ends[i] = this.ends[i + 1];
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    } else if (joinsPrev) this.ends[i] = tsn;
    else if (joinsNext) this.starts[i + 1] = tsn;
    else {
      this.starts.splice(i + 1, 0, tsn);
      this.ends.splice(i + 1, 0, tsn);
    }
    return true;
  }

  /**
   * Forgets the TSNs of `list`, received beyond a gap and not delivered
   * (reneging, §6.2): later SACKs leave them out, so the peer sends them
   * again. `highest` becomes the highest TSN still held. TSNs not held beyond
   * the cumulative TSN are ignored (those were acknowledged for good).
   * Returns how many were forgotten. One pass over the runs, whatever their
   * number: O(runs + list log list).
   */
  removeAll(list: readonly number[]): number {
    const cum = this.cum;
    const offsets = list.map((t) => (t - cum) >>> 0).filter((o) => o > 1 && o < 0x80000000).sort((x, y) => x - y);
    const starts: number[] = [];
    const ends: number[] = [];
    let removed = 0;
    let k = 0;
    for (let i = 0; i < this.starts.length; i++) {
      let from = (this.starts[i] - cum) >>> 0;
      const to = (this.ends[i] - cum) >>> 0;
      while (k < offsets.length && offsets[k] < from) k++;
      for (; k < offsets.length && offsets[k] <= to; k++) {
        const o = offsets[k];
        if (k > 0 && offsets[k - 1] === o) continue; // listed twice
        if (o > from) {
          starts.push((cum + from) >>> 0);
          ends.push((cum + o - 1) >>> 0);
        }
        from = o + 1;
        removed++;
      }
      if (from <= to) {
        starts.push((cum + from) >>> 0);
        ends.push((cum + to) >>> 0);
      }
    }
    if (removed === 0) return 0;
    this.starts.length = starts.length;
    this.ends.length = ends.length;
    for (let i = 0; i < starts.length; i++) {
      this.starts[i] = starts[i];
      this.ends[i] = ends[i];
    }
    this.highest = ends.length > 0 ? ends[ends.length - 1] : cum;
    return removed;
  }

  /** Gap Ack Blocks (§3.3.4): offsets from `cum`, at most `max` of them. */
  gapBlocks(max: number): Array<{ start: number; end: number }> {
    const n = Math.min(this.starts.length, max);
    const out = new Array<{ start: number; end: number }>(n);
    for (let i = 0; i < n; i++) {
      out[i] = { start: (this.starts[i] - this.cum) >>> 0, end: (this.ends[i] - this.cum) >>> 0 };
    }
    return out;
  }

  /** Index of the last run whose start is at or before `tsn`, or -1. */
  #find(tsn: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (((this.starts[mid] - tsn) | 0) <= 0) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}
