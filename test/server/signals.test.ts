import { test } from "uvu";
import * as assert from "uvu/assert";
import { onShutdownSignals } from "../../src/server/signals.ts";
import { REPEAT_WITHIN_MS } from "../../src/signal_repeat.ts";

test("onShutdownSignals(): a repeat of the same signal within REPEAT_WITHIN_MS is one request; later, or another signal, counts again", () => {
  const clock = { t: 1000 };
  const heard: string[] = [];
  const off = onShutdownSignals((signal, count) => heard.push(`${signal} ${count}`), () => clock.t);
  try {
    process.emit("SIGTERM");
    clock.t += REPEAT_WITHIN_MS - 1;
    process.emit("SIGTERM"); // the process group's copy
    assert.equal(heard, ["SIGTERM 1"]);
    clock.t += REPEAT_WITHIN_MS;
    process.emit("SIGTERM"); // asked again: the user does not want to wait
    process.emit("SIGINT"); // another signal is another request, however soon
    assert.equal(heard, ["SIGTERM 1", "SIGTERM 2", "SIGINT 3"]);
  } finally {
    off();
  }
});

test.run();
