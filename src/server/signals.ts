/**
 * Shutdown signals: SIGTERM (systemd, `sfx serve --stop`, kill) and SIGINT
 * (Ctrl-C) both ask for a graceful shutdown.
 *
 * @module
 */

/** The signals that stop a server gracefully. */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** One of {@link SHUTDOWN_SIGNALS}. */
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/**
 * Calls `handler` with each shutdown signal received and how many have come
 * so far (1 for the first). While installed, the signals no longer kill the
 * process. Returns a function that removes the handlers.
 */
export function onShutdownSignals(handler: (signal: ShutdownSignal, count: number) => void): () => void {
  let count = 0;
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => handler(signal, ++count);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
