import { test } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFlags, type SelfCommand, selfCommand, startDaemon, stopDaemon } from "../../src/server/daemon.ts";
import { isSfxError } from "../../src/errors.ts";

const root = mkdtempSync(join(tmpdir(), "sfx-daemon-test-"));
const children: ChildProcess[] = [];
const pids: number[] = [];

test.after(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** A stand-in for sfx: Node running `script` (an ES module), with the daemon's arguments after it. */
function fake(script: string): SelfCommand {
  return { command: process.execPath, prefix: ["--input-type=module", "--eval", script], cwd: root };
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z";
}

async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!gone(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test("selfCommand() under Node relaunches this script with the same node", () => {
  const self = selfCommand();
  assert.is(self.command, process.execPath);
  assert.is(self.prefix.at(-1), process.argv[1]);
  assert.is(self.cwd, "/");
});

test("denoFlags() passes on the permissions Deno granted whole, as -A when all are, and refuses one granted in part", () => {
  const runtime = (granted: string[], listenDatagram?: unknown) => ({
    permissions: { querySync: ({ name }: { name: string }) => ({ state: granted.includes(name) ? "granted" : "prompt" }) },
    listenDatagram,
  });
  const server = ["read", "write", "net", "env", "sys"];
  assert.equal(denoFlags(runtime(server)), server.map((n) => `--allow-${n}`));
  assert.equal(denoFlags(runtime([...server, "run"], () => {})), [...server, "run"].map((n) => `--allow-${n}`).concat("--unstable-net"));
  assert.equal(denoFlags(runtime([...server, "run", "ffi", "import"])), ["-A"]);
  try {
    denoFlags(runtime(["read", "net", "env", "sys"]));
    assert.unreachable("a write permission granted in part (or not at all) is refused");
  } catch (err) {
    assert.ok(isSfxError(err) && err.code === "SFX_IO");
    assert.match((err as Error).message, "--allow-write is not");
  }
});

test("startDaemon() resolves with the daemon's ready report; its output goes to the two log files", async () => {
  const logDir = join(root, "ready");
  const script = `
    console.log("hello from stdout"); console.error("hello from stderr");
    process.send({ type: "sfx-daemon-ready", pid: process.pid, port: 4321, addresses: ["127.0.0.1"] }, () => process.disconnect());
    setTimeout(() => {}, 30_000);`;
  mkdirSync(logDir);
  const started = await startDaemon({ args: ["serve", "--daemon-child"], logDir, self: fake(script) });
  pids.push(started.pid);
  assert.is(started.port, 4321);
  assert.equal(started.addresses, ["127.0.0.1"]);
  assert.is(started.stdoutLog, join(logDir, "stream_server_stdout.log"));
  assert.not.ok(gone(started.pid), "the daemon outlives the report");
  assert.ok(readFileSync(`/proc/${started.pid}/cmdline`, "utf8").split("\0").includes("--daemon-child"));
  const deadline = Date.now() + 5000;
  while (!readFileSync(started.stderrLog, "utf8").includes("hello from stderr") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(readFileSync(started.stdoutLog, "utf8"), "hello from stdout");
  assert.match(readFileSync(started.stderrLog, "utf8"), "hello from stderr");
  // Its own session: not in our process group.
  const stat = readFileSync(`/proc/${started.pid}/stat`, "utf8");
  const sessionId = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
  assert.is(sessionId, started.pid, "the daemon leads its own session");
  process.kill(started.pid, "SIGKILL");
});

test("startDaemon() rejects with the daemon's own error code when it reports a failure", async () => {
  const script = `process.send({ type: "sfx-daemon-failed", code: "SFX_ALREADY_RUNNING", message: "A server already runs with pid 1" }, () => process.exit(10));`;
  try {
    await startDaemon({ args: [], logDir: root, self: fake(script) });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_ALREADY_RUNNING"), String(err));
    assert.is((err as Error).message, "A server already runs with pid 1");
  }
});

test("startDaemon() rejects with SFX_INTERNAL when the daemon exits without a report, naming the stderr log", async () => {
  try {
    await startDaemon({ args: [], logDir: root, self: fake(`process.exit(3)`) });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_INTERNAL"), String(err));
    assert.match((err as Error).message, /exited \(status 3\) before it was ready; see .*stream_server_stderr\.log/);
  }
});

test("startDaemon() gives up on a silent daemon after the timeout (SFX_DAEMON_TIMEOUT) and stops it", async () => {
  const pidFile = join(root, "silent.pid");
  const script = `(await import("node:fs")).writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60_000);`;
  const started = Date.now();
  try {
    await startDaemon({ args: [], logDir: root, readyTimeoutMs: 1000, self: fake(script) });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_DAEMON_TIMEOUT"), String(err));
    assert.match((err as Error).message, "did not report ready within 1 s");
  }
  assert.ok(Date.now() - started < 5000);
  const pid = Number(readFileSync(pidFile, "utf8"));
  pids.push(pid);
  assert.ok(await waitGone(pid), "the silent daemon was terminated");
});

/** A process that looks like a server (`node …/cli.ts serve`), optionally deaf to SIGTERM. */
async function fakeServer(ignoreTerm: boolean): Promise<ChildProcess> {
  const code = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ""} setInterval(() => {}, 1000); process.stdout.write("up");`;
  const dir = mkdtempSync(join(root, "prog-"));
  writeFileSync(join(dir, "cli.ts"), code);
  const child = spawn(process.execPath, [join(dir, "cli.ts"), "serve"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  return child;
}

test("stopDaemon() sends SIGTERM, waits until the process is gone, and clears its pid file", async () => {
  const server = await fakeServer(false);
  const pidFile = join(root, "stop.pid");
  writeFileSync(pidFile, `${server.pid}\n`);
  const exited = new Promise<NodeJS.Signals | null>((r) => server.once("exit", (_code, signal) => r(signal)));
  assert.is(await stopDaemon(pidFile, 5000), server.pid);
  assert.is(await exited, "SIGTERM");
  assert.not.ok(existsSync(pidFile));
});

test("stopDaemon() on a process that ignores SIGTERM gives up after the timeout with SFX_DAEMON_TIMEOUT", async () => {
  const server = await fakeServer(true);
  const pidFile = join(root, "deaf.pid");
  writeFileSync(pidFile, `${server.pid}\n`);
  const started = Date.now();
  try {
    await stopDaemon(pidFile, 500);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_DAEMON_TIMEOUT"), String(err));
    assert.match((err as Error).message, `pid ${server.pid} still runs`);
  }
  assert.ok(Date.now() - started >= 500 && Date.now() - started < 3000);
  assert.ok(existsSync(pidFile), "the pid file of a live server stays");
  server.kill("SIGKILL");
});

test("stopDaemon() with no live server fails with SFX_NOT_RUNNING and removes a stale file", async () => {
  try {
    await stopDaemon(join(root, "missing.pid"));
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_NOT_RUNNING"), String(err));
  }
  const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => dead.once("exit", r));
  const stale = join(root, "stale.pid");
  writeFileSync(stale, `${dead.pid}\n`);
  try {
    await stopDaemon(stale);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_NOT_RUNNING"), String(err));
    assert.match((err as Error).message, `names pid ${dead.pid}, which is gone`);
  }
  assert.not.ok(existsSync(stale));
  // Garbage, and a live process that is not sfx serve (left alone, file kept): each said as it is.
  const garbage = join(root, "garbage.pid");
  writeFileSync(garbage, "garbage\n");
  const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000); process.stdout.write('up')", "serve"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(other);
  await new Promise<void>((resolve) => other.stdout!.once("data", () => resolve()));
  const foreign = join(root, "foreign.pid");
  writeFileSync(foreign, `${other.pid}\n`);
  for (const [file, why] of [[garbage, /holds no process ID \("garbage"\)/], [foreign, new RegExp(`names pid ${other.pid}, which is not sfx serve`)]] as const) {
    try {
      await stopDaemon(file);
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_NOT_RUNNING"), String(err));
      assert.match((err as Error).message, why);
    }
  }
  assert.is(other.exitCode, null, "the other program was not signalled");
  assert.ok(existsSync(foreign));
});

test.run();
