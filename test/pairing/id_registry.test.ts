import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatId, IdRegistry, normalizeId } from "../../src/pairing/id_registry.ts";
import { isSfxError } from "../../src/errors.ts";

test("allocate() gives six-digit IDs without a leading zero, unique among live clients", () => {
  const ids = new IdRegistry<number>();
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = ids.allocate(i);
    assert.match(id, /^[1-9][0-9]{5}$/);
    assert.not.ok(seen.has(id), `duplicate ${id}`);
    seen.add(id);
  }
  assert.is(ids.size, 5000);
});

test("a random source that keeps repeating still never yields a live ID twice", () => {
  let n = 0;
  const ids = new IdRegistry<number>({ random: () => 100000 + (n++ % 3) });
  const a = ids.allocate(1);
  const b = ids.allocate(2);
  const c = ids.allocate(3);
  assert.is(new Set([a, b, c]).size, 3);
  assert.throws(() => ids.allocate(4), (e: unknown) => isSfxError(e, "SFX_LIMIT"));
});

test("a released ID is not handed out again during its quarantine, and is after", () => {
  let now = 0;
  let next = 0;
  const seq = [111111, 111111, 222222, 111111];
  const ids = new IdRegistry<string>({ quarantineMs: 1000, now: () => now, random: () => seq[next++] });
  assert.is(ids.allocate("a"), "111111");
  ids.release("111111");
  assert.is(ids.allocate("b"), "222222", "skips the quarantined ID");
  now = 2000;
  assert.is(ids.allocate("c"), "111111", "free again after the quarantine");
});

test("get() finds a client by ID written with spaces or dashes; release() forgets it", () => {
  const ids = new IdRegistry<string>();
  const id = ids.allocate("x");
  assert.is(ids.get(formatId(id)), "x");
  assert.is(ids.get(`${id.slice(0, 3)}-${id.slice(3)}`), "x");
  ids.release(id);
  assert.is(ids.get(id), undefined);
});

test("formatId() and normalizeId() are inverses for six digits", () => {
  assert.is(formatId("482913"), "482 913");
  assert.is(normalizeId(" 482 913 "), "482913");
});

test.run();
