/**
 * The assertions of refusal tests: {@link refused} (a function throws SfxError
 * `SFX_BAD_ARGUMENT`, or `code`, with a message matching `pattern`) and
 * {@link rejects} (an operation fails with SfxError `code`).
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

/**
 * The assertion of a refused operation: `p` (a promise, or a function that throws or returns one)
 * fails with SfxError `code`, with a message matching `message` when given.
 */
export async function rejects(p: Promise<unknown> | (() => unknown), code: ErrorCode, message?: RegExp): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    assert.ok(isSfxError(err, code), `expected ${code}, got ${String(err)}`);
    if (message) assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}
