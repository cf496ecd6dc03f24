/**
 * What discovery needs from a logger: a LogTape `Logger` fits, and so does
 * the silent default.
 *
 * @module
 */

/** A minimal structured logger (LogTape's `Logger` satisfies it). Messages use `{field}` placeholders. */
export interface DiscoveryLog {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
}

/** Logs nothing. */
export const SILENT_LOG: DiscoveryLog = { debug() {}, info() {}, warn() {} };
