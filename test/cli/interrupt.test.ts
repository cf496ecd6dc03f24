/** Ctrl-C during a command: the first cancels, a second exits at once, and one that arrives twice at once is one. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withInterrupt } from "../../src/cli/send.ts";
import { REPEAT_WITHIN_MS } from "../../src/signal_repeat.ts";

/** Runs `body` with process.exit recorded instead of done. */
async function recordingExits(body: (exits: number[]) => Promise<void>): Promise<void> {
  const exits: number[] = [];
  const real = process.exit;
  process.exit = ((code?: number) => void exits.push(code ?? 0)) as typeof process.exit;
  try {
    await body(exits);
  } finally {
    process.exit = real;
  }
}

test("one Ctrl-C that arrives twice at once (a wrapper passing it on) cancels: the work hears it and the process does not exit on the spot", async () => {
  await recordingExits(async (exits) => {
    const clock = { t: 1000 };
    const seen = await withInterrupt(async (signal) => {
      process.emit("SIGINT", "SIGINT");
      clock.t += REPEAT_WITHIN_MS - 1;
      process.emit("SIGINT", "SIGINT");
      return signal.aborted;
    }, () => clock.t);
    assert.ok(seen, "cancelled");
    assert.equal(exits, [], "no exit: the cancel can tell the peer and save what it kept");
  });
});

test("a second Ctrl-C later than that, or SIGTERM after SIGINT, exits at once with 130; the handlers go with the work", async () => {
  await recordingExits(async (exits) => {
    const clock = { t: 1000 };
    await withInterrupt(async () => {
      process.emit("SIGINT", "SIGINT");
      clock.t += REPEAT_WITHIN_MS;
      process.emit("SIGINT", "SIGINT");
    }, () => clock.t);
    assert.equal(exits, [130]);
    await withInterrupt(async () => {
      process.emit("SIGINT", "SIGINT");
      process.emit("SIGTERM", "SIGTERM");
    }, () => clock.t);
    assert.equal(exits, [130, 130]);
    assert.is(process.listenerCount("SIGINT"), 0);
  });
});

test.run();
