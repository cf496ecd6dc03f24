/**
 * Resuming through the built binary: a sender killed or interrupted mid-file
 * leaves the receiver the bytes it got (hidden, noted), and a receiver
 * killed or interrupted mid-file leaves them too; the same file sent again
 * goes from there, and arrives whole and verified.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/errors.ts";
import { cleanupAll, ensureBinary, events, pattern, sfx, sha256, startReceive, startServe, tmp } from "./_exchange.ts";

test.before(ensureBinary);
test.after(cleanupAll);

type Server = Awaited<ReturnType<typeof startServe>>;

/** Starts sending 96 MiB of `seed`'s pattern as big.bin; resolves once the receiver has some of it. */
async function transferUnderWay(server: Server, seed: number) {
  const src = tmp();
  const dst = tmp();
  // Large enough that the transfer is still running when a side is killed after the first progress.
  const data = pattern(96 * 1024 * 1024, seed);
  writeFileSync(join(src, "big.bin"), data);
  const r1 = await startReceive(server, dst, ["--yes", "--once"]);
  const s1 = sfx(["send", "--to", r1.id, "--server", server.address, "--json", join(src, "big.bin")]);
  await r1.waitFor(/"event":"progress"/, 15_000, "out");
  return { src, dst, data, r1, s1 };
}

/** Sends big.bin again to a new receiver in `dst`: it must be resumed and arrive whole; returns both sides' processes and the sender's start event. */
async function sendAgain(server: Server, src: string, dst: string, data: Uint8Array) {
  const r2 = await startReceive(server, dst, ["--yes", "--once"]);
  const s2 = sfx(["send", "--to", r2.id, "--server", server.address, "--json", join(src, "big.bin")]);
  assert.is((await s2.exit(60_000)).status, 0, s2.err());
  assert.is((await r2.exit(30_000)).status, 0, r2.err());
  // The new receiver said, as it started, what the broken-off transfer left it to resume.
  const resumable = events(r2).filter((e) => e.event === "resumable");
  assert.equal(resumable.map((e) => [e.path, e.size, e.temporary]), [["big.bin", data.length, join(dst, ".big.bin.sfx-part")]]);
  assert.ok((resumable[0].bytes as number) > 0, JSON.stringify(resumable));
  const start = events(s2).find((e) => e.event === "start") as { resumed?: number };
  assert.ok((start.resumed ?? 0) > 0, `the sender was told to resume: ${JSON.stringify(start)}`);
  assert.equal(readdirSync(dst), ["big.bin"]);
  assert.is(sha256(readFileSync(join(dst, "big.bin"))), sha256(data));
  return { r2, s2, resumed: start.resumed! };
}

/** kill -9 of the sender mid-file, then the same send again: the receiver resumes where it stopped. */
async function senderKilled(server: Server): Promise<void> {
  const { src, dst, data, r1, s1 } = await transferUnderWay(server, 5);
  s1.child.kill("SIGKILL");
  assert.is((await r1.exit(35_000)).status, ERROR_CODES.SFX_TRANSFER_FAILED, r1.err());
  assert.not.ok(existsSync(join(dst, "big.bin")), "nothing under the final name");
  assert.equal(readdirSync(dst).sort(), [".big.bin.sfx-part", ".big.bin.sfx-resume"]);
  const kept = events(r1).find((e) => e.event === "kept") as { path?: string; bytes?: number } | undefined;
  assert.ok(kept && kept.path === "big.bin" && kept.bytes! > 0, `the receiver says what it kept: ${r1.out()}`);
  // The error ends the events: a script that stops reading there has seen what was kept.
  assert.is(events(r1).at(-1)?.event, "error", r1.out());

  const { r2, s2, resumed } = await sendAgain(server, src, dst, data);
  const file = events(r2).find((e) => e.event === "file") as { resumedFrom?: number; sha256?: string };
  assert.is(file.resumedFrom, resumed);
  assert.is(file.sha256, sha256(data));
  const done = events(s2).find((e) => e.event === "done") as { bytes?: number };
  assert.is(done.bytes, data.length - resumed, "only the rest crossed the network");
}

/** kill -9 of the receiver mid-file: a new receiver in the same directory takes its kept part over and resumes. */
async function receiverKilled(server: Server): Promise<void> {
  const { src, dst, data, r1, s1 } = await transferUnderWay(server, 6);
  r1.child.kill("SIGKILL");
  assert.is((await s1.exit(35_000)).status, ERROR_CODES.SFX_TRANSFER_FAILED, s1.err());
  // Killed, it could not tidy up: its part, note and lock are left; the lock's process is gone.
  assert.ok(readdirSync(dst).includes(".big.bin.sfx-part"), readdirSync(dst).join(", "));
  await sendAgain(server, src, dst, data);
}

// Both at once: each waits about 20 s for the killed peer to be noticed.
test("kill -9 of the sender, and of the receiver, mid-file; the same file sent again resumes where it stopped", async () => {
  const server = await startServe();
  await Promise.all([senderKilled(server), receiverKilled(server)]);
});

/** A side interrupted mid-file by `signal` cancels (exit 130 on both sides); the receiver keeps what arrived, says so, and the same send resumes it. */
async function cancelled(server: Server, side: "sender" | "receiver", signal: NodeJS.Signals, seed: number): Promise<void> {
  const { src, dst, data, r1, s1 } = await transferUnderWay(server, seed);
  (side === "sender" ? s1 : r1).child.kill(signal);
  assert.is((await s1.exit(15_000)).status, ERROR_CODES.SFX_CANCELLED, s1.err());
  assert.is((await r1.exit(15_000)).status, ERROR_CODES.SFX_CANCELLED, r1.err());
  assert.equal(readdirSync(dst).sort(), [".big.bin.sfx-part", ".big.bin.sfx-resume"], `${side} ${signal}`);
  // One error event, the command's own: not the library's "Cancelled" and then the command's "Cancelled: the receiver was told".
  const errors = events(s1).filter((e) => e.event === "error");
  assert.is(errors.length, 1, s1.out());
  if (side === "sender") assert.equal([errors[0].code, errors[0].message], ["SFX_CANCELLED", "Cancelled: the receiver was told"]);
  const kept = events(r1).find((e) => e.event === "kept") as { path?: string; bytes?: number } | undefined;
  assert.ok(kept && kept.path === "big.bin" && kept.bytes! > 0, `the receiver says what it kept: ${r1.out()}`);
  await sendAgain(server, src, dst, data);
}

test("Ctrl-C, a closed terminal (SIGHUP) or SIGTERM of the sender mid-file, and Ctrl-C of the receiver, cancel; what arrived is kept and the same file sent again resumes", async () => {
  const server = await startServe();
  await Promise.all([
    cancelled(server, "sender", "SIGINT", 7),
    cancelled(server, "sender", "SIGHUP", 8),
    cancelled(server, "sender", "SIGTERM", 9),
    cancelled(server, "receiver", "SIGINT", 10),
  ]);
});

test.run();
