/**
 * The `sfx client` session itself (runSession), its commands piped in,
 * against a real server on 127.0.0.1 port 0 in this process, with a
 * library client on the other end: what the session prints.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { PassThrough, Writable } from "node:stream";
import { collectFiles, connect, ExchangeCode, Receiver, receiveByCode, sendByCode, sendFiles, startServer } from "../../mod.ts";
import { runSession } from "../../src/cli/repl/session.ts";
import { Pullable } from "../../src/protocol/index.ts";
import { within } from "../pairing/_harness.ts";

/** A server on 127.0.0.1, port 0, with its logs and shares under `dir`. */
function serve(dir: string) {
  return startServer({ host: "127.0.0.1", port: 0, logDir: join(dir, "logs"), storage: join(dir, "shares") });
}

/** Runs `fn` with a temporary directory, a server in it, and Bob, a library client connected to it; all closed and removed after. */
async function withBob(fn: (w: { tmp: string; server: Awaited<ReturnType<typeof serve>>; bob: Awaited<ReturnType<typeof connect>> }) => Promise<void>): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  const bob = await connect({ server: { host: "127.0.0.1", port: server.port } });
  try {
    await fn({ tmp, server, bob });
  } finally {
    await bob.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A piped session on `server` whose input is written as the test goes; `waitFor` polls its output (bounded, 5 s). */
function pipedSession(port: number | undefined, dir: string, opts: { yes?: boolean; discoveryTimeoutMs?: number; settleMs?: number } = {}) {
  const input = new PassThrough();
  let out = "";
  const output = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  const running = runSession({ ...(port === undefined ? {} : { server: `127.0.0.1:${port}` }), dir, input, output, terminal: false, discoveryTimeoutMs: 1, ...opts });
  return {
    input,
    running,
    out: () => out,
    async waitFor(re: RegExp): Promise<RegExpExecArray | null> {
      for (let i = 0; i < 500 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 10));
      return re.exec(out);
    },
  };
}

/** Runs a piped session on `server` that reads `lines`, then the end of input; resolves to its exit status and output. */
async function session(port: number, dir: string, lines: string[], opts: { settleMs?: number } = {}): Promise<{ status: number; out: string }> {
  const s = pipedSession(port, dir, opts);
  s.input.end(lines.map((l) => `${l}\n`).join(""));
  const status = await s.running;
  return { status, out: s.out() };
}

test("send in the session says the receiver kept bytes of an interrupted transfer and only the rest is sent, as 'sfx send' does", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  try {
    const size = 2 * 1024 * 1024;
    const data = new Uint8Array(size).map((_, i) => (i * 7) % 251);
    const src = join(tmp, "big.bin");
    writeFileSync(src, data);
    const modified = 1_700_000_000_000;
    utimesSync(src, modified / 1000, modified / 1000);
    // What an interrupted transfer of the same file left the receiver: its first MiB, and the note naming the file.
    const inbox = join(tmp, "inbox");
    mkdirSync(inbox);
    writeFileSync(join(inbox, ".big.bin.sfx-part"), data.subarray(0, 1024 * 1024));
    writeFileSync(join(inbox, ".big.bin.sfx-resume"), `exchange ${size} ${modified} "big.bin"\n`);

    const bob = await connect({ server: { host: "127.0.0.1", port: server.port } });
    try {
      const receiving = new Receiver(bob, { dir: inbox, decide: () => Promise.resolve(true) }).receiveOne();
      const own = join(tmp, "own");
      mkdirSync(own);
      const { status, out } = await session(server.port, own, [`send ${bob.id} ${src}`]);
      assert.is(status, 0, out);
      assert.ok((await receiving).accepted);
      const kept = out.indexOf("The receiver kept 1.0 MiB from an interrupted transfer: reading them here to check them, then sending the rest.\n");
      assert.ok(kept > 0, out);
      assert.match(out.slice(kept), /\nSent 1 file, 1\.0 MiB in /);
    } finally {
      await bob.close();
    }
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("a piped session lists what interrupted transfers kept before its first command's output, and before it ends", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  try {
    const own = join(tmp, "own");
    mkdirSync(own);
    writeFileSync(join(own, ".big.bin.sfx-part"), new Uint8Array(3072));
    writeFileSync(join(own, ".big.bin.sfx-resume"), `exchange 2097152 1700000000000 "big.bin"\n`);
    for (const lines of [[], ["id"]]) {
      const { status, out } = await session(server.port, own, lines);
      assert.is(status, 0, out);
      const listed = out.indexOf("Kept from interrupted transfers, 3.0 KiB in all");
      assert.ok(listed > 0, out);
      assert.ok(listed < out.indexOf("Bye."), out);
      if (lines.length > 0) assert.ok(listed < out.lastIndexOf("Your ID"), out); // the id command's, after the one said on connecting
    }
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** Drops ANSI escapes (cursor moves, clears). */
// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");

/** A session on a (fake) terminal: keys typed into it, and a wait for what it shows. */
function terminalSession(port: number, dir: string, now?: () => number) {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (b: boolean) => void };
  input.isTTY = true;
  input.setRawMode = () => {};
  let out = "";
  let waiting: { re: RegExp; from: number; resolve: (m: string) => void } | null = null;
  const check = () => {
    const text = plain(out).slice(waiting?.from ?? 0);
    if (waiting && waiting.re.test(text)) {
      const w = waiting;
      waiting = null;
      w.resolve(text);
    }
  };
  const output = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      check();
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  output.isTTY = true;
  output.columns = 200;
  const done = runSession({ server: `127.0.0.1:${port}`, dir, input, output, terminal: true, now });
  return {
    done,
    type: (keys: string) => input.write(keys),
    /** Resolves with the output from `from` (characters of plain output) on, once it matches `re`; rejects after 10 s. */
    waitFor(re: RegExp, from = 0): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = null;
          reject(new Error(`no ${re} within 10 s in:\n${plain(out).slice(from)}`));
        }, 10_000);
        waiting = { re, from, resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        } };
        check();
      });
    },
    length: () => plain(out).length,
  };
}

test("piped lines after 'quit' do not run (read before it ran, they used to reconnect after 'Bye.'); 'disconnect' does not wait 3 s for the idle receive", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  try {
    // Leaving would wait a minute for a receive left running: well within that, it was stopped, not waited for.
    const t0 = Date.now();
    const { status, out } = await session(server.port, tmp, ["disconnect", "quit", "connect", "id"], { settleMs: 60_000 });
    assert.is(status, 0, out);
    assert.match(out, /Disconnected\. The ID .* is released/);
    assert.ok(out.trimEnd().endsWith("Bye."), out);
    assert.not.match(out.slice(out.indexOf("Disconnected")), /Connecting to|Your ID/, out);
    assert.ok(Date.now() - t0 < 30_000, `${Date.now() - t0} ms: disconnect waited for the idle receive`);
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("'send' while a transfer comes in is refused before anything is offered, as a usage error (one exchange at a time), not a protocol failure (exit 4) after 'Offering…'", async () => {
  await withBob(async ({ tmp, server, bob }) => {
  const own = join(tmp, "own");
  mkdirSync(own);
  writeFileSync(join(tmp, "back.txt"), "back");
  const { input, running, out, waitFor } = pipedSession(server.port, own, { yes: true });
  const id = (await waitFor(/Your ID:\s+(\d{3}) (\d{3})/))!;
  // Bob sends a file whose first 64 KiB go at once and the rest when let go.
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const data = new Uint8Array(1024 * 1024).fill(3);
  const file = { path: "x.bin", size: data.length, async *read() { yield data.slice(0, 65536); await gate; yield data.slice(65536); } };
  const sending = sendFiles(bob, { to: id[1] + id[2], files: [file] });
  sending.catch(() => {});
  await waitFor(/Receiving from/);
  input.write(`send ${bob.id} ${join(tmp, "back.txt")}\n`);
  await waitFor(/one exchange at a time/);
  assert.match(out(), /\nYou are receiving from \d{3} \d{3}: one exchange at a time; wait for it to end, or Ctrl-C to cancel it/, out());
  assert.not.match(out(), /Offering/);
  // Piped, a failed command ends the session (cancelling what runs): with the usage error's status.
  open();
  input.end();
  assert.is(await running, 2, out());
  });
});

test("'send <path>' without a code shows one and sends to whoever types it; 'receive <code>' fetches a sender's files, its own receiving paused meanwhile and back after", async () => {
  await withBob(async ({ tmp, server, bob }) => {
  writeFileSync(join(tmp, "out.txt"), "from the session");
  const own = join(tmp, "own");
  mkdirSync(own);
  const inbox = join(tmp, "inbox");
  mkdirSync(inbox);
  // The session sends by its code; Bob types it.
  const a = pipedSession(server.port, own, { yes: true });
  a.input.write(`send ${join(tmp, "out.txt")}\n`);
  const code = (await a.waitFor(/Code: +(\d{3}-\d{3}-\d{3}-\d{3}) +\(on the other machine: sfx receive \1\)/))?.[1];
  assert.ok(code, a.out());
  const got = await within(receiveByCode(bob, code, { dir: inbox, decide: async () => true }), 15_000, "Bob's fetch");
  assert.ok(got.accepted);
  assert.is(readFileSync(join(inbox, "out.txt"), "utf8"), "from the session");
  await a.waitFor(/\nSent 1 file, 16 B in .* to \d{3} \d{3}; the receiver verified every file/);
  assert.match(a.out(), /typed the code: offering 1 file \(16 B\)/);
  // Now the session fetches Bob's files by Bob's code.
  const bobCode = new ExchangeCode();
  writeFileSync(join(tmp, "back.txt"), "from bob");
  let shown!: () => void;
  const pullable = new Promise<void>((resolve) => (shown = resolve));
  const sending = sendByCode(bob, { code: bobCode, files: await collectFiles([join(tmp, "back.txt")]), onEvent: (e) => void (e.event === "code" && shown()) });
  await within(pullable, 10_000, "Bob's send to take pulls");
  a.input.write(`receive ${bobCode.format(bob.id).replaceAll("-", " ")}\n`);
  // Bounded: a session whose own receiving took the offer (not paused) would leave Bob's send waiting.
  assert.is((await within(sending, 15_000, "the session to fetch Bob's files")).files, 1);
  await a.waitFor(/Received 1 file, 8 B in .* from \d{3} \d{3}; every hash verified/);
  assert.is(readFileSync(join(own, "back.txt"), "utf8"), "from bob");
  assert.match(a.out(), /under keys made with the sender's code, which it proved it has/);
  // Its own receiving is back: Bob sends to the session's ID as before.
  const id = /Your ID:\s+(\d{3}) (\d{3})/.exec(a.out())!;
  writeFileSync(join(tmp, "again.txt"), "again");
  await within(sendFiles(bob, { to: id[1] + id[2], files: await collectFiles([join(tmp, "again.txt")]) }), 15_000, "the session's own receiving, back");
  assert.is(readFileSync(join(own, "again.txt"), "utf8"), "again");
  a.input.end();
  assert.is(await a.running, 0, a.out());
  });
});

test("a piped session without --yes refuses 'receive <code>' before it asks the sender anything (it could only decline, which would end the send): exit 2", async () => {
  await withBob(async ({ tmp, server, bob }) => {
  const code = new ExchangeCode();
  const pulls: unknown[] = [];
  bob.onMessage((m) => void (m.type === "pull" && pulls.push(m)));
  bob.send(Pullable, { on: true });
  const { status, out } = await session(server.port, tmp, [`receive ${code.format(bob.id)}`]);
  assert.is(status, 2, out);
  assert.match(out, /receive <code> asks before it takes the files, and this session has no terminal to ask on: start 'sfx client' with --yes/);
  assert.equal(pulls, [], "the sender was asked nothing");
  });
});

test("a piped session that finds no server ends with exit 3 (SFX_NO_SERVER), as 'sfx send' does: the connection failing is its first command failing", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  try {
    // No --server, and nobody answers discovery within its (short) window.
    const { input, running, out } = pipedSession(undefined, tmp, { discoveryTimeoutMs: 50 });
    input.end("id\n");
    assert.is(await running, 3, out());
    assert.match(out(), /Cannot connect: No sfx server answered within 0\.05 s/);
    assert.match(out(), /Stopping: a command failed \(exit status 3\)/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the input failing (a terminal closed under the session: readline's setRawMode EIO) leaves as SIGHUP does, not a crash", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  try {
    const { input, running, out, waitFor } = pipedSession(server.port, tmp);
    input.write("id\n");
    // Connected and answered: then the terminal goes.
    await waitFor(/Your ID/);
    input.emit("error", Object.assign(new Error("setRawMode EIO"), { code: "EIO" }));
    assert.is(await running, 0, out());
    assert.ok(out().trimEnd().endsWith("Bye."), out());
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("Ctrl-C on a 'connect' to a server that never answers, while connected: the switch is cancelled, the session still connected (no 'Not connected'), even when the Ctrl-C also arrives as a signal", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  // A server that never answers: a socket that reads nothing it is sent.
  const silent = createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", r));
  const deadPort = silent.address().port;
  try {
    const s = terminalSession(server.port, tmp);
    const id = (await s.waitFor(/Your ID: +(\d{3} \d{3})\n[^]*sfx \d{3} \d{3}> $/)).match(/Your ID: +(\d{3} \d{3})/)![1];
    const from = s.length();
    s.type(`connect 127.0.0.1:${deadPort}\r`);
    await s.waitFor(new RegExp(`Connecting to 127\\.0\\.0\\.1:${deadPort}…`), from);
    s.type("\x03"); // Ctrl-C
    // The same Ctrl-C passed on as a signal too (`timeout --foreground` does): one Ctrl-C, not "Ctrl-C again to quit".
    process.emit("SIGINT", "SIGINT");
    const after = await s.waitFor(/still connected to .* as \d{3} \d{3}\.\n/i, from);
    assert.match(after, new RegExp(`Switch to 127\\.0\\.0\\.1:${deadPort} cancelled; still connected to .+ as ${id}\\.\n`));
    assert.not.match(after, /Not connected/);
    s.type("status\r");
    assert.match(await s.waitFor(/Your ID: \d{3} \d{3}\n/, from), new RegExp(`Your ID: ${id}\n`));
    s.type("quit\r");
    assert.is(await s.done, 0);
  } finally {
    silent.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** Resolves with the session's exit status, or a string saying it is still running after 5 s. */
async function leftWithin5s(done: Promise<number>): Promise<number | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const still = new Promise<string>((r) => (timer = setTimeout(() => r("still running after 5 s"), 5000)));
  try {
    return await Promise.race([done, still]);
  } finally {
    clearTimeout(timer);
  }
}

/** A server and a terminal session whose Ctrl-C repeat window runs on `clock` (ms), at its prompt; `run` drives it. */
async function atPromptWithClock(clock: { t: number }, run: (s: ReturnType<typeof terminalSession>) => Promise<void>): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "sfx-repl-session-"));
  const server = await serve(tmp);
  try {
    const s = terminalSession(server.port, tmp, () => clock.t);
    await s.waitFor(/Your ID: +\d{3} \d{3}\n[^]*sfx \d{3} \d{3}> $/);
    await run(s);
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

test("Ctrl-C signals in a quick run (160 ms apart, each within 300 ms of the last) still leave: only a counted one starts the repeat window", async () => {
  const clock = { t: 0 };
  await atPromptWithClock(clock, async (s) => {
    // The first arms "Ctrl-C again to leave"; the one 160 ms later is its repeat; the one 320 ms after the first leaves.
    // (A window that slid with every repeat swallowed the whole run, and the session never left.)
    for (let i = 0; i < 3; i++) {
      process.emit("SIGINT", "SIGINT");
      clock.t += 160;
    }
    assert.is(await leftWithin5s(s.done), 0);
  });
});

test("two Ctrl-C presses 200 ms apart that each arrive as a signal and then as a key are two: the session leaves", async () => {
  const clock = { t: 0 };
  await atPromptWithClock(clock, async (s) => {
    const from = s.length();
    process.emit("SIGINT", "SIGINT");
    s.type("\x03");
    await s.waitFor(/\^C \(Ctrl-C again or 'quit' to leave\)/, from);
    clock.t += 200;
    process.emit("SIGINT", "SIGINT");
    s.type("\x03");
    assert.is(await leftWithin5s(s.done), 0);
  });
});

test.run();
