/**
 * One Ctrl-C can arrive as two signals: coreutils `timeout` (and
 * `timeout --foreground`), and supervisors like it, signal the process and
 * then its group, and a terminal's Ctrl-C reaches a process both ways when a
 * wrapper passes it on. A repeat of the same signal within
 * {@link REPEAT_WITHIN_MS} is therefore the same request; a person pressing
 * Ctrl-C twice is slower than that.
 *
 * @example
 * ```ts
 * const counts = signalRepeats();
 * process.on("SIGINT", (sig) => { if (counts(sig)) cancelOrQuit(); });
 * ```
 *
 * @module
 */

/** A repeat of the same signal this soon after it is the same request. */
export const REPEAT_WITHIN_MS = 300;

/**
 * Returns a filter of signals as they arrive: true for one that counts,
 * false for a repeat of the signal just before it within
 * {@link REPEAT_WITHIN_MS}.
 */
export function signalRepeats(now: () => number = () => performance.now()): (signal: string) => boolean {
  let last: { signal: string; at: number } | undefined;
  return (signal) => {
    const at = now();
    if (last !== undefined && last.signal === signal && at - last.at < REPEAT_WITHIN_MS) return false;
    last = { signal, at };
    return true;
  };
}
