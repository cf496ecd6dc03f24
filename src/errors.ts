/**
 * Errors with stable codes. Every failure that reaches a user is an
 * {@link SfxError}; its `code` never changes meaning between releases, and
 * the CLI maps it to an exit status ({@link exitStatusFor}) and a one-line
 * message. `cause` keeps the underlying error for `--verbose`.
 *
 * @module
 */

/** Stable error codes, with the exit status the CLI returns for each. */
export const ERROR_CODES = {
  /** Something that should not happen; a bug. */
  SFX_INTERNAL: 1,
  /** Bad command line: unknown command or option, bad value. */
  SFX_USAGE: 2,
  /** Bad value in an option or argument (a port out of range, a bad duration). */
  SFX_BAD_ARGUMENT: 2,
  /** Discovery found no server. */
  SFX_NO_SERVER: 3,
  /** No server was named, and discovery found more than one. */
  SFX_SEVERAL_SERVERS: 3,
  /** Could not reach the server, or the association failed. */
  SFX_CONNECT_FAILED: 4,
  /** An established connection was lost (peer silent, aborted, killed). */
  SFX_CONNECTION_LOST: 4,
  /** The peer or server speaks a protocol version we do not. */
  SFX_INCOMPATIBLE_VERSION: 4,
  /** A peer sent a message that breaks the protocol. */
  SFX_PROTOCOL: 4,
  /** No live client has that ID (for a pull, none that sends by its code). */
  SFX_UNKNOWN_ID: 5,
  /** The receiver is already in an exchange. */
  SFX_PEER_BUSY: 5,
  /** The receiver said no. */
  SFX_REJECTED: 5,
  /** The receiver did not answer the offer in time. */
  SFX_OFFER_TIMEOUT: 5,
  /** A server limit refused the request (size, count, clients, quota). */
  SFX_LIMIT: 6,
  /** A received file's hash did not match; nothing was kept. */
  SFX_INTEGRITY: 7,
  /** The transfer failed part way; nothing partial was kept. */
  SFX_TRANSFER_FAILED: 7,
  /** A local I/O error: cannot read or write a file, disk full, a port already in use. */
  SFX_IO: 8,
  /** No share with that code (wrong, or expired: the answer is the same). */
  SFX_SHARE_NOT_FOUND: 9,
  /** A share's code was malformed; or a send code the sender found wrong (nothing was received). */
  SFX_BAD_CODE: 9,
  /** A daemon already runs on that pid file. */
  SFX_ALREADY_RUNNING: 10,
  /** No daemon runs on that pid file. */
  SFX_NOT_RUNNING: 11,
  /** The daemon did not report ready, or did not exit after SIGTERM, in time. */
  SFX_DAEMON_TIMEOUT: 12,
  /** Everything else went and was verified, but entries inside a directory could not be read or named, and were not sent. */
  SFX_PARTIAL: 13,
  /** The user or the peer cancelled. */
  SFX_CANCELLED: 130,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of every error sfx reports: a stable `code`, a message, a cause. */
export class SfxError extends Error {
  /** Stable identifier of the failure; see {@link ERROR_CODES}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SfxError";
    this.code = code;
  }
}

/** True when `err` is an {@link SfxError}, optionally with the given code. */
export function isSfxError(err: unknown, code?: ErrorCode): err is SfxError {
  return err instanceof SfxError && (code === undefined || err.code === code);
}

/** The CLI exit status for an error: its code's status, or 1 for anything else. */
export function exitStatusFor(err: unknown): number {
  return err instanceof SfxError ? ERROR_CODES[err.code] : 1;
}

/**
 * One line for the user. With `verbose`, the chain of causes follows, one per
 * line, indented.
 */
export function describeError(err: unknown, verbose = false): string {
  const head = err instanceof Error ? err.message : String(err);
  if (!verbose) return head;
  const lines = [head];
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    const text = cause instanceof Error
      ? `${cause.name}: ${cause.message}${"code" in cause && cause.code ? ` (${String(cause.code)})` : ""}`
      : String(cause);
    lines.push(`  caused by: ${text}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.join("\n");
}
