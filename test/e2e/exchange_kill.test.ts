/**
 * kill -9 of the sender, the receiver and the server mid-transfer, through
 * the built binary: the surviving side reports a clear error within 30 s,
 * no partial file ever sits under a final name, the same send run again
 * goes through within seconds, and the server keeps serving others. The
 * cases run at once (most wait for a timeout).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/errors.ts";
import { cleanupAll, ensureBinary, events, pattern, sfx, startReceive, startServe, tmp, until } from "./_exchange.ts";

test.before(ensureBinary);
test.after(cleanupAll);

async function midTransfer(server: Awaited<ReturnType<typeof startServe>>) {
  const dst = tmp();
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "big.bin", "-"], { stdin: true });
  s.child.stdin!.write(pattern(2_000_000));
  await r.waitFor(/"event":"progress"/, 10_000, "out");
  return { dst, r, s };
}

test("kill -9 of the sender, of the receiver, and of the server mid-transfer", async () => {
  const shared = await startServe();
  const own = await startServe();

  const senderCase = (async () => {
    const { dst, r, s } = await midTransfer(shared);
    s.child.kill("SIGKILL");
    const res = await r.exit(35_000);
    assert.is(res.status, ERROR_CODES.SFX_TRANSFER_FAILED, r.err());
    assert.match(r.err(), /sender .* (disconnected|stopped responding)/);
    assert.ok(res.seconds < 30, `receiver took ${res.seconds} s`);
    assert.not.ok(existsSync(join(dst, "big.bin")), "no file under the final name");
    assert.equal(readdirSync(dst), [], "the temporary file is removed");
  })();

  // The same send run again at once, as a user does after a crash: the offer waits while the
  // server asks the broken exchange's sides for a word, until nothing has been heard from the
  // killed sender for 10 s; then it is let go, and the offer goes through.
  const againCase = (async () => {
    const dst = tmp();
    const r = await startReceive(shared, dst, ["--yes"]);
    const s = sfx(["send", "--to", r.id, "--server", shared.address, "--name", "big.bin", "-"], { stdin: true });
    s.child.stdin!.write(pattern(2_000_000));
    await r.waitFor(/"event":"progress"/, 10_000, "out");
    s.child.kill("SIGKILL");
    const killedAt = Date.now();
    const src = tmp();
    writeFileSync(join(src, "again.bin"), "again");
    const again = sfx(["send", "--to", r.id, "--server", shared.address, join(src, "again.bin")]);
    assert.is((await again.exit(20_000)).status, 0, again.err());
    const seconds = (Date.now() - killedAt) / 1000;
    assert.ok(seconds < 15, `the same send went through ${seconds} s after the kill (the server's own notice takes 20 s)`);
    const failed = events(r).find((e) => e.event === "error");
    assert.equal(failed?.code, "SFX_TRANSFER_FAILED", r.out());
    assert.match(String(failed?.message), /^The sender \(.+\) stopped responding during the transfer$/);
    assert.is(readFileSync(join(dst, "again.bin"), "utf8"), "again");
    r.child.kill("SIGINT");
    assert.is((await r.exit(5000)).status, 130, r.err());
    assert.equal(readdirSync(dst), ["again.bin"], "nothing else: big.bin's part is removed");
  })();

  const receiverCase = (async () => {
    const { dst, r, s } = await midTransfer(shared);
    r.child.kill("SIGKILL");
    const res = await s.exit(35_000);
    assert.is(res.status, ERROR_CODES.SFX_TRANSFER_FAILED, s.err());
    assert.match(s.err(), /receiver .* (disconnected|stopped responding)/);
    assert.ok(res.seconds < 30, `sender took ${res.seconds} s`);
    assert.not.ok(existsSync(join(dst, "big.bin")), "no file under the final name");
    // What it left (standard input is not kept to resume: no note) is found and deleted by --discard-kept, lock and all.
    assert.equal(readdirSync(dst).sort(), [".big.bin.sfx-lock", ".big.bin.sfx-part"]);
    const d = sfx(["receive", "--discard-kept", "--json", "--dir", dst]);
    assert.is((await d.exit(10_000)).status, 0, d.err());
    assert.match(d.out(), /"event":"discarded-all","parts":1,/);
    assert.equal(readdirSync(dst), []);
  })();

  const serverCase = (async () => {
    const { dst, r, s } = await midTransfer(own);
    own.proc.child.kill("SIGKILL");
    const [rs, ss] = await Promise.all([r.exit(35_000), s.exit(35_000)]);
    assert.is(rs.status, ERROR_CODES.SFX_CONNECTION_LOST, r.err());
    assert.is(ss.status, ERROR_CODES.SFX_CONNECTION_LOST, s.err());
    // Its port refuses at once (ICMP port unreachable): no 20 s wait for silence.
    assert.ok(rs.seconds < 12 && ss.seconds < 12, `receiver ${rs.seconds} s, sender ${ss.seconds} s`);
    for (const side of [r, s]) assert.match(side.err(), /The server went away( during the transfer)?: its port refuses datagrams \(connection refused\)/, side.err());
    assert.not.ok(existsSync(join(dst, "big.bin")), "no file under the final name");
    assert.equal(readdirSync(dst), [], "the temporary file is removed");
  })();

  await Promise.all([senderCase, againCase, receiverCase, serverCase]);

  // The shared server lost a sender and a receiver mid-transfer: it still serves others.
  const src = tmp();
  const dst = tmp();
  writeFileSync(join(src, "after.txt"), "still here");
  const r = await startReceive(shared, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", shared.address, join(src, "after.txt")]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(readFileSync(join(dst, "after.txt"), "utf8"), "still here");
  await until(() => /ended failed/.test(readFileSync(join(shared.logDir, "stream_server.log"), "utf8")), 2000, "the failure in the log");
});

test.run();
