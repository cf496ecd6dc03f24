/**
 * The injectable clock: every timer of the SCTP stack goes through a
 * {@link Clock}, so tests can run retransmissions and failure detection
 * without sleeping ({@link ManualClock}).
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** An opaque handle returned by {@link Clock.setTimer}. */
export type TimerHandle = unknown;

/** Time and one-shot timers. Times are milliseconds; `now()` is monotonic. */
export interface Clock {
  /** The current time in milliseconds (any origin, never going backwards). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a no-op when it already fired or was cancelled. */
  clearTimer(handle: TimerHandle): void;
  /**
   * Optional: calls `fn` once the input already waiting (datagrams received
   * while the process was busy) has been handled. A protocol timer that
   * falls due after the event loop was blocked waits for this before it
   * acts, so a SACK that arrived in time is not mistaken for silence.
   * Without it timers act at once, as a {@link ManualClock}'s do.
   */
  afterPendingInput?(fn: () => void): void;
}

/**
 * The real clock: `performance.now()` and `setTimeout`. Due timers run
 * before the event loop polls for I/O, so `afterPendingInput` is
 * `setImmediate`, which runs after that poll.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  afterPendingInput: (fn) => void setImmediate(fn),
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` runs every timer that
 * falls due, in time order, each seeing `now()` equal to its due time.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.setTimer(() => console.log("fired at", clock.now()), 100);
 * clock.advance(150); // prints "fired at 100"
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  /** The current manual time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`. */
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(t);
    return t;
  }

  /** Cancels a timer made by {@link setTimer}. */
  clearTimer(handle: TimerHandle): void {
    if (handle && typeof handle === "object") (handle as ManualTimer).cancelled = true;
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    // Time never goes back (Clock.now() is monotonic), nor becomes NaN.
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance() takes a finite number of ms, 0 or more; got ${ms}`);
    const end = this.#now + ms;
    for (let guard = 0; ; guard++) {
      if (guard === 1_000_000) throw new Error("ManualClock.advance(): a million timers fired without time reaching the end (a timer that keeps rescheduling itself at once?)");
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      next.cancelled = true;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }
}
