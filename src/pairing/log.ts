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
