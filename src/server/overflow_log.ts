/**
 * The log line that says the server's UDP socket overflowed and its senders'
 * windows were cut: at most one per interval (a minute), each with the
 * datagrams dropped since the line before and the window now and at its
 * lowest. Cuts that come inside the interval are said when it ends, so the
 * last of an episode is never held back for good; what is left is said at
 * close.
 *
 * @example
 * ```ts
 * const line = new OverflowLog(getLogger(["sfx", "pairing"]));
 * line.cut(37, 4 * 2 ** 20); // logged at once
 * line.cut(5, 2 * 2 ** 20);  // logged a minute after the first
 * line.close();              // or now, if still waiting
 * ```
 *
 * @module
 */
import type { PairingLog } from "../pairing/log.ts";

/** At most one line per this long. */
const OVERFLOW_LOG_INTERVAL_MS = 60_000;

/** Says, throttled, that the socket overflowed and the windows were cut. */
export class OverflowLog {
  readonly #log: PairingLog;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #loggedAt = -Infinity;
  #dropped = 0;
  #share = 0;
  #lowest = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(log: PairingLog, opts: { intervalMs?: number; now?: () => number } = {}) {
    this.#log = log;
    this.#intervalMs = opts.intervalMs ?? OVERFLOW_LOG_INTERVAL_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** The socket dropped `dropped` datagrams since the last cut; each sender's window is now `share`. */
  cut(dropped: number, share: number): void {
    this.#dropped += dropped;
    this.#share = share;
    this.#lowest = Math.min(this.#lowest, share);
    const wait = this.#loggedAt + this.#intervalMs - this.#now();
    if (wait <= 0) return this.#write();
    this.#timer ??= setTimeout(() => this.#write(), wait);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Says what is still held back, and stops. */
  close(): void {
    this.#write();
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dropped === 0) return;
    this.#loggedAt = this.#now();
    this.#log.info(
      "The UDP socket dropped {dropped} datagrams it had no room for (the server reads slower than clients send: short of CPU?); each sending client's window is now {share} bytes ({lowest} at the lowest since the last such line)",
      { dropped: this.#dropped, share: this.#share, lowest: this.#lowest },
    );
    this.#dropped = 0;
    this.#lowest = Infinity;
  }
}
