/** The throttled log line that says the server's socket overflowed: one per interval, nothing held back for good. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OverflowLog } from "../../src/server/overflow_log.ts";
import { until } from "../pairing/_harness.ts";

/** A log that keeps what it was told. */
function recorder() {
  const lines: Array<Record<string, unknown>> = [];
  const keep = (_message: string, properties?: Record<string, unknown>) => void lines.push(properties ?? {});
  return { lines, log: { debug: keep, info: keep, warn: keep, error: keep } };
}

test("the first cut is logged at once; cuts within the interval are summed and logged when it ends, with the window now and at its lowest", async () => {
  const { lines, log } = recorder();
  const line = new OverflowLog(log, { intervalMs: 40 });
  line.cut(37, 4096);
  assert.equal(lines, [{ dropped: 37, share: 4096, lowest: 4096 }]);
  line.cut(5, 2048);
  line.cut(1, 3000);
  assert.is(lines.length, 1, "held back within the interval");
  await until(() => lines.length === 2, 2000, "the held cuts to be logged");
  assert.equal(lines[1], { dropped: 6, share: 3000, lowest: 2048 });
  line.close();
  assert.is(lines.length, 2, "nothing left to say");
});

test("close() says what is still held back, and leaves no timer", () => {
  const { lines, log } = recorder();
  const line = new OverflowLog(log, { intervalMs: 60_000 });
  line.cut(3, 4096);
  line.cut(146, 65536);
  line.close();
  assert.equal(lines, [{ dropped: 3, share: 4096, lowest: 4096 }, { dropped: 146, share: 65536, lowest: 65536 }]);
});

test.run();
