import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bareEnv, ensureBinary, LOG_LINE, processAlive, runSfx, SFX, startSfx, tempDir } from "./_sfx.ts";

test.before(ensureBinary);

const readLines = (file: string) => readFileSync(file, "utf8").trimEnd().split("\n");

/** Waits (bounded) for a process that is not our child to be gone. */
async function gone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** The log ends with a graceful stop: "stopping: <signal>", then the parts' own lines, then "sfx stopped" last. */
function assertStoppedBy(lines: string[], signal: string): void {
  const stopping = lines.findIndex((l) => l.includes(` INFO  sfx.server: sfx stopping: ${signal}`));
  assert.ok(stopping > 0, `no 'stopping: ${signal}' line in:\n${lines.join("\n")}`);
  assert.ok(lines.length - stopping <= 10, "stopping comes near the end");
  assert.match(lines.at(-1)!, / INFO  sfx\.server: sfx stopped$/);
}

test("serve --daemon starts a detached server, a second start is refused (10), --stop ends it and leaves nothing", async () => {
  const tmp = tempDir();
  const env = bareEnv(tmp.path);
  const pidFile = join(tmp.path, "run", "sfx.pid");
  const common = ["--log-dir", tmp.path, "--pid-file", pidFile];
  let pid = 0;
  try {
    const r = await runSfx(["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", "--name", "daemon-test", ...common, "--storage", join(tmp.path, "shares")], { env });
    assert.is(r.status, 0, r.stderr);
    const m = /pid (\d+), port (\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    pid = Number(m![1]);
    const port = Number(m![2]);
    assert.ok(port > 0);
    assert.ok(r.stdout.includes(join(tmp.path, "stream_server.log")), "says where the logs are");
    assert.is(readFileSync(pidFile, "utf8"), `${pid}\n`);
    assert.ok(processAlive(pid), "the daemon runs after the launcher returned");
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("serve"));
    assert.ok(existsSync(join(tmp.path, "shares")), "the daemon got --storage and opened its share store there");

    // It really serves: discovery answers on the port it reported.
    const found = await runSfx(["discover", "--to", `127.0.0.1:${port}`, "--json", "--timeout", "3s"], { env });
    assert.is(found.status, 0, found.stderr);
    assert.is(JSON.parse(found.stdout.trim().split("\n")[0]).name, "daemon-test");

    const second = await runSfx(["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", ...common, "--storage", join(tmp.path, "shares")], { env });
    assert.is(second.status, 10, second.stderr);
    assert.match(second.stderr, new RegExp(`^sfx: A server already runs with pid ${pid} \\(pid file ${pidFile}\\)\\n$`));
    assert.is(readFileSync(pidFile, "utf8"), `${pid}\n`, "the refused start left the pid file alone");

    // --status, for a monitor or a script: 0 and the pid while it runs, 11 after; and what it is doing.
    const running = await runSfx(["serve", "--status", "--pid-file", pidFile], { env });
    assert.is(running.status, 0, running.stderr);
    const [first, ...figures] = running.stdout.trimEnd().split("\n");
    assert.is(first, `sfx serve runs, pid ${pid} (pid file ${pidFile})`);
    assert.match(figures[0], new RegExp(`^  sfx \\S+ on 127\\.0\\.0\\.1:${port} as daemon-test, up \\d+ s$`));
    assert.is(figures[1], "  clients:   0 connected");
    assert.is(figures[2], "  exchanges: 0 under way; since the start 0 done, 0 refused, 0 cancelled, 0 failed; 0 B relayed");
    assert.match(figures[3], /^  shares:    0, 0 B of the \S+ \S+ quota; 0 upload\(s\) or download\(s\) under way$/);
    assert.match(figures[4], /^  \(figures from \d+ s ago\)$/);
    // A share put: the figures say so within a write or two (every 5 s), as JSON too.
    writeFileSync(join(tmp.path, "shared.txt"), "x".repeat(5000));
    const put = await runSfx(["share", "put", join(tmp.path, "shared.txt"), "--server", `127.0.0.1:${port}`], { env });
    assert.is(put.status, 0, put.stderr);
    let json: { running: boolean; pid: number; status: { clients: number; shares: { count: number; usedBytes: number }; updatedAt: string } | null } | undefined;
    for (const until = Date.now() + 15_000; Date.now() < until;) {
      const r = await runSfx(["serve", "--status", "--json", "--pid-file", pidFile], { env });
      assert.is(r.status, 0, r.stderr);
      json = JSON.parse(r.stdout);
      if (json!.status?.shares.count === 1) break;
      await new Promise((r) => setTimeout(r, 250)); // the server writes its figures every 5 s: polled, bounded
    }
    assert.is(json!.running, true);
    assert.is(json!.pid, pid);
    assert.is(json!.status?.shares.count, 1, JSON.stringify(json));
    assert.ok(json!.status!.shares.usedBytes >= 5000, JSON.stringify(json));
    const statusFile = join(tmp.path, "run", "sfx.status.json");
    assert.ok(existsSync(statusFile), "the figures are beside the pid file");

    const stop = await runSfx(["serve", "--stop", "--pid-file", pidFile], { env });
    assert.is(stop.status, 0, stop.stderr);
    assert.is(stop.stdout, `sfx serve (pid ${pid}) stopped\n`);
    assert.ok(await gone(pid), "no process left after --stop returned");
    assert.not.ok(existsSync(pidFile), "no pid file left");
    assert.not.ok(existsSync(statusFile), "no status file left");

    const lines = readLines(join(tmp.path, "stream_server.log"));
    for (const line of lines) assert.match(line, LOG_LINE);
    assert.ok(lines.some((l) => / INFO  sfx\.server: sfx \S+ ready on 127\.0\.0\.1:\d+ as daemon-test .*pid=\d+/.test(l)), lines.join("\n"));
    assertStoppedBy(lines, "SIGTERM");
    assert.match(readFileSync(join(tmp.path, "stream_server_stdout.log"), "utf8"), new RegExp(`daemon ready, pid ${pid}, port ${port}`));
    assert.ok(existsSync(join(tmp.path, "stream_server_stderr.log")));

    const again = await runSfx(["serve", "--stop", "--pid-file", pidFile], { env });
    assert.is(again.status, 11, again.stderr);
    assert.match(again.stderr, /^sfx: No sfx server is running/);
    const stopped = await runSfx(["serve", "--status", "--pid-file", pidFile], { env });
    assert.is(stopped.status, 11, stopped.stderr);
    assert.is(stopped.stderr, `sfx: No sfx server is running (pid file ${pidFile} not found)\n`);
    const stoppedJson = await runSfx(["serve", "--status", "--json", "--pid-file", pidFile], { env });
    assert.is(stoppedJson.status, 11, stoppedJson.stderr);
    assert.equal(JSON.parse(stoppedJson.stdout), { running: false, pidFile, message: `No sfx server is running (pid file ${pidFile} not found)` });
  } finally {
    if (pid && processAlive(pid)) process.kill(pid, "SIGKILL");
    tmp.remove();
  }
});

test("serve --daemon takes over a stale pid file whose process is gone", async () => {
  const tmp = tempDir();
  const env = bareEnv(tmp.path);
  const pidFile = join(tmp.path, "sfx.pid");
  let pid = 0;
  try {
    // A pid that surely is not running: a process that ran and has been reaped.
    const done = startSfx(["--version"], { env });
    const deadPid = done.child.pid!;
    await done.exited();
    writeFileSync(pidFile, `${deadPid}\n`);
    const r = await runSfx(["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--pid-file", pidFile, "--storage", join(tmp.path, "shares")], { env });
    assert.is(r.status, 0, r.stderr);
    pid = Number(/pid (\d+)/.exec(r.stdout)![1]);
    assert.is(readFileSync(pidFile, "utf8"), `${pid}\n`);
    const stop = await runSfx(["serve", "--stop", "--pid-file", pidFile], { env });
    assert.is(stop.status, 0, stop.stderr);
    assert.ok(await gone(pid));
    // The admin reads that the run before did not stop cleanly.
    const lines = readLines(join(tmp.path, "stream_server.log"));
    assert.ok(lines.some((l) => l.includes(` WARN  sfx.server: Took over the pid file ${pidFile}: it names pid ${deadPid}, which is gone (the run before did not stop cleanly)`)), lines.join("\n"));
  } finally {
    if (pid && processAlive(pid)) process.kill(pid, "SIGKILL");
    tmp.remove();
  }
});

test("a daemon that cannot start reports its error and status (port in use: SFX_IO, 8), leaving no pid file", async () => {
  const tmp = tempDir();
  const env = bareEnv(tmp.path);
  const pidFile = join(tmp.path, "sfx.pid");
  const blocker = createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      blocker.once("error", reject);
      blocker.bind(0, "127.0.0.1", () => resolve());
    });
    const port = blocker.address().port;
    const r = await runSfx(["serve", "--daemon", "--port", String(port), "--host", "127.0.0.1", "--log-dir", tmp.path, "--pid-file", pidFile, "--storage", join(tmp.path, "shares")], { env });
    assert.is(r.status, 8, `status ${r.status}: ${r.stderr}`);
    assert.is(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^sfx: Cannot listen on UDP 127\\.0\\.0\\.1:${port}: the port is in use \\(another sfx serve\\?\\)\\n$`));
    assert.not.ok(existsSync(pidFile));
    assert.match(readFileSync(join(tmp.path, "stream_server.log"), "utf8"), / ERROR sfx\.server: sfx \S+ failed to start: /);
  } finally {
    blocker.close();
    tmp.remove();
  }
});

test("serve --stop with no pid file fails with SFX_NOT_RUNNING (11)", async () => {
  const tmp = tempDir();
  try {
    const r = await runSfx(["serve", "--stop", "--pid-file", join(tmp.path, "none.pid")], { env: bareEnv(tmp.path) });
    assert.is(r.status, 11, r.stderr);
    assert.is(r.stderr.split("\n").length, 2, "one line");
  } finally {
    tmp.remove();
  }
});

for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) {
  test(`serve in the foreground logs to stderr and the file; SIGUSR1 and SIGUSR2 change nothing (no debugger); ${signal} → exit 0, log flushed, pid file removed`, async () => {
    const tmp = tempDir();
    const pidFile = join(tmp.path, "fg.pid");
    const server = startSfx(["serve", "--port", "0", "--host", "127.0.0.1", "--name", "fg-test", "--log-dir", tmp.path, "--pid-file", pidFile, "--storage", join(tmp.path, "shares")], {
      env: bareEnv(tmp.path),
    });
    try {
      const ready = await server.waitForStderr(/ ready on 127\.0\.0\.1:(\d+) as fg-test/);
      assert.ok(Number(ready[1]) > 0);
      assert.is(readFileSync(pidFile, "utf8"), `${server.child.pid}\n`);
      // By default SIGUSR1 opens Node's debugger on a local port and SIGUSR2 kills the process.
      process.kill(server.child.pid!, "SIGUSR1");
      process.kill(server.child.pid!, "SIGUSR2");
      await server.waitForStderr(/ WARN  Ignored SIGUSR2/);
      assert.not.match(server.stderr(), /Debugger/);
      process.kill(server.child.pid!, signal); // not child.kill(): Deno then reports the signal instead of the exit status
      const end = await server.exited();
      assert.equal(end, { status: 0, signal: null }, server.stderr());
      assert.not.ok(existsSync(pidFile), "pid file removed");
      const lines = readLines(join(tmp.path, "stream_server.log"));
      assertStoppedBy(lines, signal);
      assert.match(server.stderr(), / INFO  sfx stopped\n$/, "the terminal copy ends the same way");
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
      tmp.remove();
    }
  });
}

test("the binary installed under another name (a packager's sfxd) still knows its own daemon: --status, a second start refused, --stop", async () => {
  const tmp = tempDir();
  const env = bareEnv(tmp.path);
  // A copy: through a link the daemon is started as the file linked to, and sfx by name.
  const sfxd = join(tmp.path, "sfxd");
  copyFileSync(SFX, sfxd);
  const pidFile = join(tmp.path, "sfx.pid");
  const common = ["--log-dir", tmp.path, "--pid-file", pidFile, "--storage", join(tmp.path, "shares")];
  let pid = 0;
  try {
    const r = await runSfx(["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", ...common], { env, program: sfxd });
    assert.is(r.status, 0, r.stderr);
    pid = Number(/pid (\d+)/.exec(r.stdout)![1]);
    const status = await runSfx(["serve", "--status", "--pid-file", pidFile], { env, program: sfxd });
    assert.is(status.stdout.split("\n")[0], `sfx serve runs, pid ${pid} (pid file ${pidFile})`, status.stderr);
    assert.match(status.stdout, /\n  clients: {3}0 connected\n/, "and its figures");
    const second = await runSfx(["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", ...common], { env, program: sfxd });
    assert.is(second.status, 10, second.stderr);
    const stop = await runSfx(["serve", "--stop", "--pid-file", pidFile], { env, program: sfxd });
    assert.is(stop.status, 0, stop.stderr);
    assert.ok(await gone(pid), "stopped");
  } finally {
    if (pid && processAlive(pid)) process.kill(pid, "SIGKILL");
    tmp.remove();
  }
});

test("a second stop signal while the server waits on a client exits at once (1), and the log says why, to its last line", async () => {
  const tmp = tempDir();
  const pidFile = join(tmp.path, "sfx.pid");
  const server = startSfx(["serve", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares"), "--pid-file", pidFile], { env: bareEnv(tmp.path) });
  let client: ReturnType<typeof startSfx> | undefined;
  try {
    const port = (await server.waitForStderr(/ ready on 127\.0\.0\.1:(\d+)/))[1];
    client = startSfx(["receive", "--server", `127.0.0.1:${port}`, "--dir", join(tmp.path, "in")], { env: bareEnv(tmp.path) });
    await client.waitForStderr(/Waiting for files/);
    // A stopped client answers nothing: the shutdown waits on it (1 s) before it lets go.
    process.kill(client.child.pid!, "SIGSTOP");
    process.kill(server.child.pid!, "SIGTERM");
    await server.waitForStderr(/sfx stopping: SIGTERM/);
    process.kill(server.child.pid!, "SIGINT");
    assert.equal(await server.exited(), { status: 1, signal: null });
    assert.not.ok(existsSync(pidFile), "no pid file left");
    assert.not.ok(existsSync(join(tmp.path, "sfx.status.json")), "no status file left (it said 'stopping' for a server gone)");
    const lines = readLines(join(tmp.path, "stream_server.log"));
    assert.match(lines.at(-1)!, / WARN  sfx\.server: SIGINT while stopping: exiting now, without waiting for the shutdown to finish signal=SIGINT$/, lines.slice(-5).join("\n"));
  } finally {
    if (client) {
      client.child.kill("SIGKILL");
      process.kill(client.child.pid!, "SIGCONT");
      await client.exited();
    }
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    tmp.remove();
  }
});

test("serve on a port below 1024 without root says what it needs (exit 8), not a bare EACCES", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to run the server as another user");
  if (Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8")) <= 80) return console.warn("SKIP: port 80 is open to every user here");
  const tmp = tempDir();
  try {
    spawnSync("chown", ["65534:65534", tmp.path]);
    const r = spawnSync("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", SFX, "serve", "--port", "80", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares")], {
      env: bareEnv(tmp.path),
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.is(r.status, 8, r.stderr);
    assert.match(r.stderr, /\nsfx: Cannot listen on UDP 127\.0\.0\.1:80: a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability \(or use the default 6969\)\n$/);
  } finally {
    tmp.remove();
  }
});

test("serve --quiet in the foreground keeps stderr empty and still logs to the file", async () => {
  const tmp = tempDir();
  const server = startSfx(["serve", "--quiet", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares")], { env: bareEnv(tmp.path) });
  try {
    const log = join(tmp.path, "stream_server.log");
    // No stderr to wait on: the log file's ready line is the signal (bounded).
    await waitForLogLine(log, " ready on ");
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
    assert.is(server.stderr(), "");
    assert.match(readFileSync(log, "utf8"), /sfx stopped\n$/);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    tmp.remove();
  }
});

test("serve in the foreground at --log-level warning still says on stderr that it is ready, and that only such lines follow", async () => {
  const tmp = tempDir();
  const server = startSfx(["serve", "--log-level", "warning", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares")], { env: bareEnv(tmp.path) });
  try {
    await server.waitForStderr(/^sfx \S+ ready on 127\.0\.0\.1:\d+ as \S+ \(log level warning: only such lines follow\)$/m);
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
    assert.not.match(readFileSync(join(tmp.path, "stream_server.log"), "utf8"), / INFO /, "the log keeps its level");
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    tmp.remove();
  }
});

/**
 * A foreground `sfx serve` on a free loopback port, logging to `logDir(tmp)`,
 * for `fn` once it said it is ready; killed afterwards if still running.
 */
async function withServe(logDir: (tmp: string) => string, fn: (server: ReturnType<typeof startSfx>, tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const args = ["serve", "--port", "0", "--host", "127.0.0.1", "--log-dir", logDir(tmp.path), "--storage", join(tmp.path, "shares")];
  const server = startSfx(args, { env: bareEnv(tmp.path) });
  try {
    await server.waitForStderr(/ ready on /);
    await fn(server, tmp.path);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    tmp.remove();
  }
}

/** Polls (bounded) until the log file holds `text`: lines reach it within half a second. */
async function waitForLogLine(log: string, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(existsSync(log) && readFileSync(log, "utf8").includes(text))) {
    assert.ok(Date.now() < deadline, `no '${text}' line in the log within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("an unwritable --log-dir falls back to $XDG_STATE_HOME/sfx with one stderr line", async () => {
  let bad = "";
  await withServe((tmp) => {
    writeFileSync(join(tmp, "afile"), "");
    return (bad = join(tmp, "afile", "logs"));
  }, async (server, tmp) => {
    const fallback = join(tmp, "state", "sfx");
    const notices = server.stderr().split("\n").filter((l) => l.startsWith("sfx: "));
    assert.equal(notices, [`sfx: cannot write logs to ${bad} (ENOTDIR); logging to ${fallback} instead`]);
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
    assert.match(readFileSync(join(fallback, "stream_server.log"), "utf8"), /sfx stopped\n$/);
  });
});

// Node's own recursive mkdir never returns here (/proc refuses children with
// ENOENT although it exists): the server must fall back, not hang at 100 % CPU.
test("a --log-dir under /proc falls back too, within the usual start-up time", async () => {
  if (!existsSync("/proc/self")) return;
  const bad = "/proc/sfx-no-such-dir/logs";
  await withServe(() => bad, async (server, tmp) => {
    const notices = server.stderr().split("\n").filter((l) => l.startsWith("sfx: "));
    assert.equal(notices, [`sfx: cannot write logs to ${bad} (ENOENT); logging to ${join(tmp, "state", "sfx")} instead`]);
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
  });
});

// `sfx serve 2>&1 | head -1`: once the reader is gone every console write fails
// (EPIPE). That used to be an uncaught error, logged to stderr, failing again:
// a loop at 100 % CPU that grew by hundreds of MiB a second and never stopped.
test("a server whose console pipe is closed goes on quietly and stops cleanly on SIGTERM", async () => {
  await withServe((tmp) => tmp, async (server, tmp) => {
    const log = join(tmp, "stream_server.log");
    server.child.stderr!.destroy();
    server.child.stdout!.destroy();
    process.kill(server.child.pid!, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      server.exited(),
      new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 15_000))),
    ]);
    clearTimeout(timer);
    assert.equal(ended, { status: 0, signal: null });
    assert.match(readFileSync(log, "utf8"), /sfx stopped\n$/);
    assert.not.match(readFileSync(log, "utf8"), /FATAL/);
  });
});

test("a server whose console is on a full disk (stderr to /dev/full: ENOSPC) goes on, logs to its file and stops cleanly on SIGTERM", async () => {
  const tmp = tempDir();
  const log = join(tmp.path, "stream_server.log");
  // The shell only redirects, then becomes sfx (exec): signals reach sfx itself.
  // -v first: the command is found after the global options.
  const args = ["-v", "serve", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares")];
  const child = spawn("/bin/sh", ["-c", 'exec "$0" "$@" >/dev/full 2>/dev/full', SFX, ...args], { env: bareEnv(tmp.path), stdio: "ignore" });
  const exited = new Promise<{ status: number | null; signal: string | null }>((r) => child.on("close", (status, signal) => r({ status, signal })));
  try {
    await waitForLogLine(log, " ready on ");
    // A client's connection makes more lines for the console.
    const port = Number(/ ready on 127\.0\.0\.1:(\d+)/.exec(readFileSync(log, "utf8"))![1]);
    writeFileSync(join(tmp.path, "f.txt"), "x");
    const send = await runSfx(["send", "--server", `127.0.0.1:${port}`, "--to", "1234", join(tmp.path, "f.txt")], { env: bareEnv(tmp.path) });
    assert.match(send.stderr, /1234/);
    assert.is(child.exitCode, null, `the server ended:\n${readFileSync(log, "utf8")}`);
    process.kill(child.pid!, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([exited, new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 15_000)))]);
    clearTimeout(timer);
    assert.equal(ended, { status: 0, signal: null });
    assert.not.match(readFileSync(log, "utf8"), /FATAL/);
    assert.match(readFileSync(log, "utf8"), /sfx stopped\n$/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    tmp.remove();
  }
});

test("SIGHUP reopens the log file (logrotate moved it) and does not stop the server", async () => {
  await withServe((tmp) => tmp, async (server, tmp) => {
    const log = join(tmp, "stream_server.log");
    // The ready line in the file first, then rotate as logrotate does.
    await waitForLogLine(log, " ready on ");
    renameSync(log, `${log}.1`);
    process.kill(server.child.pid!, "SIGHUP");
    await server.waitForStderr(/Log file reopened \(SIGHUP\)/);
    assert.is(server.child.exitCode, null, "still running");
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
    const fresh = readFileSync(log, "utf8");
    assert.match(fresh, /Log file reopened \(SIGHUP\)\n[\s\S]*sfx stopped\n$/);
    assert.not.match(readFileSync(`${log}.1`, "utf8"), /sfx stopped/, "nothing more went to the moved file");
  });
});

test("SIGHUP when the log file cannot be opened again says so, in the file still open and on stderr, and the server goes on", async () => {
  await withServe((tmp) => tmp, async (server, tmp) => {
    const log = join(tmp, "stream_server.log");
    await waitForLogLine(log, " ready on ");
    renameSync(log, `${log}.1`);
    mkdirSync(log); // what is now at the log's name cannot be opened as a file
    process.kill(server.child.pid!, "SIGHUP");
    await server.waitForStderr(/Cannot reopen the log file .*stream_server\.log: .*EISDIR.*; still writing to the file open before/);
    await waitForLogLine(`${log}.1`, "Cannot reopen the log file");
    assert.is(server.child.exitCode, null, "still running");
    process.kill(server.child.pid!, "SIGTERM");
    assert.equal(await server.exited(), { status: 0, signal: null });
  });
});

test("settings that would refuse every client or share, or an address not of this machine, are refused at start with exit 2", async () => {
  const tmp = tempDir();
  try {
    const base = ["serve", "--port", "0", "--host", "127.0.0.1", "--log-dir", tmp.path, "--storage", join(tmp.path, "shares")];
    for (const [extra, why] of [
      [["--max-clients", "0"], /Invalid number '0': it must be at least 1/],
      [["--idle-timeout", "0"], /Invalid duration '0': it must be more than zero/],
      [["--offer-timeout", "0s"], /Invalid duration '0s'/],
      [["--max-share-bytes", "0"], /at least 1/],
      [["--default-expiry", "2h", "--max-expiry", "1h"], /--default-expiry \(2h\) is longer than --max-expiry \(1h\)/],
      [["--name", "x".repeat(65)], /Invalid --name: 65 bytes, discovery carries at most 64/],
      [["--name", "ev\u001b[31mRED"], /Invalid --name .*: use printable characters/],
      [["--name", "lab\u202e1.0.01"], /Invalid --name .*: use printable characters/],
      [["--name", "lab\u200f"], /Invalid --name .*: use printable characters/],
      [["--name", "lab  10.0.0.1:6969"], /Invalid --name .*: no spaces around it, nor two in a row/],
      // TEST-NET-1: an address no machine here has (nothing is sent; the bind fails).
      [["--host", "192.0.2.1"], /Cannot listen on UDP 192\.0\.2\.1:0: --host is not an address of this machine/],
    ] as const) {
      const r = await runSfx([...base, ...extra], { env: bareEnv(tmp.path) });
      assert.is(r.status, 2, `${extra.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
  } finally {
    tmp.remove();
  }
});

test.run();
