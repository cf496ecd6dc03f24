/**
 * Happy Eyeballs' order and race (src/client/happy_eyeballs.ts), with
 * attempts the test settles by hand. Real names and sockets: addresses.test.ts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AllAttemptsFailed, firstToSucceed, interleaveFamilies } from "../../src/client/happy_eyeballs.ts";

/** An attempt the test resolves or rejects, and whether it was told to give up. */
interface Pending {
  address: string;
  signal: AbortSignal;
  resolve(value: string): void;
  reject(err: unknown): void;
}

/** An attempt function recording each attempt, and a way to wait for the n-th to start. */
function attempts() {
  const started: Pending[] = [];
  const waiters: Array<{ n: number; wake: () => void }> = [];
  const attempt = (address: string, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push({ address, signal, resolve, reject });
      for (const w of waiters.filter((w) => started.length >= w.n)) w.wake();
    });
  const nth = (n: number) =>
    new Promise<Pending>((wake) => {
      if (started.length >= n) return wake(started[n - 1]);
      waiters.push({ n, wake: () => wake(started[n - 1]) });
    });
  return { started, attempt, nth };
}

test("families alternate from the first address's, each family in the resolver's order", () => {
  assert.equal(interleaveFamilies(["2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1", "192.0.2.2"]), [
    "2001:db8::1",
    "192.0.2.1",
    "2001:db8::2",
    "192.0.2.2",
    "2001:db8::3",
  ]);
  assert.equal(interleaveFamilies(["192.0.2.1", "192.0.2.2", "::1"]), ["192.0.2.1", "::1", "192.0.2.2"]);
  assert.equal(interleaveFamilies(["::1", "127.0.0.1"]), ["::1", "127.0.0.1"]);
  assert.equal(interleaveFamilies(["127.0.0.1"]), ["127.0.0.1"]);
  assert.equal(interleaveFamilies([]), []);
});

test("an attempt that neither succeeds nor fails gets a head start, then the next address runs beside it and wins", async () => {
  const { started, attempt, nth } = attempts();
  const began = performance.now();
  const won = firstToSucceed(["::1", "127.0.0.1", "10.0.0.1"], attempt, { delayMs: 30, lostReason: "lost", discard: () => assert.unreachable("nothing to discard") });
  assert.is(started.length, 1, "only the first address at first");
  const second = await nth(2);
  assert.ok(performance.now() - began >= 25, "the second waited for the head start");
  assert.is(second.address, "127.0.0.1");
  assert.not.ok(started[0].signal.aborted, "the first still runs beside it");
  second.resolve("via 127.0.0.1");
  assert.is(await won, "via 127.0.0.1");
  assert.ok(started[0].signal.aborted, "the first attempt is told to give up");
  assert.not.ok(second.signal.aborted, "not the winner");
  assert.is(started[0].signal.reason, "lost", "with the reason given for attempts that lost");
  assert.is(started.length, 2, "the third address is never tried");
});

test("a failure starts the next address at once, without waiting out the head start", async () => {
  const { started, attempt, nth } = attempts();
  // A head start longer than the test's time limit: waiting it out would hang the test.
  const won = firstToSucceed(["::1", "127.0.0.1"], attempt, { delayMs: 3_600_000, discard: () => {} });
  (await nth(1)).reject(new Error("refused"));
  const second = await nth(2);
  second.resolve("second");
  assert.is(await won, "second");
  assert.is(started.length, 2);
});

test("a success after another has won is discarded, not leaked", async () => {
  const { attempt, nth } = attempts();
  const discarded: string[] = [];
  let wasDiscarded!: () => void;
  const discarding = new Promise<void>((r) => (wasDiscarded = r));
  const won = firstToSucceed(["a", "b"], attempt, {
    delayMs: 1,
    discard: (late) => {
      discarded.push(late);
      wasDiscarded();
    },
  });
  const first = await nth(1);
  const second = await nth(2);
  second.resolve("b's");
  assert.is(await won, "b's");
  assert.ok(first.signal.aborted);
  first.resolve("a's, too late"); // it had finished before it saw the abort
  await discarding;
  assert.equal(discarded, ["a's, too late"]);
});

test("when every attempt fails, the failures come in the addresses' order, whatever order they failed in", async () => {
  const { attempt, nth } = attempts();
  const race = firstToSucceed(["a", "b", "c"], attempt, { delayMs: 1, discard: () => {} });
  const [a, b, c] = [await nth(1), await nth(2), await nth(3)];
  c.reject(new Error("c failed"));
  a.reject(new Error("a failed"));
  b.reject(new Error("b failed"));
  const err = await race.then(() => assert.unreachable("should fail"), (e) => e);
  assert.instance(err, AllAttemptsFailed);
  assert.equal((err as AllAttemptsFailed).failures.map((f) => [f.address, (f.error as Error).message]), [
    ["a", "a failed"],
    ["b", "b failed"],
    ["c", "c failed"],
  ]);
});

test("the race waits for the attempts still running before it reports that all failed", async () => {
  const { attempt, nth } = attempts();
  let done = false;
  const race = firstToSucceed(["a", "b"], attempt, { delayMs: 1, discard: () => {} }).finally(() => (done = true));
  const [a, b] = [await nth(1), await nth(2)];
  b.reject(new Error("b failed"));
  await new Promise<void>((r) => setImmediate(r));
  assert.not.ok(done, "a still runs");
  a.resolve("a, last");
  assert.is(await race, "a, last");
});

test("cancelling aborts every running attempt and rejects with the given error; no further address starts", async () => {
  const { started, attempt, nth } = attempts();
  const controller = new AbortController();
  const race = firstToSucceed(["a", "b", "c"], attempt, {
    delayMs: 1,
    signal: controller.signal,
    cancelled: () => new Error("cancelled by the user"),
    discard: () => {},
  });
  await nth(2);
  controller.abort();
  const err = await race.then(() => assert.unreachable("should fail"), (e) => e);
  assert.is((err as Error).message, "cancelled by the user");
  assert.ok(started.every((p) => p.signal.aborted), "every attempt that started is told to give up");
  assert.is(started.length, 2, "no third attempt after the cancel");
  const pre = new AbortController();
  pre.abort(new Error("already"));
  const early = await firstToSucceed(["a"], attempt, { signal: pre.signal, discard: () => {} }).catch((e) => e);
  assert.is((early as Error).message, "already", "a signal aborted before the race: nothing starts");
  assert.is(started.length, 2);
});

test("no attempt starts once the deadline has passed: the addresses left are not tried, and the race fails with those that were", async () => {
  const { started, attempt, nth } = attempts();
  const race = firstToSucceed(["a", "b", "c"], attempt, { delayMs: 3_600_000, deadline: performance.now() - 1, discard: () => {} });
  const first = await nth(1); // the first always starts
  first.reject(new Error("timed out"));
  const err = await race.then(() => assert.unreachable("should fail"), (e) => e);
  assert.instance(err, AllAttemptsFailed);
  assert.equal((err as AllAttemptsFailed).failures.map((f) => f.address), ["a"]);
  assert.is(started.length, 1);
});

test("the deadline passing just as an attempt fails ends the race (it had been left unsettled when two looks at the clock disagreed)", async () => {
  const { attempt, nth } = attempts();
  let t = 0;
  // Each look at the clock moves it on: the first is before the deadline, the next after it.
  const race = firstToSucceed(["a", "b", "c"], attempt, { delayMs: 3_600_000, deadline: 1.5, now: () => ++t, discard: () => {} });
  (await nth(1)).reject(new Error("a failed"));
  (await nth(2)).reject(new Error("b failed"));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const err = await Promise.race([race.then(() => "resolved", (e) => e), new Promise((r) => (timer = setTimeout(r, 2000, "unsettled after 2 s")))]);
  clearTimeout(timer);
  assert.instance(err, AllAttemptsFailed);
  assert.equal((err as AllAttemptsFailed).failures.map((f) => f.address), ["a", "b"]);
});

test("an attempt that throws instead of rejecting counts as a failure; no addresses fails at once", async () => {
  const won = await firstToSucceed(["a", "b"], (address) => {
    if (address === "a") throw new Error("thrown");
    return Promise.resolve("b");
  }, { delayMs: 3_600_000, discard: () => {} });
  assert.is(won, "b");
  const none = await firstToSucceed([], () => Promise.resolve("x"), { discard: () => {} }).catch((e) => e);
  assert.instance(none, AllAttemptsFailed);
});

test.run();
