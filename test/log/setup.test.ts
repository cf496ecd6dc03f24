import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLogger, setupLogging } from "../../src/log/index.ts";
import { isSfxError } from "../../src/errors.ts";

const SRC_LOG = new URL("../../src/log/index.ts", import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), "sfx-log-test-"));
let n = 0;
const fresh = () => {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir);
  return dir;
};

test.after(() => rmSync(root, { recursive: true, force: true }));

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) [\w.]+: .*$/;

test("setupLogging() writes one line per record: ISO time, level, category, message, fields", async () => {
  const dir = fresh();
  const logging = await setupLogging({ dir });
  assert.is(logging.dir, dir);
  assert.is(logging.file, join(dir, "stream_server.log"));
  assert.is(logging.fellBack, false);
  const log = getLogger(["sfx", "test"]);
  log.info("ready on {host}:{port}", { host: "0.0.0.0", port: 6969, name: "my box", err: new Error("two\nlines") });
  log.warning("plain message");
  await logging.close();
  const lines = readFileSync(logging.file, "utf8").split("\n");
  assert.is(lines.pop(), "", "the file ends with a newline");
  assert.is(lines.length, 2);
  for (const line of lines) assert.match(line, LINE);
  assert.match(lines[0], / INFO  sfx\.test: ready on 0\.0\.0\.0:6969 host=0\.0\.0\.0 port=6969 name="my box" err="Error: two\\nlines"$/);
  assert.match(lines[1], / WARN  sfx\.test: plain message$/);
});

test("C1 controls, line separators and bidi overrides from the network are escaped, in the message and in fields", async () => {
  const dir = fresh();
  const logging = await setupLogging({ dir });
  const evil = "bye\u009b2J\u009d0;pwned\u0007\u202etxt.exe\u2028next";
  getLogger(["sfx", "test"]).info(`Client left (${evil})`, { reason: evil });
  await logging.close();
  const text = readFileSync(logging.file, "utf8");
  assert.not.match(text, /[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  assert.is(text.split("\n").length, 2, "one line");
  assert.match(text, /Client left \(bye\\u009b2J\\u009d0;pwned\\x07\\u202etxt\.exe\\u2028next\)/);
  assert.match(text, /reason="bye\\u009b2J\\u009d0;pwned\\u0007\\u202etxt\.exe\\u2028next"/);
});

test("a deleted log file is opened again by name: later lines are not lost", async () => {
  const dir = fresh();
  const logging = await setupLogging({ dir, checkIntervalMs: 50, flushIntervalMs: 20 });
  const log = getLogger(["sfx", "test"]);
  log.info("before");
  await logging.reopen(); // flushes "before"
  rmSync(logging.file);
  const deadline = Date.now() + 5000;
  while (!existsSync(logging.file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(logging.file), "the log file came back");
  // The file appears as its new sink is made, a moment before LogTape switches to it: wait for the switch.
  await logging.reopen();
  log.info("after");
  await logging.close();
  assert.match(readFileSync(logging.file, "utf8"), /INFO  sfx\.test: after\n$/);
});

test("close() while the log file is being opened again waits for it instead of throwing (and leaves LogTape usable)", async () => {
  const dir = fresh();
  const logging = await setupLogging({ dir });
  getLogger(["sfx", "test"]).info("before");
  const reopening = logging.reopen(); // under way, not awaited: as when the checker finds the file deleted
  await logging.close();
  await reopening;
  assert.match(readFileSync(logging.file, "utf8"), /sfx\.test: before\n$/);
  const again = await setupLogging({ dir }); // LogTape was left in a state it can be configured from
  await again.close();
});

test("records below the level are not written; level debug writes them", async () => {
  const dir = fresh();
  let logging = await setupLogging({ dir });
  getLogger(["sfx", "test"]).debug("hidden detail");
  await logging.close();
  assert.not.match(readFileSync(logging.file, "utf8"), "hidden detail");
  logging = await setupLogging({ dir, level: "debug" });
  getLogger(["sfx", "test"]).debug("shown detail");
  await logging.close();
  assert.match(readFileSync(logging.file, "utf8"), / DEBUG sfx\.test: shown detail\n$/);
});

test("close() flushes lines still buffered, and a second close() is harmless", async () => {
  const dir = fresh();
  // An hour between timed flushes: only close() can get the line out.
  const logging = await setupLogging({ dir, flushIntervalMs: 3_600_000 });
  getLogger(["sfx", "test"]).info("buffered line");
  await logging.close();
  await logging.close();
  assert.match(readFileSync(logging.file, "utf8"), "buffered line");
});

test("a log dir under a regular file falls back to $XDG_STATE_HOME/sfx and says so once", async () => {
  const dir = fresh();
  writeFileSync(join(dir, "afile"), "not a directory");
  const state = join(dir, "state");
  const saved = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = state;
  const notices: string[] = [];
  try {
    const logging = await setupLogging({ dir: join(dir, "afile", "logs"), notice: (line) => notices.push(line) });
    assert.is(logging.fellBack, true);
    assert.is(logging.dir, join(state, "sfx"));
    getLogger(["sfx", "test"]).info("after fallback");
    await logging.close();
    assert.match(readFileSync(join(state, "sfx", "stream_server.log"), "utf8"), /INFO  sfx\.test: after fallback\n$/);
    const again = await setupLogging({ dir: join(dir, "afile", "logs"), notice: (line) => notices.push(line) });
    await again.close();
    assert.is(again.fellBack, true);
    assert.equal(notices.length, 1, `one notice, got ${JSON.stringify(notices)}`);
    assert.match(notices[0], `cannot write logs to ${join(dir, "afile", "logs")} (ENOTDIR); logging to ${join(state, "sfx")} instead`);
  } finally {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
  }
});

test("when neither the dir nor the fallback is writable, setupLogging() fails with SFX_IO", async () => {
  const dir = fresh();
  writeFileSync(join(dir, "afile"), "");
  const saved = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = join(dir, "afile", "state");
  try {
    await setupLogging({ dir: join(dir, "afile", "logs"), notice: () => {} });
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
  } finally {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
  }
});

test("a non-root user without write permission on the log dir falls back (EACCES), with one stderr line", () => {
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));
  if (process.getuid?.() !== 0 || !setpriv || "Deno" in globalThis) {
    console.warn("!!! SKIPPED: needs root and setpriv to run as nobody (Node only)");
    return;
  }
  const dir = fresh();
  chmodSync(dir, 0o755);
  chmodSync(root, 0o755);
  const logs = join(dir, "logs");
  mkdirSync(logs, { mode: 0o755 }); // root's, not writable by nobody
  const state = join(dir, "state");
  mkdirSync(state, { mode: 0o755 });
  chownSync(state, 65534, 65534);
  const script = `import { setupLogging, getLogger } from ${JSON.stringify(SRC_LOG)};
    const l = await setupLogging({ dir: ${JSON.stringify(logs)} });
    getLogger(["sfx", "test"]).info("as nobody");
    await l.close();`;
  const r = spawnSync(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "--eval", script], {
    env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", XDG_STATE_HOME: state },
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.is(r.status, 0, r.stderr);
  const stderr = r.stderr.trim().split("\n");
  assert.equal(stderr, [`sfx: cannot write logs to ${logs} (EACCES); logging to ${join(state, "sfx")} instead`]);
  assert.is(existsSync(join(logs, "stream_server.log")), false);
  assert.match(readFileSync(join(state, "sfx", "stream_server.log"), "utf8"), "INFO  sfx.test: as nobody");
});

test("the file rotates by size, keeping maxFiles rotated files, none over maxBytes, newest lines in stream_server.log", async () => {
  const dir = fresh();
  const log = getLogger(["sfx", "test"]);
  // Batches of 5 lines (~600 bytes), each flushed by close(): the chunks the sink writes stay
  // small next to maxBytes whatever the machine's load, so where it rotates is deterministic.
  for (let batch = 0; batch < 60; batch++) {
    const logging = await setupLogging({ dir, maxBytes: 2048, maxFiles: 2 });
    for (let i = batch * 5; i < batch * 5 + 5; i++) log.info("line {i} {pad}", { i, pad: "x".repeat(60) });
    await logging.close();
  }
  const files = readdirSync(dir).sort();
  assert.equal(files, ["stream_server.log", "stream_server.log.1", "stream_server.log.2"]);
  const read = (name: string) => readFileSync(join(dir, name), "utf8").trimEnd().split("\n");
  const numbers = (name: string) => read(name).map((l) => Number(/line (\d+)/.exec(l)![1]));
  for (const name of files) {
    for (const l of read(name)) assert.match(l, LINE);
    assert.ok(statSync(join(dir, name)).size <= 2048, `${name} is ${statSync(join(dir, name)).size} bytes`);
  }
  const live = numbers("stream_server.log");
  assert.is(live.at(-1), 299, "the newest line is in the live file");
  assert.is(numbers("stream_server.log.1").at(-1)! + 1, live[0], ".1 holds the lines just before the live file's");
  assert.is(numbers("stream_server.log.2").at(-1)! + 1, numbers("stream_server.log.1")[0], ".2 the ones before those");
  assert.ok(numbers("stream_server.log.2")[0] > 200, "the oldest lines were rotated away");
});

test.run();
