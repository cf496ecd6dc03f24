/**
 * `sfx client` with its commands piped in (no terminal), through the
 * built binary: each line runs to its end before the next, offers are
 * refused unless `--yes` (nobody to ask), the end of input leaves with
 * status 0, and the first failing command ends the session with its status.
 * Needs no tmux.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAll, ensureBinary, pattern, type Server, sfx, sha256, startServe, tmp } from "./_exchange.ts";
import { connect } from "../../src/client/connection.ts";

let server: Server;

test.before(async () => {
  await ensureBinary();
  server = await startServe(["--storage", tmp("sfx-store-")]);
});

test.after(cleanupAll);

/** Starts `sfx client` with a pipe for its input. */
function client(args: string[]) {
  const p = sfx(["client", "--server", server.address, ...args], { stdin: true });
  return Object.assign(p, {
    line: (text: string) => p.child.stdin!.write(`${text}\n`),
    end: () => p.child.stdin!.end(),
  });
}

test("piped commands run one after the other: share put, then share get of the printed code, then the end of input leaves", async () => {
  const src = tmp("sfx-src-");
  const data = pattern(300_000, 5);
  writeFileSync(join(src, "data.bin"), data);
  const out = tmp("sfx-out-");
  const c = client(["--dir", out]);
  await c.waitFor(/Your ID:\s+\d{3} \d{3}/, 15_000, "out");
  c.line(`share put ${join(src, "data.bin")} --expires 10m`);
  const m = await c.waitFor(/Share code:\s+(\S+)/, 15_000, "out");
  // The one-shot command it shows works as shown: it names the server.
  await c.waitFor(new RegExp(`or 'sfx share get ${m[1]} --server 127\\.0\\.0\\.1:${server.port}'\\)`), 5_000, "out");
  c.line(`share ls ${m[1]}`);
  c.line(`share get ${m[1]}`);
  c.line("status");
  c.line("bogus");
  c.line("status");
  c.end();
  const r = await c.exit(20_000);
  // The unknown command is the first failure: it ends the session with the usage status, 2.
  assert.is(r.status, 2, c.err());
  const text = c.out();
  assert.match(text, /293 KiB\s+data\.bin\n1 file, 293 KiB; expires \S+ \(in 10m\)/);
  assert.match(text, /Got 1 file .* every hash verified\.\nConnected to e2e/);
  assert.match(text, /No transfer running\.\nunknown command 'bogus' \(type 'help'\)\nStopping: a command failed \(exit status 2\) and input is not a terminal\.\nBye\.\n$/);
  assert.is(sha256(readFileSync(join(out, "data.bin"))), sha256(data));
});

test("without a terminal an offer is refused unless --yes; with --yes it is taken", async () => {
  const src = tmp("sfx-src-");
  writeFileSync(join(src, "a.txt"), "hello");
  const out = tmp("sfx-out-");
  const refusing = client(["--dir", out]);
  const id1 = (await refusing.waitFor(/Your ID:\s+(\d{3} \d{3})/, 15_000, "out"))[1].replace(" ", "");
  const s1 = sfx(["send", "--to", id1, join(src, "a.txt"), "--server", server.address]);
  assert.is((await s1.exit()).status, 5, s1.err());
  assert.match(s1.err(), /no terminal/);
  await refusing.waitFor(/Rejected an offer from \d{3} \d{3}: no terminal to ask on \(start 'sfx client' with --yes/, 5000, "out");
  refusing.end();
  assert.is((await refusing.exit()).status, 0);

  const taking = client(["--dir", out, "--yes"]);
  const id2 = (await taking.waitFor(/Your ID:\s+(\d{3} \d{3})/, 15_000, "out"))[1].replace(" ", "");
  const s2 = sfx(["send", "--to", id2, join(src, "a.txt"), "--server", server.address]);
  assert.is((await s2.exit()).status, 0, s2.err());
  await taking.waitFor(/Received 1 file, 5 B .* every hash verified\./, 10_000, "out");
  assert.is(readFileSync(join(out, "a.txt"), "utf8"), "hello");
  taking.end();
  assert.is((await taking.exit()).status, 0);
});

test("a server nobody answers at: one line, and (piped, as sftp -b) the session ends there with status 4", async () => {
  // A port where nothing listens (the server's own port, after it is gone, would do too): connect times out or is refused.
  const gone = await startServe();
  const address = gone.address;
  gone.proc.child.kill("SIGTERM");
  await gone.proc.exit();
  const p = sfx(["client", "--server", address], { stdin: true });
  p.child.stdin!.end("id\n");
  const r = await p.exit(20_000);
  assert.is(r.status, 4, p.err());
  assert.match(p.out(), /Cannot connect: .*\nStopping: a command failed \(exit status 4\) and input is not a terminal\.\nBye\.\n$/, p.out());
  assert.not.match(p.out(), /Not connected/, "the next command did not run");
});

test("piped: the server going away ends the session with status 4; the commands after it do not run", async () => {
  const own = await startServe();
  const p = sfx(["client", "--server", own.address], { stdin: true });
  await p.waitFor(/Your ID:\s+\d{3} \d{3}/, 15_000, "out");
  own.proc.child.kill("SIGTERM");
  await own.proc.exit();
  await p.waitFor(/Connection lost: The server is shutting down/, 15_000, "out");
  p.child.stdin!.end("id\nstatus\n");
  const r = await p.exit(20_000);
  assert.is(r.status, 4, p.out() + p.err());
  assert.match(p.out(), /Stopping: the connection was lost \(exit status 4\) and input is not a terminal\.\nBye\.\n$/);
  assert.not.match(p.out(), /Not connected|No transfer running/, "the commands after it did not run");
});

test("piped: Ctrl-C cancels the running command and ends the session with status 130", async () => {
  // A receiver that never answers: the send waits for it, as long as the test wants.
  const silent = await connect({ server: { host: "127.0.0.1", port: server.port } });
  try {
    const src = tmp("sfx-src-");
    writeFileSync(join(src, "a.txt"), "a");
    const p = client([]);
    await p.waitFor(/Your ID:\s+\d{3} \d{3}/, 15_000, "out");
    p.line(`send ${silent.id} ${join(src, "a.txt")}`);
    p.line("status");
    p.end();
    await p.waitFor(/waiting for them to accept/, 15_000, "out");
    p.child.kill("SIGINT");
    const r = await p.exit(20_000);
    assert.is(r.status, 130, p.out() + p.err());
    assert.match(p.out(), /send: cancelled\nStopping: send was cancelled \(exit status 130\) and input is not a terminal\.\nBye\.\n$/);
    assert.not.match(p.out(), /Received files go to/, "status did not run");
  } finally {
    await silent.abort("test over");
  }
});

test("piped: a discover that finds no server fails as 'sfx discover' does (exit 3) and ends the session", async () => {
  const p = client([]);
  await p.waitFor(/Your ID:\s+\d{3} \d{3}/, 15_000, "out");
  p.line("discover --to 127.0.0.1 --port 9 --timeout 200ms");
  p.line("status");
  p.end();
  const r = await p.exit(20_000);
  assert.is(r.status, 3, p.out() + p.err());
  assert.match(p.out(), /No sfx server answered within 0\.2 s at 127\.0\.0\.1:9\nStopping: a command failed \(exit status 3\)/);
});

test("piped commands stop at the first that fails, and the exit status is that command's", async () => {
  const p = client([]);
  p.line("send 999999 /nonexistent/file");
  p.line("status");
  p.end();
  const r = await p.exit(20_000);
  assert.is(r.status, 8, p.out() + p.err());
  assert.match(p.out(), /Cannot read \/nonexistent\/file/);
  assert.not.match(p.out(), /No transfer running/, "'status' after the failure did not run");
  // Commands that succeed leave the status at 0.
  const ok = client([]);
  ok.line("status");
  ok.end();
  assert.is((await ok.exit(20_000)).status, 0, ok.out());
});

test("piped: a share put that could not send an entry of its directory shares the rest, then ends the session with status 13", async () => {
  const src = tmp("sfx-src-");
  const d = join(src, "d");
  mkdirSync(d);
  writeFileSync(join(d, "fine.txt"), "fine");
  writeFileSync(join(d, "bell\u0007.txt"), "ding"); // control characters: no receiver could be given this name
  const c = client([]);
  c.line(`share put ${d}`);
  c.line("status");
  c.end();
  const r = await c.exit(20_000);
  assert.is(r.status, 13, c.out() + c.err());
  const text = c.out();
  assert.match(text, /left out d\/bell\\u0007\.txt: its name cannot be sent: it contains control characters\n/);
  assert.match(text, /Share code:\s+\S+/);
  assert.match(text, /share put: 1 entry could not be read or named, so it was not sent \(listed above as 'left out'\); everything else is in the share\nStopping: a command failed \(exit status 13\)/);
  assert.not.match(text, /No transfer running/, "'status' after the failure did not run");

  // send --json says each entry it leaves out as an event, as 'sfx send --json' does.
  const j = client([]);
  j.line(`send 999999 ${d} --json`);
  j.end();
  assert.is((await j.exit(20_000)).status, 5, j.out() + j.err());
  assert.match(j.out(), /\{"event":"leftOut","path":"d\/bell\\u0007\.txt","reason":"its name cannot be sent: it contains control characters","failed":true\}\n/);
});

test("send --verify in a piped session is refused before anything is offered: nobody is there to type the code", async () => {
  const src = tmp("sfx-src-");
  writeFileSync(join(src, "a.txt"), "a");
  const c = client([]);
  await c.waitFor(/Your ID:\s+\d{3} \d{3}/, 15_000, "out");
  c.line(`send 482913 ${join(src, "a.txt")} --verify`);
  c.end();
  const r = await c.exit(20_000);
  assert.is(r.status, 2, c.err());
  assert.match(c.out(), /--verify asks you to type the code the receiver shows: this session reads its commands from a pipe, not a terminal/);
  assert.not.match(c.out(), /Offering/);
});

test.run();
