/** connect() gives up at once when its signal is aborted, whatever stage it is in, and refuses what it cannot use before opening anything. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { closeError, connect, localTroubleOf, watchRefusals } from "../../src/client/connection.ts";
import { isSfxError } from "../../src/errors.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";
import { shareGet, shareList, sharePut } from "../../src/client/share.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

test("sharePut, shareList and shareGet pass their signal to the connect: against a server that does not answer they stop when it aborts", async () => {
  const silent = createSocket("udp4");
  await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
  const dir = mkdtempSync(join(tmpdir(), "sfx-share-cancel-"));
  writeFileSync(join(dir, "a.txt"), "a");
  try {
    const server = { host: "127.0.0.1", port: silent.address().port };
    const code = "7KQ2-M9XD-4T1F-HB6R-W3NP";
    for (const [what, call] of [
      ["sharePut", (signal: AbortSignal) => sharePut([join(dir, "a.txt")], { server, signal })],
      ["shareList", (signal: AbortSignal) => shareList(code, { server, signal })],
      ["shareGet", (signal: AbortSignal) => shareGet(code, { server, signal, dir })],
    ] as const) {
      const t0 = Date.now();
      const err = await call(AbortSignal.timeout(200)).then(() => undefined, (e: unknown) => e);
      assert.ok(isSfxError(err, "SFX_CANCELLED"), `${what}: ${err}`);
      assert.ok(Date.now() - t0 < 2000, `${what} took ${Date.now() - t0} ms (the connect timeout is 10 s)`);
    }
  } finally {
    silent.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sharePut refuses a bad expiry before walking its files or connecting (a silent server made it wait 10 s for the wrong error)", async () => {
  const t0 = Date.now();
  const err = await sharePut(["/nonexistent"], { server: { host: "127.0.0.1", port: 9 }, expiresInMs: 500 }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), String(err));
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  const port = await connect({ server: { host: "127.0.0.1", port: "6969" as unknown as number } }).then(() => undefined, (e: unknown) => e);
  assert.match(String(port), /Invalid server port "6969"/, "a string port is shown as one");
});

test("an ABORT that reflects our tag (the server no longer knows us) says it restarted or our address changed; one with the server's words says those", () => {
  const unknown = closeError({ kind: "peer-abort", message: "peer aborted: it has no association with us", unknownToPeer: true }, "during the transfer");
  assert.is(unknown.message, "The server no longer knows this connection during the transfer: it restarted, or your address changed (a new network, or a NAT that moved you)");
  assert.is(unknown.code, "SFX_CONNECTION_LOST");
  const told = closeError({ kind: "peer-abort", message: "peer aborted", peerReason: "The server is shutting down", unknownToPeer: true }, "");
  assert.is(told.message, "The server ended the connection: The server is shutting down");
});

test("a refused datagram (ICMP port unreachable, which anyone who knows the ports can forge) only makes the client ask the server: it ends the connection only if the server then says nothing", async () => {
  for (const answers of [true, false]) {
    let onError: ((err: Error) => void) | undefined;
    const socket = { onError: (h: (err: Error) => void) => void (onError = h) };
    const asked: number[] = [];
    let aborted: string | undefined;
    let settle!: (v: boolean) => void;
    const association = {
      checkPeer: (ms: number) => {
        asked.push(ms);
        return new Promise<boolean>((r) => (settle = r));
      },
      abort: (why: string) => void (aborted = why),
    };
    watchRefusals(socket, association as never);
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    onError!(Object.assign(new Error("other"), { code: "EHOSTUNREACH" }));
    onError!(refused);
    onError!(refused); // while a check runs: no second one
    assert.equal(asked, [3000]);
    assert.is(aborted, undefined, "not on the hint alone");
    settle(answers);
    await new Promise((r) => setImmediate(r));
    if (answers) assert.is(aborted, undefined, "the server answered: the forged refusal changed nothing");
    else assert.match(closeError({ kind: "abort", message: aborted! }, "").message, /^The server went away: its port refuses datagrams \(connection refused\)$/);
  }
});

test("a silent server is said in seconds; when this machine could not send meanwhile (its network down, its address gone: ENETUNREACH on its own socket), the cause is said as its own, not the server's", () => {
  const silent = closeError({ kind: "timeout", message: "peer silent for 20001 ms", silentMs: 20001 }, "");
  assert.is(silent.message, "The server stopped responding: nothing heard from it for 20 s (it, or the network on the way, is down)");
  let onError: ((err: Error) => void) | undefined;
  const association = { abort: () => {} };
  watchRefusals({ onError: (h: (err: Error) => void) => void (onError = h) }, association as never);
  assert.is(localTroubleOf(association as never), undefined);
  onError!(Object.assign(new Error("send ENETUNREACH"), { code: "ENETUNREACH" }));
  const local = localTroubleOf(association as never);
  assert.is(local?.code, "ENETUNREACH");
  const ours = closeError({ kind: "timeout", message: "peer silent for 20001 ms", silentMs: 20001 }, "during the transfer", local);
  assert.is(ours.message, "Lost the server during the transfer: this machine could not send to it (ENETUNREACH): its network went down or its address changed");
  // Before the silence began (a blip that cleared): not the cause.
  assert.match(closeError({ kind: "timeout", message: "peer silent for 20001 ms", silentMs: 20001 }, "", { code: "ENETUNREACH", at: Date.now() - 25_000 }).message, /^The server stopped responding/);
});

test("a server's ABORT reason is shown printable: bidi overrides and C1 controls become U+FFFD", () => {
  const err = closeError({ kind: "peer-abort", message: "peer aborted", peerReason: "see \u202etxt.exe and \u009b2J" }, "");
  assert.is(err.message, "The server ended the connection: see \ufffdtxt.exe and \ufffd2J");
});

const udpHandles = () => process.getActiveResourcesInfo().filter((r) => r === "UDPWrap").length;

/** Waits (bounded) until at most `n` UDP handles are open: libuv closes a handle asynchronously. */
async function udpHandlesSettle(n: number): Promise<number> {
  for (let i = 0; i < 100 && udpHandles() > n; i++) await new Promise((r) => setTimeout(r, 10));
  return udpHandles();
}

test("connect() to a port out of range is SFX_BAD_ARGUMENT, and leaves no socket open (one kept the process alive)", async () => {
  const before = await udpHandlesSettle(0);
  for (const port of [0, 70000, 1.5, Number.NaN]) {
    const err = await connect({ server: { host: "127.0.0.1", port } }).then(() => undefined, (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), `${port}: ${err}`);
  }
  assert.is(await udpHandlesSettle(before), before);
});

test("openUdpSocket() told to connect to a port out of range rejects and closes what it bound", async () => {
  const before = await udpHandlesSettle(0);
  const err = await openUdpSocket({ host: "127.0.0.1", port: 0, connect: { address: "127.0.0.1", port: 70000 } }).then(() => undefined, (e: unknown) => e);
  assert.instance(err, Error);
  assert.is(await udpHandlesSettle(before), before);
});

test.run();
