import { test } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { acquirePidFile, isServerAlive, isSfxServeCommand, readPidFile, runningPid } from "../../src/server/pidfile.ts";
import { isSfxError } from "../../src/errors.ts";

const root = mkdtempSync(join(tmpdir(), "sfx-pidfile-test-"));
let n = 0;
const path = () => join(root, `case${n++}`, "sfx.pid");
const children: ChildProcess[] = [];

/** A live process whose command line is `node …/cli.ts serve`, like a running server's (or any other: `node -e … serve`). */
async function fakeServer(like: "sfx" | "other" = "sfx"): Promise<ChildProcess> {
  const body = "setInterval(() => {}, 1000); process.stdout.write('up')";
  let args = ["-e", body, "serve"];
  if (like === "sfx") {
    const dir = mkdtempSync(join(root, "prog-"));
    writeFileSync(join(dir, "cli.ts"), body);
    args = [join(dir, "cli.ts"), "serve", "--port", "0"];
  }
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", () => reject(new Error("fake server exited")));
  });
  return child;
}

/** A pid no process has: one that ran and was reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

test.after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

test("acquirePidFile() creates the directory and writes the pid; release() removes the file", () => {
  const file = path();
  const held = acquirePidFile(file, 4242);
  assert.is(held.path, file);
  assert.is(readFileSync(file, "utf8"), "4242\n");
  assert.is(readPidFile(file), 4242);
  held.release();
  assert.not.ok(existsSync(file));
  held.release(); // idempotent
});

test("acquirePidFile() on a file naming a live server fails with SFX_ALREADY_RUNNING and leaves it alone", async () => {
  const server = await fakeServer();
  const file = path();
  acquirePidFile(file, server.pid!);
  assert.ok(isServerAlive(server.pid!));
  assert.is(runningPid(file), server.pid);
  try {
    acquirePidFile(file);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_ALREADY_RUNNING"), String(err));
    assert.match((err as Error).message, `pid ${server.pid}`);
  }
  assert.is(readPidFile(file), server.pid);
});

test("a pid file whose process is gone is taken over", async () => {
  const file = path();
  const dead = await deadPid();
  acquirePidFile(file, dead);
  assert.not.ok(isServerAlive(dead));
  assert.is(runningPid(file), undefined);
  const held = acquirePidFile(file);
  assert.is(readPidFile(file), process.pid);
  held.release();
});

test("a pid reused by a process that is not an sfx server counts as stale", () => {
  const file = path();
  // This test process lives, but its command line has no `serve`.
  acquirePidFile(file, process.pid);
  assert.not.ok(isServerAlive(process.pid));
  const held = acquirePidFile(file, 777_777);
  assert.is(readPidFile(file), 777_777);
  held.release();
});

test("a file that is not a pid file (a --pid-file naming the user's notes by mistake) is refused and left as it is; an empty one is taken over", () => {
  const file = path();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, "line one of my notes\n");
  assert.throws(() => acquirePidFile(file, 31337), (e: unknown) => e instanceof Error && /holds something other than a process ID \("line one of my notes\\n"\): not sfx's to replace/.test(e.message));
  assert.is(readFileSync(file, "utf8"), "line one of my notes\n");
  writeFileSync(file, "");
  const held = acquirePidFile(file, 31337);
  assert.is(readPidFile(file), 31337);
  held.release();
  assert.equal(readdirSync(dirname(file)).filter((n) => n.endsWith(".tmp")), [], "no temporary file left");
});

test("release() leaves a file that another process has taken over since", () => {
  const file = path();
  const held = acquirePidFile(file, 1111);
  writeFileSync(file, "2222\n");
  held.release();
  assert.is(readPidFile(file), 2222);
});

test("a pid file that cannot be created fails with SFX_IO", () => {
  const dir = join(root, `case${n++}`);
  acquirePidFile(join(dir, "x.pid"), 5).release();
  writeFileSync(join(dir, "afile"), "");
  try {
    acquirePidFile(join(dir, "afile", "sfx.pid"));
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
  }
});

test("only sfx serve counts as a live server: a reused pid running 'jekyll serve' or 'node -e … serve' does not", async () => {
  for (const yes of [["/usr/local/bin/sfx", "serve"], ["sfx", "--verbose", "serve", "--daemon"], ["/opt/sfx-linux-x64", "serve"], ["node", "/src/sfx/cli.ts", "serve"], ["deno", "run", "-A", "--unstable-net", "/x/cli.ts", "serve"]]) {
    assert.ok(isSfxServeCommand(yes), yes.join(" "));
  }
  for (const no of [["jekyll", "serve"], ["python3", "app.py", "serve"], ["ollama", "serve"], ["sfx", "send", "serve"], ["node", "-e", "x", "serve"], []]) {
    assert.not.ok(isSfxServeCommand(no), no.join(" "));
  }
  const other = await fakeServer("other");
  assert.not.ok(isServerAlive(other.pid!));
  const file = path();
  acquirePidFile(file, other.pid!); // a stale file naming it
  assert.is(runningPid(file), undefined);
  other.kill("SIGKILL");
});

test("a directory as the pid file is SFX_IO saying so (nothing is removed)", () => {
  const dir = join(root, "a-dir.pid");
  mkdirSync(dir);
  try {
    acquirePidFile(dir);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
    assert.match((err as Error).message, /is a directory: give a file name/);
  }
  assert.ok(existsSync(dir));
});

test.run();
