/**
 * sfx from source under Deno with permissions narrower than `-A`: a missing
 * `--allow-sys` is one clear line (Deno's node:fs had crashed with a stack
 * trace), and `serve --daemon` hands its daemon the launcher's permissions,
 * never more. Runs under Node and spawns the pinned Deno.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isServerAlive } from "../../src/server/pidfile.ts";
import { type Ended, runToEnd } from "../_spawn.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const DENO = join(ROOT, "node_modules/.bin/deno");
const tmp = mkdtempSync(join(tmpdir(), "sfx-deno-perm-"));
const daemons: number[] = [];

test.after(() => {
  for (const pid of daemons) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** A daemon the test did not want (the code under test failed) is still stopped at the end. */
function reap(dir: string): void {
  if (existsSync(join(dir, "pid"))) daemons.push(Number(readFileSync(join(dir, "pid"), "utf8")));
}

/** `deno run <flags> cli.ts …args`, in the repository, to completion. */
function deno(flags: string[], args: string[]): Promise<Ended> {
  return runToEnd(DENO, ["run", ...flags, "cli.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    timeoutMs: 30_000,
  });
}

const WHOLE = ["--allow-read", "--allow-write", "--allow-env", "--allow-net", "--allow-sys"];

function daemonArgs(dir: string): string[] {
  return ["serve", "--daemon", "--port", "0", "--host", "127.0.0.1", "--log-dir", dir, "--pid-file", join(dir, "pid"), "--storage", join(dir, "shares")];
}

test("without --allow-sys a command says which flag Deno wants (SFX_IO, 8), not a stack trace", async () => {
  const r = await deno(["--allow-read", "--allow-write", "--allow-env", "--allow-net", "--unstable-net"], ["receive", "--server", "127.0.0.1:9"]);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, /^sfx: Deno did not grant system access to hostname, uid, gid, networkInterfaces: run sfx with --allow-sys/);
  assert.not.match(r.stderr, "Uncaught");
  // --version and --help ask for nothing.
  const v = await deno([], ["--version"]);
  assert.is(v.code, 0, v.stderr);
});

test("with --allow-env narrowed to some variables, sfx send does not stop at SFX_TO (its --to default), which it then does not consult", async () => {
  const flags = ["--allow-read", "--allow-write", "--allow-env=HOME,XDG_STATE_HOME,NO_COLOR", "--allow-sys", "--allow-net", "--unstable-net"];
  const r = await deno(flags, ["send", "--to", "482913", "/nonexistent/sfx-file", "--server", "127.0.0.1:9"]);
  assert.not.match(r.stderr, /Requires env access|Uncaught/, r.stderr);
  assert.match(r.stderr, /nonexistent\/sfx-file/, r.stderr);
  // Without --to it is a send by its own code: it goes on to read the file, not stopped by Deno either.
  const none = await deno(flags, ["send", "/nonexistent/sfx-file", "--server", "127.0.0.1:9"]);
  assert.not.match(none.stderr, /Requires env access|Uncaught/, none.stderr);
  assert.match(none.stderr, /nonexistent\/sfx-file/, none.stderr);
});

test("with --allow-net narrowed to the server's host, a client says what Deno refused (SFX_IO, 8), not an internal error", async () => {
  // Only the server's address is allowed; the client's own socket (0.0.0.0:0) is not.
  const flags = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net=127.0.0.1", "--unstable-net"];
  const r = await deno(flags, ["share", "ls", "7KQ2-M9XD-4T1F-HB6R-W3NP", "--server", "127.0.0.1:9"]);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, /^sfx: Deno did not grant network access: .*0\.0\.0\.0:0.*--allow-net/);
});

test("without --allow-run, a lock's process is taken as alive (Deno refuses the signal that would tell): a live writer's part is never taken from it", async () => {
  const script = `import { processAlive } from ${JSON.stringify(new URL("../../src/process_alive.ts", import.meta.url).href)};
console.log(JSON.stringify([processAlive(Deno.pid), processAlive(4194000)]));`;
  const file = join(tmp, "alive.ts");
  writeFileSync(file, script);
  const run = (flags: string[]) => spawnSync(DENO, ["run", "--no-prompt", ...flags, file], { encoding: "utf8", env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
  const narrow = run([`--allow-read=${ROOT},${tmp}`]);
  assert.is(narrow.stdout.trim(), "[true,true]", narrow.stderr);

  const whole = run(["--allow-read", "--allow-run"]);
  assert.is(whole.stdout.trim(), "[true,false]", whole.stderr);
});

test("--allow-net that does not list the server's address, or discovery's group: refused at once naming the address to allow (not a 10 s 'no answer', not 'UNKNOWN')", async () => {
  const flags = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net=0.0.0.0", "--unstable-net"];
  const t0 = Date.now();
  const r = await deno(flags, ["share", "ls", "7KQ2-M9XD-4T1F-HB6R-W3NP", "--server", "127.0.0.1:9"]);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, /^sfx: Deno did not grant network access to 127\.0\.0\.1:9: allow it with --allow-net/);
  // A name: Deno checks what it resolves to.
  const named = await deno(["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net=0.0.0.0,localhost", "--unstable-net"], ["share", "ls", "7KQ2-M9XD-4T1F-HB6R-W3NP", "--server", "localhost:9"]);
  assert.is(named.code, 8, named.stderr);
  assert.match(named.stderr, /^sfx: Deno did not grant network access to .*:9 \(what localhost resolves to: Deno checks the address as well as the name\)/);
  // The address alone: the name cannot be looked up.
  const unnamed = await deno(["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net=0.0.0.0,127.0.0.1:9", "--unstable-net"], ["share", "ls", "7KQ2-M9XD-4T1F-HB6R-W3NP", "--server", "localhost:9"]);
  assert.is(unnamed.code, 8, unnamed.stderr);
  assert.match(unnamed.stderr, /^sfx: Deno did not grant network access to localhost, which sfx must look up: allow the name without a port \(--allow-net=localhost\) and the address it resolves to/);
  const discover = await deno(flags, ["discover", "--timeout", "1"]);
  assert.is(discover.code, 8, discover.stderr);
  assert.match(discover.stderr, /^sfx: Deno did not grant network access to 239\.255\.69\.69:6969, where discovery asks: allow it with --allow-net \(or -A\); commands that take --server can be given one instead/);
  assert.ok(Date.now() - t0 < 25_000, "no timeouts waited for");
});

test("a receiver whose --allow-write does not cover its folder says so before it connects, not after accepting an offer", async () => {
  const dir = mkdtempSync(join(tmp, "in-"));
  const r = await deno(["--allow-read", `--allow-write=${join(tmp, "elsewhere")}`, "--allow-env", "--allow-sys", "--allow-net", "--unstable-net", "--no-prompt"], ["receive", "--dir", dir, "--server", "127.0.0.1:9"]);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, new RegExp(`^sfx: Deno did not grant read and write access to ${dir}: give it with --allow-read and --allow-write`));
});

test("without --allow-run: no prompt to signal a lock's process; a part whose lock names a dead process is not taken for free, and --discard-kept and a resuming write say why", async () => {
  const dir = mkdtempSync(join(tmp, "kept-"));
  const dead = spawnSync("true").pid!;
  writeFileSync(join(dir, ".big.bin.sfx-part"), "half");
  writeFileSync(join(dir, ".big.bin.sfx-resume"), "exchange 2000000 1 \"big.bin\"\n");
  writeFileSync(join(dir, ".big.bin.sfx-lock"), `${dead} abc ${spawnSync("hostname", { encoding: "utf8" }).stdout.trim()}\n`);
  const r = await deno([...WHOLE, "--unstable-net", "--no-prompt"], ["receive", "--discard-kept", "--dir", dir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Under Deno without --allow-run, sfx cannot tell whether the process holding a part's lock still runs: .*Give --allow-run\./);
  assert.ok(existsSync(join(dir, ".big.bin.sfx-part")), "left alone");
  const withRun = await deno([...WHOLE, "--allow-run", "--unstable-net", "--no-prompt"], ["receive", "--discard-kept", "--dir", dir]);
  assert.is(withRun.code, 0, withRun.stderr);
  assert.match(withRun.stdout, /^Deleted 1 kept part /);
});

test("serve --daemon under Deno gives the daemon the launcher's permissions, not -A, and runs it in /", async () => {
  const dir = join(tmp, "whole");
  const r = await deno([...WHOLE, "--allow-run", "--unstable-net"], daemonArgs(dir));
  assert.is(r.code, 0, r.stderr);
  const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
  daemons.push(pid);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const script = cmdline.findIndex((a) => a.endsWith("cli.ts"));
  assert.equal(cmdline.slice(1, script).sort(), ["run", ...WHOLE, "--allow-run", "--unstable-net"].sort());
  assert.is(readlinkSync(`/proc/${pid}/cwd`), "/");
  // The way to stop it is said as this sfx runs, not as the single executable would.
  const said = /stop it with: (.*) serve --stop --pid-file (\S+)\)/.exec(r.stdout);
  assert.ok(said, r.stdout);
  assert.match(said[1], /deno run .*--allow-run.* \S*cli\.ts$/);
  assert.is(said[2], join(dir, "pid"));
  const stop = await deno(["-A"], ["serve", "--stop", "--pid-file", join(dir, "pid")]);
  assert.is(stop.code, 0, stop.stderr);
  assert.not.ok(isServerAlive(pid), "the daemon is gone (or a zombie)");
});

test("serve --daemon under Deno refuses a permission granted only in part, rather than widen it", async () => {
  const dir = join(tmp, "part");
  const r = await deno(["--allow-read", `--allow-write=${tmp}`, "--allow-env", "--allow-net", "--allow-sys", "--allow-run"], daemonArgs(dir));
  reap(dir);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, "--daemon passes on only permissions granted whole, and --allow-write is not");
  assert.not.ok(existsSync(join(dir, "pid")));
});

test("serve --daemon under Deno without --allow-run says it cannot start the daemon", async () => {
  const dir = join(tmp, "norun");
  const r = await deno(WHOLE, daemonArgs(dir));
  reap(dir);
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, /^sfx: Cannot start the daemon \(.*deno\): Requires run access/);
  assert.not.ok(existsSync(join(dir, "pid")));
});

test.run();
