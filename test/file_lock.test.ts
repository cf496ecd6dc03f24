import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lockTouch, takeLock } from "../src/file_lock.ts";
import { processAlive } from "../src/process_alive.ts";

const TAKER = fileURLToPath(new URL("./_lock_taker.ts", import.meta.url));

test("processAlive(): a running process is alive, a zombie (exited, not yet reaped by its parent) and an unused pid are not", async () => {
  if (!existsSync("/proc/self/stat")) return console.warn("SKIP: no /proc");
  // The shell's background child exits at once; `exec sleep` replaces the shell and never reaps it.
  // (The child outlives the shell's exec, so the shell cannot reap it first.)
  const parent = spawn("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once("data", (d) => resolve(String(d)))));
    // Bounded: the child is a zombie within moments of starting.
    for (let i = 0; i < 300 && !readFileSync(`/proc/${zombie}/stat`, "utf8").includes(") Z "); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(processAlive(parent.pid!), "its parent runs");
    assert.not.ok(processAlive(zombie), "a zombie has exited");
  } finally {
    parent.kill("SIGKILL");
  }
  assert.not.ok(processAlive(2 ** 22 + 12345), "no such process");
  assert.not.ok(processAlive(2 ** 32), "no pid is that large (Node throws for it: not a sign of life)");
});

test("four live processes taking over the same 100 stale locks at once: each lock is won once, and nothing is left beside them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-race-"));
  try {
    const dead = spawnSync("true").pid!;
    const locks = Array.from({ length: 100 }, (_, i) => join(dir, `.f${i}.sfx-lock`));
    for (const l of locks) writeFileSync(l, `${dead} 0123456789abcdef ${hostname()}\n`);
    const takers = Array.from({ length: 4 }, () => spawn(process.execPath, [TAKER, ...locks], { stdio: ["pipe", "pipe", "inherit"] }));
    try {
      const won = await Promise.all(takers.map((t) => new Promise<number[]>((resolve, reject) => {
        let out = "";
        t.stdout.on("data", (d) => {
          out += d;
          if (out.endsWith("\n")) resolve(JSON.parse(out));
        });
        t.once("exit", (code) => reject(new Error(`a taker exited (${code}) before saying what it won`)));
      })));
      const owners = new Map<number, number>();
      for (const list of won) for (const i of list) owners.set(i, (owners.get(i) ?? 0) + 1);
      assert.is(owners.size, 100, "every lock was won");
      assert.equal([...owners.values()].filter((n) => n > 1), [], "a lock won by two live processes");
      assert.equal(readdirSync(dir).filter((n) => !n.endsWith(".sfx-lock")), []);
    } finally {
      for (const t of takers) t.stdin.end();
      await Promise.all(takers.map((t) => (t.exitCode === null ? new Promise((r) => t.once("exit", r)) : undefined)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a taker that died mid-takeover does not block the next one; a live taker (one stopped with Ctrl-Z too) is left to finish", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-taker-"));
  const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const dead = spawnSync("true").pid!;
    const lock = join(dir, ".f.sfx-lock");
    const taking = join(dir, `.sfx-stale-${createHash("sha256").update(".f.sfx-lock").digest("hex").slice(0, 16)}`);
    writeFileSync(lock, `${dead} 0123456789abcdef ${hostname()}\n`);
    writeFileSync(taking, `${sleeper.pid} fedcba9876543210 ${hostname()}\n`);
    assert.is(await takeLock(lock), undefined, "taken while a live taker is at it");
    assert.ok(existsSync(taking));
    writeFileSync(taking, `${dead} fedcba9876543210 ${hostname()}\n`);
    const release = await takeLock(lock);
    assert.ok(release, "blocked by a dead taker's leftover");
    assert.equal(readdirSync(dir), [".f.sfx-lock"]);
    await release!();
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock taken while this process holds another is that file again (a link, no new file), says who holds it, and goes alone when given back; a held name someone replaced is not linked to", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-link-"));
  try {
    const [a, b, c] = ["a", "b", "c"].map((n) => join(dir, `.${n}.sfx-lock`));
    const releaseA = await takeLock(a);
    const releaseB = await takeLock(b);
    assert.ok(releaseA && releaseB);
    assert.is(statSync(b).ino, statSync(a).ino, "the second lock is the first's file");
    assert.is(statSync(a).nlink, 2);
    const text = readFileSync(a, "utf8");
    assert.match(text, new RegExp(`^${process.pid} [0-9a-f]{16} `));
    await releaseA!();
    assert.not.ok(existsSync(a));
    assert.is(readFileSync(b, "utf8"), text, "the lock still held says who holds it");
    assert.is(statSync(b).nlink, 1);
    // The name b replaced by another file: a new lock does not become that file.
    rmSync(b);
    writeFileSync(b, `1 0123456789abcdef ${hostname()}\n`);
    const releaseC = await takeLock(c);
    assert.ok(releaseC);
    assert.is.not(statSync(c).ino, statSync(b).ino);
    assert.is(readFileSync(c, "utf8"), text);
    await releaseB!(); // removes the name b, whatever it now is (as before links)
    await releaseC!();
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock file stays fresh while any of its names is held, however short each name's turn (another host judges it by its time)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-touch-"));
  const saved = lockTouch.ms;
  lockTouch.ms = 40;
  try {
    let name = join(dir, ".f0.sfx-lock");
    let release = await takeLock(name);
    assert.ok(release);
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(name, hourAgo, hourAgo);
    // Names taken and given back in turn, none held as long as the touch period.
    const until = Date.now() + 400;
    for (let i = 1; Date.now() < until && i < 1000; i++) {
      const next = join(dir, `.f${i}.sfx-lock`);
      const nextRelease = await takeLock(next);
      assert.ok(nextRelease);
      await release!();
      [name, release] = [next, nextRelease];
      await new Promise((r) => setTimeout(r, 10));
    }
    const age = Date.now() - statSync(name).mtimeMs;
    assert.ok(age < 60_000, `the lock file was last touched ${Math.round(age / 1000)} s ago`);
    await release!();
    assert.equal(readdirSync(dir), []);
  } finally {
    lockTouch.ms = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock is readable by all whatever the umask, even one that hides the owner's own read bit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-umask-"));
  const saved = process.umask(0o400);
  try {
    const release = await takeLock(join(dir, ".a.sfx-lock"));
    assert.ok(release);
    assert.is(statSync(join(dir, ".a.sfx-lock")).mode & 0o444, 0o444);
    await release!();
  } finally {
    process.umask(saved);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock file is touched through a name that still is it: not through a link put in place of one (its target is left alone), and still when the first name was removed by someone else; a lock linked while the one it came from is given back is touched too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-touch2-"));
  const saved = lockTouch.ms;
  lockTouch.ms = 30;
  const hourAgo = () => new Date(Date.now() - 3600_000);
  const age = (path: string) => (Date.now() - lstatSync(path).mtimeMs) / 1000;
  const periods = () => new Promise((r) => setTimeout(r, 200));
  /** Whether `path` is touched (its time made fresh) within `ms`: its time is the only sign of it. */
  const touchedWithin = async (path: string, ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 5))) {
      if (age(path) < 60) return true;
    }
    return age(path) < 60;
  };
  try {
    const [a, b, c] = ["a", "b", "c"].map((n) => join(dir, `.${n}.sfx-lock`));
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "not a lock");
    utimesSync(victim, hourAgo(), hourAgo());
    const releaseA = await takeLock(a);
    const releaseB = await takeLock(b); // linked from a
    assert.ok(releaseA && releaseB);
    // a removed by someone else, and a link to the victim put in its place.
    unlinkSync(a);
    symlinkSync(victim, a);
    utimesSync(b, hourAgo(), hourAgo());
    assert.ok(await touchedWithin(b, 2000), `b was last touched ${Math.round(age(b))} s ago`);
    // Several periods more: the link put at a's name never leads the touch to its target.
    await periods();
    assert.ok(age(victim) > 3500, "the link's target was touched");
    await releaseA!(); // removes the name a (the link), not the victim
    assert.ok(existsSync(victim));
    // b given back while c is being linked from it, again and again.
    let untouched = 0;
    let held = releaseB!;
    let name = b;
    for (let i = 0; i < 20; i++) {
      const next = join(dir, `.n${i}.sfx-lock`);
      const taking = takeLock(next);
      await held();
      const release = await taking;
      assert.ok(release);
      utimesSync(next, hourAgo(), hourAgo());
      if (!(await touchedWithin(next, 300))) untouched++;
      [held, name] = [release!, next];
    }
    assert.is(untouched, 0, "locks left untouched");
    await held();
    void name;
    void c;
    assert.equal(readdirSync(dir).sort(), ["victim.txt"]);
  } finally {
    lockTouch.ms = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the locks a killed process held as one file are each judged stale and taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-lock-killed-"));
  try {
    const locks = [0, 1, 2].map((i) => join(dir, `.f${i}.sfx-lock`));
    const taker = spawn(process.execPath, [TAKER, ...locks], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise((r) => taker.once("exit", r));
    try {
      const won = await new Promise<number[]>((resolve, reject) => {
        let out = "";
        taker.stdout.on("data", (d) => {
          out += d;
          if (out.endsWith("\n")) resolve(JSON.parse(out));
        });
        taker.once("exit", (code) => reject(new Error(`the taker exited (${code}) before saying what it won`)));
      });
      assert.equal(won, [0, 1, 2]);
      assert.equal(new Set(locks.map((l) => statSync(l).ino)).size, 1, "its three locks are one file");
      for (const l of locks) assert.is(await takeLock(l), undefined, "held while its process runs");
    } finally {
      taker.kill("SIGKILL");
      await exited;
    }
    const releases = await Promise.all(locks.map((l) => takeLock(l)));
    for (const r of releases) assert.match(String(r?.tookOver), new RegExp(`^${taker.pid} `), "taken over from the killed process");
    for (const l of locks) assert.match(readFileSync(l, "utf8"), new RegExp(`^${process.pid} `));
    await Promise.all(releases.map((r) => r!()));
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
