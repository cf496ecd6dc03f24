/**
 * The assertion of argument-checking tests: `fn` throws SfxError
 * `SFX_BAD_ARGUMENT` (or `code`) with a message matching `pattern`.
 */
import * as assert from "uvu/assert";
import { type ErrorCode, isSfxError } from "../src/errors.ts";

export function refused(fn: () => unknown, pattern: RegExp, code: ErrorCode = "SFX_BAD_ARGUMENT"): void {
  try {
    fn();
    assert.unreachable("accepted");
  } catch (err) {
    assert.ok(isSfxError(err, code), String(err));
    assert.match((err as Error).message, pattern);
  }
}
