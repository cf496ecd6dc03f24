/**
 * sfx — Streaming Files eXchange, as a library.
 *
 * The public API re-exported here: errors with stable codes; the SCTP-over-UDP
 * transport; discovery; the server; the client. Each re-export documents
 * itself where it is defined.
 *
 * @example
 * ```ts
 * import { SfxError, VERSION } from "./mod.ts";
 * console.log(`sfx ${VERSION}`);
 * ```
 *
 * @module
 */
export { describeError, ERROR_CODES, exitStatusFor, isSfxError, SfxError } from "./src/errors.ts";
export type { ErrorCode } from "./src/errors.ts";
export { VERSION } from "./src/version.ts";
