/**
 * A path that goes dark and comes back, on a manual clock: an association
 * with data in flight keeps probing until its failure deadline, so an outage
 * shorter than the failure timeout is survived, and the transfer goes on
 * within a few seconds of the path's return.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeManualPair, pattern, sendAll } from "./_pair.ts";

for (const outageMs of [10_000, 17_000]) {
  test(`an outage of ${outageMs / 1000} s with data in flight (failure timeout 20 s) is survived: every byte arrives, within 5 s of the path's return`, async () => {
    const m = makeManualPair({ delayMs: 5 });
    try {
      const { c, s } = await m.connect();
      const data = pattern(2 * 1024 * 1024);
      let got = 0;
      const chunks: Uint8Array[] = [];
      s.on("message", (_st: number, d: Uint8Array) => {
        chunks.push(d.slice());
        got += d.length;
      });
      let failed = "";
      for (const a of [c, s]) a.once("close", (r: { kind: string; message?: string }) => (failed ||= `${r.kind}: ${r.message}`));
      const sending = sendAll(c, 1, data, 16 * 1024).catch(() => {});
      await m.run(5000, 5, () => got >= 256 * 1024);
      assert.ok(got >= 256 * 1024 && got < data.length, `mid-transfer (${got} bytes)`);
      m.bridge.filter = () => false; // the path goes dark both ways
      await m.run(outageMs, 10);
      m.bridge.filter = undefined;
      const back = m.clock.now();
      await m.run(30_000, 5, () => got === data.length || failed !== "");
      assert.is(failed, "", "the association lived");
      assert.is(got, data.length);
      assert.ok(m.clock.now() - back <= 5000, `done ${m.clock.now() - back} ms after the path came back`);
      const joined = new Uint8Array(got);
      let off = 0;
      for (const ch of chunks) joined.set(ch, (off += ch.length) - ch.length);
      assert.equal(joined, data);
      await sending;
    } finally {
      await m.close();
    }
  });
}

test.run();
