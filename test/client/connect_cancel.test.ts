/** connect() gives up at once when its signal is aborted, whatever stage it is in. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { connect } from "../../src/client/connection.ts";
import { isSfxError } from "../../src/errors.ts";

test("Ctrl-C while a server does not answer stops connect() at once with SFX_CANCELLED, not at the 10 s timeout", async () => {
  // A bound UDP port that never answers: the SCTP INIT goes unanswered.
  const silent = createSocket("udp4");
  await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
  try {
    const ac = new AbortController();
    const t0 = Date.now();
    const attempt = connect({ server: { host: "127.0.0.1", port: silent.address().port }, signal: ac.signal }).then(
      (c) => c,
      (err: unknown) => err,
    );
    setTimeout(() => ac.abort(), 200);
    const result = await attempt;
    assert.ok(isSfxError(result, "SFX_CANCELLED"), String(result));
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  } finally {
    silent.close();
  }
});

test.run();
