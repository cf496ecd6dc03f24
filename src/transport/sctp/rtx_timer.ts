/**
 * A restartable one-shot timer on an injected {@link Clock}. Restarting it
 * on every SACK (RFC 9260 §6.3.2 R3) must be cheap, so it keeps the
 * deadline and re-arms lazily: when the underlying timer fires early it is
 * simply set again for the remainder, instead of being cleared and created
 * on every restart.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";

/** A named one-shot timer: T1-init, T1-cookie, T2-shutdown, T3-rtx, heartbeat, delayed SACK… */
export class Timer {
  readonly #clock: Clock;
  readonly #onExpire: () => void;
  #deadline = -1;
  #handle: TimerHandle | undefined;
  #armedAt = -1;
  /** Due, and waiting for pending input to be handled first (Clock.afterPendingInput). */
  #deferred = false;

  constructor(clock: Clock, onExpire: () => void) {
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  /** True while started and not yet expired or stopped. */
  get running(): boolean {
    return this.#deadline >= 0;
  }

  /** When it will expire (clock time), or -1 when not running. */
  get deadline(): number {
    return this.#deadline;
  }

  /** (Re)starts the timer to expire `ms` from now. */
  start(ms: number): void {
    const deadline = this.#clock.now() + ms;
    this.#deadline = deadline;
    // An armed underlying timer that fires no later than the new deadline is
    // kept: on firing it sees the deadline has moved and re-arms.
    if (this.#handle !== undefined && this.#armedAt <= deadline) return;
    this.#arm(deadline);
  }

  /** Starts the timer only if it is not running (RFC 9260 §6.3.2 R1). */
  startIfIdle(ms: number): void {
    if (this.#deadline < 0) this.start(ms);
  }

  /** Stops the timer. */
  stop(): void {
    this.#deadline = -1;
    if (this.#handle !== undefined) {
      this.#clock.clearTimer(this.#handle);
      this.#handle = undefined;
      this.#armedAt = -1;
    }
  }

  #arm(at: number): void {
    if (this.#handle !== undefined) this.#clock.clearTimer(this.#handle);
    this.#armedAt = at;
    this.#handle = this.#clock.setTimer(this.#fire, Math.max(0, at - this.#clock.now()));
  }

  #fire = (): void => {
    this.#handle = undefined;
    this.#armedAt = -1;
    if (this.#deadline < 0) return;
    const now = this.#clock.now();
    // Timers may fire a little early on some platforms; 0.5 ms is below
    // anything the protocol cares about.
    if (now + 0.5 < this.#deadline) {
      this.#arm(this.#deadline);
      return;
    }
    const after = this.#clock.afterPendingInput;
    if (after === undefined) {
      this.#expire();
    } else if (!this.#deferred) {
      // Due timers run before the loop reads the datagrams that arrived
      // while it was busy (a long burst of sends, a GC pause, a blocking
      // call in the application): let those in first. A SACK among them
      // restarts or stops the timer, and a T3-rtx that would have
      // collapsed cwnd to one MTU, or a probe, never happens.
      this.#deferred = true;
      after.call(this.#clock, this.#fireDeferred);
    }
  };

  #fireDeferred = (): void => {
    this.#deferred = false;
    if (this.#deadline < 0) return; // stopped meanwhile
    if (this.#clock.now() + 0.5 < this.#deadline) {
      // Restarted meanwhile: start() armed it again only if nothing was armed.
      if (this.#handle === undefined) this.#arm(this.#deadline);
      return;
    }
    this.#expire();
  };

  #expire(): void {
    this.#deadline = -1;
    this.#onExpire();
  }
}
