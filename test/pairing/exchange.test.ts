import { test } from "uvu";
import * as assert from "uvu/assert";
import { Exchange, type ExchangePeer } from "../../src/pairing/exchange.ts";
import { recordingLog, type LogRecord } from "./_harness.ts";

function peer(id: string): ExchangePeer {
  return { id, association: {} as never, sendControl() {}, exchange: null };
}

test("an exchange goes offered => accepted => streaming => done, logging each transition", () => {
  const logs: LogRecord[] = [];
  const ex = new Exchange(1, { peer: peer("111111"), xid: 1 }, { peer: peer("222222"), xid: 7 }, [{ path: "a", size: 3 }], 0, recordingLog(logs));
  assert.is(ex.state, "offered");
  for (const s of ["accepted", "streaming", "done"] as const) assert.ok(ex.setState(s));
  assert.ok(ex.finished);
  assert.equal(logs.map((l) => l.message), ["Exchange #1: offered => accepted", "Exchange #1: accepted => streaming", "Exchange #1: streaming => done"]);
});

const illegal: Array<[string[], string]> = [
  [[], "streaming"],
  [[], "done"],
  [["accepted"], "rejected"],
  [["accepted", "streaming"], "offered"],
  [["rejected"], "accepted"],
  [["accepted", "streaming", "done"], "failed"],
  [["cancelled"], "done"],
];
for (const [path, next] of illegal) {
  test(`setState() refuses ${["offered", ...path].join(" => ")} => ${next}`, () => {
    const ex = new Exchange(1, { peer: peer("1"), xid: 1 }, { peer: peer("2"), xid: 1 }, [{ path: "a", size: 1 }], 0, recordingLog([]));
    for (const s of path) assert.ok(ex.setState(s as never));
    const before = ex.state;
    assert.not.ok(ex.setState(next as never));
    assert.is(ex.state, before);
  });
}

test("other() and partyOf() tell the sides apart", () => {
  const s = peer("1");
  const r = peer("2");
  const ex = new Exchange(1, { peer: s, xid: 4 }, { peer: r, xid: 9 }, [{ path: "a", size: 1 }], 0, recordingLog([]));
  assert.is(ex.other(s).peer, r);
  assert.is(ex.other(r).xid, 4);
  assert.is(ex.partyOf(r)?.xid, 9);
  assert.is(ex.partyOf(peer("3")), undefined);
});

test.run();
