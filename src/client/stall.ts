/**
 * The client's own bound on a transfer that stops moving. An honest server
 * ends an exchange, an upload or a download where nothing moved for its idle
 * timeout, and tells the client why. A server that stops relaying but still
 * answers pings (a bug, a hostile one) would otherwise keep `sfx send`,
 * `sfx receive` or `sfx share get` waiting until Ctrl-C. The client gives up
 * later than an honest server would, so that the server's word comes first.
 *
 * @example
 * ```ts
 * let bytes = 0;
 * const stop = watchStall(stallLimitMs(conn.welcome.limits), () => bytes, (s) => fail(`nothing moved for ${s} s`));
 * // … bytes += n on every chunk …
 * stop();
 * ```
 *
 * @module
 */

/**
 * Where the doubling of the server's wait stops (see {@link stallLimitMs}): past it a client waits
 * only the server's own wait and a margin, which a welcome holds to 24.8 days at the most.
 */
export const MAX_CLIENT_STALL_MS = 30 * 60_000;

/**
 * How long a client lets a transfer stand still: twice the longest wait the
 * server announced in its welcome (an offer's answer, or the idle timeout
 * after which it ends a stalled exchange), plus the lesser of that wait and
 * 10 s; the doubling stops at {@link MAX_CLIENT_STALL_MS}, but the limit is
 * never shorter than the server's own wait plus that margin (an admin may
 * allow an hour to answer an offer). The server's defaults (5 min idle)
 * make it 10 min 10 s.
 */
export function stallLimitMs(limits: { idleTimeoutMs: number; offerTimeoutMs: number }): number {
  const wait = Math.max(limits.idleTimeoutMs, limits.offerTimeoutMs);
  if (!Number.isFinite(wait) || wait <= 0) return MAX_CLIENT_STALL_MS;
  const margin = Math.min(10_000, wait);
  return Math.max(wait + margin, Math.min(MAX_CLIENT_STALL_MS, 2 * wait + margin));
}

/**
 * Calls `onStall(seconds)` once when `progress()` has returned the same
 * value for `limitMs`, not counting time while `busy()` says the holdup is
 * ours (our own disk). Returns a function that stops watching; call it
 * when the transfer ends (the timer keeps the process alive until then).
 */
export function watchStall(
  limitMs: number,
  progress: () => number,
  onStall: (seconds: number) => void,
  opts: { busy?: () => boolean; now?: () => number } = {},
): () => void {
  const now = opts.now ?? Date.now;
  let last = progress();
  let since = now();
  const timer = setInterval(() => {
    const p = progress();
    const t = now();
    if (p !== last || opts.busy?.()) {
      last = p;
      since = t;
      return;
    }
    if (t - since < limitMs) return;
    clearInterval(timer);
    onStall(Math.round((t - since) / 1000));
  }, Math.max(20, Math.min(10_000, Math.floor(limitMs / 4))));
  return () => clearInterval(timer);
}
