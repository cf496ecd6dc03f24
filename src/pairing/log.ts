/**
 * The logger the pairing code writes to: LogTape's `getLogger(["sfx",
 * "pairing"])` fits it; tests pass a recorder.
 *
 * @module
 */

/** A structured logger with `{placeholder}` messages. */
export interface PairingLog {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const SILENT_LOG: PairingLog = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * How many log lines one client's own doings may cause: a burst, then a few
 * a minute. A client sending refused offers or error reports in a loop would
 * otherwise write the log at line rate and rotate the admin's history away
 * in seconds. What is held back is counted and said with the next line let
 * through.
 */
export class LogBudget {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #state = new WeakMap<object, { tokens: number; at: number; dropped: number }>();

  constructor(opts: { burst?: number; perMinute?: number; now?: () => number } = {}) {
    this.#burst = opts.burst ?? 20;
    this.#perMs = (opts.perMinute ?? 20) / 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Whether a line about `client` may be logged now; when it may, also how
   * many were held back since the last one (to say so), else -1.
   */
  take(client: object): number {
    const now = this.#now();
    let s = this.#state.get(client);
    if (!s) this.#state.set(client, (s = { tokens: this.#burst, at: now, dropped: 0 }));
    s.tokens = Math.min(this.#burst, s.tokens + (now - s.at) * this.#perMs);
    s.at = now;
    if (s.tokens < 1) {
      s.dropped++;
      return -1;
    }
    s.tokens--;
    const dropped = s.dropped;
    s.dropped = 0;
    return dropped;
  }
}
