/**
 * Where the server's logs go and how large they grow: every logging default
 * in one place.
 *
 * @module
 */

/** The log directory when `--log-dir` is not given. */
export const DEFAULT_LOG_DIR = "/var/log";

/** The server's log, in the log directory. */
export const SERVER_LOG_FILE = "stream_server.log";

/** A daemon's standard output (anything not written through the logger). */
export const DAEMON_STDOUT_FILE = "stream_server_stdout.log";

/** A daemon's standard error (crashes, runtime warnings). */
export const DAEMON_STDERR_FILE = "stream_server_stderr.log";

/** Rotate `stream_server.log` once it would pass this size… */
export const LOG_MAX_BYTES = 10 * 2 ** 20;

/** …keeping this many rotated files besides the live one: `stream_server.log.1` (newest) … `.5`. */
export const LOG_MAX_FILES = 5;

/**
 * Buffered lines reach the file at least this often (and at once on
 * shutdown). The file sink writes in the background, so logging never blocks
 * on the disk.
 */
export const LOG_FLUSH_INTERVAL_MS = 500;
/** How often the server looks whether its log file was deleted, to open it again. */
export const LOG_CHECK_INTERVAL_MS = 10_000;

/** The lowest level logged unless `--log-level` says otherwise. */
export const DEFAULT_LOG_LEVEL = "info";
