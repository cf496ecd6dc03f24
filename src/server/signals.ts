/**
 * Shutdown signals: SIGTERM (systemd, `sfx serve --stop`, kill), SIGINT
 * (Ctrl-C) and SIGQUIT (as nginx reads it) all ask for a graceful shutdown.
 * SIGUSR1 and SIGUSR2 mean nothing to a server: they are logged and ignored
 * (by default SIGUSR2 would kill it without a trace, and SIGUSR1 would open
 * Node's debugger on a port any local user can reach).
 *
 * @module
 */
import { signalRepeats } from "../signal_repeat.ts";

/** The signals that stop a server gracefully. */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT", "SIGQUIT"] as const;

/** Signals a server takes no action on, beyond saying so. */
export const IGNORED_SIGNALS = ["SIGUSR1", "SIGUSR2"] as const;

/** One of {@link SHUTDOWN_SIGNALS}. */
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/**
 * Calls `handler` with each shutdown signal received and how many have come
 * so far (1 for the first); a repeat of the same signal within
 * `REPEAT_WITHIN_MS` is not counted (see {@link signalRepeats}). While installed, the signals no
 * longer kill the process. Returns a function that removes the handlers.
 */
export function onShutdownSignals(handler: (signal: ShutdownSignal, count: number) => void, now: () => number = () => performance.now()): () => void {
  let count = 0;
  const counts = signalRepeats(now);
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => {
      if (counts(signal)) handler(signal, ++count);
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

/**
 * Calls `handler` with each of {@link IGNORED_SIGNALS} received; while
 * installed they neither kill the process nor start a debugger. Returns a
 * function that removes the handlers.
 */
export function onIgnoredSignals(handler: (signal: (typeof IGNORED_SIGNALS)[number]) => void): () => void {
  const listeners = IGNORED_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
