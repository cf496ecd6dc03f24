/**
 * Every server default in one place: where it listens, where its pid file
 * lives, and how long start, stop and shutdown may take.
 *
 * @module
 */

/** UDP port for SCTP and discovery (the original server's). */
export const DEFAULT_PORT = 6969;

/** Address to bind: every IPv4 interface (multicast discovery needs the wildcard). */
export const DEFAULT_HOST = "0.0.0.0";

/** The daemon's pid file when /run is writable (root)… */
export const DEFAULT_PID_FILE = "/run/sfx.pid";

/** …else this file in the user state directory. */
export const PID_FILE_NAME = "sfx.pid";

/** `sfx serve --daemon` gives up when the daemon has not reported ready by then. */
export const DAEMON_READY_TIMEOUT_MS = 15_000;

/** `sfx serve --stop` waits this long for the daemon to exit after SIGTERM. */
export const STOP_TIMEOUT_MS = 10_000;

/** A graceful shutdown taking longer than this is cut short (exit status 1). */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
