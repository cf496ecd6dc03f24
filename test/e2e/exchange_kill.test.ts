/**
 * kill -9 of the sender, the receiver and the server mid-transfer, through
 * the built binary: the surviving side reports a clear error within 30 s,
 * no partial file ever sits under a final name, and the server keeps
 * serving others. The three cases run at once (each waits for a timeout).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/errors.ts";
import { cleanupAll, ensureBinary, pattern, sfx, startReceive, startServe, tmp, until } from "./_exchange.ts";

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
    // The same send again, as the README says to, while the server has not noticed yet: refused,
    // and once nothing has moved for a while the refusal says why and that it ends by itself.
    const src = tmp();
    writeFileSync(join(src, "again.bin"), "x");
    let refusal = "";
    const deadline = Date.now() + 25_000;
    for (let i = 0; i < 200 && Date.now() < deadline && !/nothing has moved in it for \d+ s/.test(refusal); i++) {
      const again = sfx(["send", "--to", r.id, "--server", shared.address, join(src, "again.bin")]);
      const st = await again.exit(10_000);
      if (st.status !== ERROR_CODES.SFX_PEER_BUSY) break; // the receiver is free again: nothing more to see
      refusal = again.err();
    }
    assert.match(refusal, /is busy in another exchange; nothing has moved in it for \d+ s \(it ends by itself: within 30 s if its other side was killed, as a killed sfx is, or after 5 minutes with nothing moving\): try again later/, `refusal: ${JSON.stringify(refusal)}`);
    const res = await r.exit(35_000);
    assert.is(res.status, ERROR_CODES.SFX_TRANSFER_FAILED, r.err());
    assert.match(r.err(), /sender .* (disconnected|stopped responding)/);
    assert.ok(res.seconds < 30, `receiver took ${res.seconds} s`);
    assert.not.ok(existsSync(join(dst, "big.bin")), "no file under the final name");
    assert.equal(readdirSync(dst), [], "the temporary file is removed");
  })();

  const receiverCase = (async () => {
    const { dst, r, s } = await midTransfer(shared);
    r.child.kill("SIGKILL");
    const res = await s.exit(35_000);
    assert.is(res.status, ERROR_CODES.SFX_TRANSFER_FAILED, s.err());
    assert.match(s.err(), /receiver .* (disconnected|stopped responding)/);
    assert.ok(res.seconds < 30, `sender took ${res.seconds} s`);
    assert.not.ok(existsSync(join(dst, "big.bin")), "no file under the final name");
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

  await Promise.all([senderCase, receiverCase, serverCase]);

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
