/**
 * Exchanges through the built binary: `sfx serve`, `sfx receive` and
 * `sfx send` as separate processes on loopback.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ERROR_CODES } from "../../src/errors.ts";
import {
  cleanupAll, ensureBinary, events, pattern, type Server, SFX, sfx, sha256, startReceive, startServe, tmp, treeHashes, until,
} from "./_exchange.ts";
import { withTmpfs } from "../_tmpfs.ts";

let server: Server;

test.before(async () => {
  await ensureBinary();
  server = await startServe(["--offer-timeout", "1s"]);
});
test.after(cleanupAll);

test("sfx send --to <id> file: one file arrives byte-exact, as the README shows", async () => {
  const src = tmp();
  const dst = tmp();
  const data = pattern(3_000_000, 7);
  writeFileSync(join(src, "photo.jpg"), data);
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id.slice(0, 3) + " " + r.id.slice(3), join(src, "photo.jpg"), "--server", server.address]);
  const sent = await s.exit();
  assert.is(sent.status, 0, s.err());
  assert.match(s.out(), /Sent 1 file, 2\.9 MiB/);
  assert.is(s.err().includes("\r"), false, "no progress bar when piped");
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(sha256(readFileSync(join(dst, "photo.jpg"))), sha256(data));
  const ev = events(r).map((e) => e.event);
  for (const e of ["connected", "offer", "accepted", "verify", "file", "done"]) assert.ok(ev.includes(e), `receiver event ${e}`);
  assert.is(events(r).find((e) => e.event === "connected")?.address, server.address, "the receiver says which server it reached");
  // Enciphered end to end: both ends show the same code, for the users to compare.
  const code = /Enciphered end to end\. Verification code (\d{3}-\d{3}): the receiver sees the same/.exec(s.err())?.[1];
  assert.ok(code, s.err());
  assert.is(events(r).find((e) => e.event === "verify")?.code, code);
});

test("sfx send --to <code>: the exchange is keyed with the receiver's code, with nothing left to compare; a wrong code exits 7 with nothing received", async () => {
  const src = tmp();
  const dst = tmp();
  const data = pattern(1_000_000, 9);
  writeFileSync(join(src, "plan.pdf"), data);
  const r = await startReceive(server, dst, ["--yes"]);
  assert.match(r.code, new RegExp(`^${r.id.slice(0, 3)}-${r.id.slice(3)}-\\d{3}-\\d{3}$`), "the code is the ID and six digits");
  const wrong = r.code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  const bad = sfx(["send", "--to", wrong, join(src, "plan.pdf"), "--server", server.address]);
  assert.is((await bad.exit()).status, 7, bad.err());
  assert.match(bad.err(), /the code you gave is not the receiver's.*No byte of the files was sent/);
  const s = sfx(["send", "--to", r.code, join(src, "plan.pdf"), "--server", server.address]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.match(s.err(), /with its code; waiting/);
  assert.match(s.err(), /Enciphered end to end, under keys made with the receiver's code, which it proved it has: no one between you can read the files/);
  assert.not.match(s.err(), /Verification code/);
  await until(() => events(r).some((e) => e.event === "done"), 10_000, "the receiver done");
  r.child.kill("SIGINT");
  await r.exit();
  assert.equal(readdirSync(dst), ["plan.pdf"]);
  assert.is(sha256(readFileSync(join(dst, "plan.pdf"))), sha256(data));
  const verify = events(r).filter((e) => e.event === "verify");
  assert.equal(verify.map((e) => e.byCode), [true], "one exchange, keyed with the code (the wrong one never got its key)");
  // The wrong code's attempt: counted, said, and no start (nothing started).
  const seen = events(r).map((e) => e.event);
  assert.equal(seen.filter((e) => e === "start").length, 1, seen.join());
  assert.equal(events(r).filter((e) => e.event === "codeMissed").map((e) => e.misses), [1]);
});

test("sfx send without --to shows a code; sfx receive <code> fetches the files, keyed with it; a wrong code gets nothing (exit 9) and is counted at the sender, which waits on", async () => {
  const src = tmp();
  const dst = tmp();
  const data = pattern(2_000_000, 11);
  writeFileSync(join(src, "budget.xlsx"), data);
  const s = sfx(["send", join(src, "budget.xlsx"), "--server", server.address]);
  const [, code, again] = await s.waitFor(/Code: +(\d{3}-\d{3}-\d{3}-\d{3}) +\(on the other machine: sfx receive (\S+)\)/, 15_000, "out");
  assert.is(again, code, "the line says what to type");
  const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  const bad = sfx(["receive", wrong, "--yes", "--server", server.address, "--dir", dst]);
  assert.is((await bad.exit()).status, ERROR_CODES.SFX_BAD_CODE, bad.err());
  assert.match(bad.err(), new RegExp(`sfx: Wrong code: ${wrong} is not the code client .* shows .*Nothing was received`));
  assert.not.match(bad.err(), /Cancelled:/, "said once, as the command's error");
  await s.waitFor(/typed a wrong code \(mistyped, or a guess\); nothing was sent\. 1 of 3/, 10_000, "err");
  const r = sfx(["receive", code.replaceAll("-", " "), "--yes", "--json", "--server", server.address, "--dir", dst]);
  assert.is((await r.exit()).status, 0, r.err());
  assert.is((await s.exit()).status, 0, s.err());
  assert.equal(readdirSync(dst), ["budget.xlsx"]);
  assert.is(sha256(readFileSync(join(dst, "budget.xlsx"))), sha256(data));
  const connected = events(r).find((e) => e.event === "connected");
  assert.ok(connected && connected.code === undefined, "fetching, the receiver shows no code of its own");
  assert.equal(events(r).filter((e) => e.event === "verify").map((e) => e.byCode), [true]);
  assert.match(s.err(), /Enciphered end to end, under keys made with your code, which the receiver proved it has/);
  assert.match(s.out(), new RegExp(`Sent 1 file, 1\\.9 MiB in .* to ${String(connected?.id).replace(/(\d{3})(\d{3})/, "$1 $2")}; the receiver verified every file`));
});

test("sfx send --json without --to: the code comes as an event once the server knows it takes pulls; a wrong code is counted and the send waits on; a receiver with no terminal and no --yes refuses to start (exit 2) rather than decline and end the send", async () => {
  const src = tmp();
  writeFileSync(join(src, "a.txt"), "a");
  const s = sfx(["send", join(src, "a.txt"), "--json", "--server", server.address]);
  const [, code] = await s.waitFor(/"event":"code","code":"([\d-]+)"/, 15_000, "out");
  assert.is(events(s).find((e) => e.event === "connected")?.code, undefined, "the code is not said before it works");
  const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  const bad = sfx(["receive", wrong, "--yes", "--server", server.address, "--dir", tmp()]);
  assert.is((await bad.exit()).status, ERROR_CODES.SFX_BAD_CODE, bad.err());
  await until(() => events(s).some((e) => e.event === "codeMissed"), 10_000, "the sender to count the wrong code");
  const unasked = sfx(["receive", code, "--server", server.address, "--dir", tmp()]);
  assert.is((await unasked.exit()).status, ERROR_CODES.SFX_USAGE, unasked.err());
  assert.match(unasked.err(), /has no terminal to ask on: give --yes/);
  const dst = tmp();
  const r = sfx(["receive", code, "--yes", "--server", server.address, "--dir", dst]);
  assert.is((await r.exit()).status, 0, r.err());
  assert.is((await s.exit()).status, 0, s.err());
  assert.is(readFileSync(join(dst, "a.txt"), "utf8"), "a");
  const seen = events(s).map((e) => String(e.event));
  assert.equal(seen.filter((e) => ["code", "pulled", "codeMissed", "offer", "done", "error"].includes(e)), ["code", "pulled", "codeMissed", "pulled", "offer", "done"]);
});

test("receive --once is not ended by a mistyped code: it waits for the right one; SFX_TO gives the code out of ps' sight, and --verify with a code asks nothing (no terminal needed)", async () => {
  const src = tmp();
  const dst = tmp();
  writeFileSync(join(src, "a.txt"), "alpha");
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const wrong = r.code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  const bad = sfx(["send", "--to", wrong, join(src, "a.txt"), "--server", server.address]);
  assert.is((await bad.exit()).status, 7, bad.err());
  // stdin is not a terminal here (ignored): --verify needs none with a code.
  const s = sfx(["send", "--verify", join(src, "a.txt"), "--server", server.address], { env: { SFX_TO: r.code } });
  assert.is((await s.exit()).status, 0, s.err());
  assert.not.match(s.err(), /Ask the receiver for the verification code/);
  assert.match(s.err(), /under keys made with the receiver's code/);
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(readFileSync(join(dst, "a.txt"), "utf8"), "alpha");
});

test("receive --dir creates a directory that does not exist yet; a path that is a file is refused with exit 8", async () => {
  const src = tmp();
  const dst = join(tmp(), "new", "folder");
  writeFileSync(join(src, "a.txt"), "hello");
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, join(src, "a.txt"), "--server", server.address]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(readFileSync(join(dst, "a.txt"), "utf8"), "hello");
  const notDir = join(src, "a.txt");
  const bad = sfx(["receive", "--server", server.address, "--dir", notDir, "--once"]);
  assert.is((await bad.exit()).status, 8, bad.err());
  assert.match(bad.err(), /Cannot receive into .*a\.txt: it exists and is not a directory/);
});

test("several files and a directory tree keep their relative paths; hashes equal", async () => {
  const src = tmp();
  const dst = tmp();
  mkdirSync(join(src, "docs/img/deep"), { recursive: true });
  writeFileSync(join(src, "a.txt"), "alpha\n");
  writeFileSync(join(src, "b.bin"), pattern(700_000, 2));
  writeFileSync(join(src, "docs/readme.md"), "# hi\n");
  writeFileSync(join(src, "docs/empty"), "");
  writeFileSync(join(src, "docs/img/deep/x.raw"), pattern(1_500_000, 3));
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--json", "--to", r.id, "--server", server.address, join(src, "a.txt"), join(src, "b.bin"), join(src, "docs")]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  const want = treeHashes(src);
  assert.equal(treeHashes(dst), want);
  const sev = events(s);
  assert.ok(sev.some((e) => e.event === "done" && e.files === 5), JSON.stringify(sev));
});

test("an entry of a directory that is left out (a broken symbolic link) is said as the send starts, and again under its summary", async () => {
  const src = tmp();
  const dst = tmp();
  mkdirSync(join(src, "d"));
  writeFileSync(join(src, "d/kept.txt"), "kept\n");
  symlinkSync(join(src, "nowhere"), join(src, "d/dangling"));
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "d")]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.equal(readdirSync(join(dst, "d")), ["kept.txt"]);
  assert.match(s.err(), /^sfx: left out d\/dangling: a broken symbolic link\n/);
  assert.match(s.err(), /\n1 entry was left out \(listed above as 'left out'\)\.\n$/);
  assert.match(s.out(), /^Sent 1 file, 5 B /);
});

test("an entry of a directory sfx cannot name for the receiver is not sent: the rest arrives, then the send ends with SFX_PARTIAL (exit 13), as tar and rsync end non-zero", async () => {
  const src = tmp();
  const dst = tmp();
  mkdirSync(join(src, "d"));
  writeFileSync(join(src, "d/kept.txt"), "kept\n");
  writeFileSync(join(src, "d/bell\u0007.txt"), "ding"); // control characters: no receiver could be given this name
  symlinkSync(join(src, "nowhere"), join(src, "d/dangling")); // never sent, and no failure
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "d")]);
  assert.is((await s.exit()).status, ERROR_CODES.SFX_PARTIAL, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.equal(readdirSync(join(dst, "d")), ["kept.txt"]);
  assert.match(s.out(), /^Sent 1 file, 5 B /);
  assert.match(s.err(), /^sfx: left out d\/bell\\u0007\.txt: its name cannot be sent: it contains control characters\nsfx: left out d\/dangling: a broken symbolic link\n/);
  assert.match(s.err(), /\nsfx: 1 entry could not be read or named, so it was not sent \(listed above as 'left out'\); everything else arrived and was verified\n$/);

  // --json: each entry is an event, and the end is an error event with the code.
  const r2 = await startReceive(server, tmp(), ["--yes", "--once"]);
  const j = sfx(["send", "--json", "--to", r2.id, "--server", server.address, join(src, "d")]);
  assert.is((await j.exit()).status, ERROR_CODES.SFX_PARTIAL, j.err());
  assert.is((await r2.exit()).status, 0, r2.err());
  const ev = events(j);
  assert.equal(ev.filter((e) => e.event === "leftOut"), [
    { event: "leftOut", path: "d/bell\u0007.txt", reason: "its name cannot be sent: it contains control characters", failed: true },
    { event: "leftOut", path: "d/dangling", reason: "a broken symbolic link", failed: false },
  ]);
  assert.ok(ev.some((e) => e.event === "done" && e.files === 1), JSON.stringify(ev));
  assert.is(ev.at(-1)?.event, "error", JSON.stringify(ev.at(-1)));
  assert.is(ev.at(-1)?.code, "SFX_PARTIAL");
});

test("--json: the sender reports each file with its SHA-256, done carries MB/s, and a failure before any transfer is an error event", async () => {
  const src = tmp();
  const dst = tmp();
  const data = pattern(500_000, 11);
  writeFileSync(join(src, "a.bin"), data);
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--json", "--to", r.id, "--server", server.address, join(src, "a.bin")]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  const sev = events(s);
  const file = sev.find((e) => e.event === "file");
  assert.equal(file, { event: "file", path: "a.bin", size: data.length, sha256: sha256(data) });
  const done = sev.find((e) => e.event === "done")!;
  assert.is(typeof done.megabytesPerSecond, "number");
  // Before connecting: a missing file, and a server where nothing listens.
  for (const args of [["send", "--json", "--to", r.id, "--server", server.address, join(src, "missing.bin")], ["receive", "--json", "--server", "127.0.0.1:1"]]) {
    const p = sfx(args);
    const status = (await p.exit()).status;
    assert.ok(status !== 0, p.err());
    const ev = events(p);
    assert.is(ev.length, 1, p.out());
    assert.is(ev[0].event, "error");
    assert.match(String(ev[0].code), /^SFX_/);
    assert.ok(String(ev[0].message).length > 0);
  }
});

test("standard input with --name arrives whole (size unknown until the end)", async () => {
  const dst = tmp();
  const data = pattern(2_500_000, 9);
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "piped.bin", "-"], { stdin: true });
  s.child.stdin!.end(data);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(sha256(readFileSync(join(dst, "piped.bin"))), sha256(data));
  assert.not.match(s.err(), /standard input was empty/);
});

test("empty standard input (or a closed one, which reads as empty) is sent as an empty file, and the sender says so", async () => {
  const dst = tmp();
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "nothing.txt", "-"], { stdin: true });
  s.child.stdin!.end();
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  assert.is(readFileSync(join(dst, "nothing.txt")).length, 0);
  assert.match(s.err(), /^sfx: note: standard input was empty: nothing\.txt was sent as an empty file$/m);
});

test("two exchanges writing the same name into one folder at once: each file arrives whole, neither is lost", async () => {
  const a = tmp();
  const b = tmp();
  const dst = tmp();
  const bytesA = pattern(6_000_000, 21);
  const bytesB = pattern(6_000_000, 22);
  writeFileSync(join(a, "same.bin"), bytesA);
  writeFileSync(join(b, "same.bin"), bytesB);
  const ra = await startReceive(server, dst, ["--yes", "--once"]);
  const rb = await startReceive(server, dst, ["--yes", "--once"]);
  const sa = sfx(["send", "--to", ra.id, "--server", server.address, join(a, "same.bin")]);
  const sb = sfx(["send", "--to", rb.id, "--server", server.address, join(b, "same.bin")]);
  for (const p of [sa, sb, ra, rb]) assert.is((await p.exit()).status, 0, p.err());
  const got = Object.values(treeHashes(dst)).sort();
  assert.equal(got, [sha256(bytesA), sha256(bytesB)].sort());
  assert.equal(readdirSync(dst).sort(), ["same (1).bin", "same.bin"]);
});

test("names ordinary on Linux (aux.c, 12:30, what?) arrive as they are", async () => {
  const src = tmp();
  const dst = tmp();
  const names = ["aux.c", "backup 2024-01-01T12:30.tar", "what?.txt", "trailing."];
  for (const n of names) writeFileSync(join(src, n), n);
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, ...names.map((n) => join(src, n))]);
  assert.is((await s.exit()).status, 0, s.err());
  assert.is((await r.exit()).status, 0, r.err());
  for (const n of names) assert.is(readFileSync(join(dst, n), "utf8"), n);
});

test("a receiver with --once that cannot write tells the sender why (not 'disconnected')", async () => {
  const dst = tmp();
  // Standard input has no size to check the room for before accepting: the disk fills as it writes.
  await withTmpfs(dst, "1m", async () => {
    const r = await startReceive(server, dst, ["--yes", "--once"]);
    const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "x.bin", "-"], { stdin: true });
    s.child.stdin!.end(new Uint8Array(3 * 1024 * 1024).fill(7));
    assert.is((await r.exit()).status, 8, r.err());
    assert.is((await s.exit()).status, 8, s.err());
    assert.match(s.err(), /The receiver failed: /);
    assert.not.match(s.err(), /disconnected/);
    assert.not.ok(s.err().includes(dst), `the receiver's folder is its own: ${s.err()}`);
    assert.match(r.err(), /the disk is full \(ENOSPC\)/, r.err() + r.out());
    assert.equal(readdirSync(dst), [], "nothing left of it");
  });
});

test("an existing file is kept: the new one is saved as 'name (1).ext'", async () => {
  const src = tmp();
  const dst = tmp();
  writeFileSync(join(dst, "note.txt"), "old");
  writeFileSync(join(src, "note.txt"), "new");
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "note.txt")]);
  assert.is((await s.exit()).status, 0, s.err());
  await r.exit();
  assert.is(readFileSync(join(dst, "note.txt"), "utf8"), "old");
  assert.is(readFileSync(join(dst, "note (1).txt"), "utf8"), "new");
  // A directory under the name, even with --overwrite (which replaces files only): saved beside it,
  // after the whole transfer as before it; the receiver's user reads why the name differs.
  mkdirSync(join(dst, "dir.bin"));
  writeFileSync(join(src, "dir.bin"), "beside");
  const r2 = sfx(["receive", "--server", server.address, "--dir", dst, "--yes", "--once", "--overwrite"]);
  const m = await r2.waitFor(/Your ID:\s+(\d{3}) (\d{3})/, 15_000, "out");
  const s2 = sfx(["send", "--to", m[1] + m[2], "--server", server.address, join(src, "dir.bin")]);
  assert.is((await s2.exit()).status, 0, s2.err());
  assert.is((await r2.exit()).status, 0, r2.err());
  assert.match(r2.err(), /received dir \(1\)\.bin \(dir\.bin was taken; 6 B, SHA-256 [0-9a-f]{16}…\)/);
  assert.is(readFileSync(join(dst, "dir (1).bin"), "utf8"), "beside");
});

test("a server address where nothing listens is refused at once, not after the 10 s timeout", async () => {
  // The port of a server that has just stopped: nothing listens there now.
  const gone = await startServe();
  gone.proc.child.kill("SIGTERM");
  await gone.proc.exit();
  const file = join(tmp(), "x.txt");
  writeFileSync(file, "x");
  for (const args of [["send", "--to", "123456", "--server", gone.address, file], ["share", "ls", "--server", gone.address, "7KQ2-M9XD-4T1F-HB6R-W3NP"]]) {
    const p = sfx(args);
    assert.is((await p.exit()).status, 4, p.err());
    assert.match(p.err(), /Nothing is listening at 127\.0\.0\.1:\d+ \(connection refused\)/);
  }
});

test("a server stopping (SIGTERM) tells a waiting receiver so: 'The server is shutting down', exit 4", async () => {
  const own = await startServe();
  const r = await startReceive(own, tmp(), ["--yes"]);
  own.proc.child.kill("SIGTERM");
  await own.proc.exit();
  assert.is((await r.exit()).status, 4, r.err());
  assert.match(r.err(), /The server is shutting down/);
});

test("an offer larger than the receiver's free space is refused before any byte moves (tmpfs of 1 MiB)", async () => {
  const dst = tmp();
  await withTmpfs(dst, "1m", async () => {
    const src = tmp();
    writeFileSync(join(src, "big.bin"), pattern(3_000_000, 4));
    const r = await startReceive(server, dst, ["--yes", "--once"]);
    const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "big.bin")]);
    assert.is((await s.exit()).status, 5, s.err());
    assert.match(s.err(), /Not enough free space: the files need 2\.9 MiB, the receiver has (?:1\.0 MiB|\d+(?:\.\d)? KiB)/);
    await r.exit();
    assert.equal(readdirSync(dst), []);
  });
});

test("a file where the offer needs a directory is refused before anyone is asked, with the reason, and nothing is written", async () => {
  const src = tmp();
  const dst = tmp();
  mkdirSync(join(src, "dir"));
  writeFileSync(join(src, "dir/a.txt"), "a");
  writeFileSync(join(dst, "dir"), "in the way");
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "dir")]);
  assert.is((await s.exit()).status, ERROR_CODES.SFX_REJECTED, s.err());
  assert.match(s.err(), /The receiver declined: dir in the receiver's folder is not a directory, and the offer puts files in a directory of that name/);
  assert.is((await r.exit()).status, ERROR_CODES.SFX_REJECTED, r.err());
  assert.ok(events(r).some((e) => e.event === "rejected" && /^in the way: dir is a file, and the offer puts files in a directory of that name$/.test(String(e.reason))), r.out());
  // With --json nothing else is on stderr: its one line says why too.
  assert.match(r.err(), /^sfx: The offer was rejected: in the way: dir is a file, and the offer puts files in a directory of that name$/m);
  assert.equal(readdirSync(dst), ["dir"]);
  assert.is(readFileSync(join(dst, "dir"), "utf8"), "in the way");
});

test("a path that fits the sender's system but is too long in the receiver's folder is refused before anyone is asked, and nothing is created", async () => {
  const src = tmp();
  // 19 folders of 207 bytes and a file: 3,957 bytes below the sender's folder, 4,2xx below the receiver's.
  const rel = [...Array.from({ length: 19 }, (_, i) => `${i}`.padEnd(207, "d")), "f.txt"].join("/");
  mkdirSync(join(src, dirname(rel)), { recursive: true });
  writeFileSync(join(src, rel), "deep");
  const dst = join(tmp(), "r".padEnd(250, "r"));
  mkdirSync(dst);
  const top = rel.split("/")[0];
  const r = await startReceive(server, dst, ["--yes", "--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, top)]);
  assert.is((await s.exit()).status, ERROR_CODES.SFX_REJECTED, s.err());
  assert.match(s.err(), /The receiver declined: .*f\.txt would have too long a path in the receiver's folder \(the system takes 4,095 bytes\)/);
  assert.is((await r.exit()).status, ERROR_CODES.SFX_REJECTED, r.err());
  assert.match(r.err(), /The offer was rejected: path too long: .*f\.txt would have a path of 4\d{3} bytes in this folder/);
  assert.equal(readdirSync(dst), []);
});

test("an unknown ID fails fast with exit status 5 and a clear message", async () => {
  const src = tmp();
  writeFileSync(join(src, "f"), "x");
  const s = sfx(["send", "--to", "100000", "--server", server.address, join(src, "f")]);
  const res = await s.exit(10_000);
  assert.is(res.status, ERROR_CODES.SFX_UNKNOWN_ID, s.err());
  assert.match(s.err(), /No client with ID 100 000 is connected to this server/);
});

test("no terminal and no --yes: the receiver rejects, the sender exits 5 (SFX_REJECTED)", async () => {
  const src = tmp();
  const dst = tmp();
  writeFileSync(join(src, "f"), "x");
  const r = await startReceive(server, dst, ["--once"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "f")]);
  assert.is((await s.exit()).status, ERROR_CODES.SFX_REJECTED);
  assert.match(s.err(), /The receiver declined: it has no terminal to ask on, and was not started with --yes\n/);
  await r.exit();
  assert.match(r.err(), /^sfx: The offer was rejected: it has no terminal to ask on, and was not started with --yes$/m);
  assert.equal(readdirSync(dst), []);
});

test("a busy receiver: a second sender fails fast with SFX_PEER_BUSY; after the first ends the receiver is free", async () => {
  const dst = tmp();
  const src = tmp();
  writeFileSync(join(src, "g"), "second");
  const r = await startReceive(server, dst, ["--yes"]);
  const first = sfx(["send", "--to", r.id, "--server", server.address, "--name", "stream.bin", "-"], { stdin: true });
  first.child.stdin!.write(pattern(100_000));
  await r.waitFor(/"event":"accepted"/, 10_000, "out");
  const second = sfx(["send", "--to", r.id, "--server", server.address, join(src, "g")]);
  const res = await second.exit(10_000);
  assert.is(res.status, ERROR_CODES.SFX_PEER_BUSY, second.err());
  assert.match(second.err(), /busy/);
  first.child.stdin!.end(pattern(50_000, 5));
  assert.is((await first.exit()).status, 0, first.err());
  const third = sfx(["send", "--to", r.id, "--server", server.address, join(src, "g")]);
  assert.is((await third.exit()).status, 0, third.err());
  assert.is(readFileSync(join(dst, "g"), "utf8"), "second");
  r.child.kill("SIGINT");
  assert.is((await r.exit(5000)).status, 130);
});

test("Ctrl-C of the sender mid-transfer cancels on both sides within 2 s; nothing is kept", async () => {
  const dst = tmp();
  const r = await startReceive(server, dst, ["--yes"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "big.bin", "-"], { stdin: true });
  s.child.stdin!.write(pattern(1_000_000));
  await r.waitFor(/"event":"progress"/, 10_000, "out");
  const t0 = Date.now();
  s.child.kill("SIGINT");
  const res = await s.exit(5000);
  assert.is(res.status, 130, s.err());
  assert.match(s.err(), /Cancelled: the receiver was told/);
  await r.waitFor(/"event":"(cancelled|error)"/, 5000, "out");
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  await until(() => readdirSync(dst).length === 0, 2000, "the temporary file to go");
  r.child.kill("SIGINT");
  await r.exit(5000);
});

for (const [name, sig] of [["Ctrl-C", "SIGINT"], ["A closed terminal (SIGHUP)", "SIGHUP"]] as const) test(`${name} of the receiver mid-transfer stops the sender within 2 s with SFX_CANCELLED`, async () => {
  const dst = tmp();
  const r = await startReceive(server, dst, ["--yes"]);
  const s = sfx(["send", "--to", r.id, "--server", server.address, "--name", "big.bin", "-"], { stdin: true });
  s.child.stdin!.write(pattern(1_000_000));
  await r.waitFor(/"event":"progress"/, 10_000, "out");
  const t0 = Date.now();
  r.child.kill(sig);
  assert.is((await r.exit(5000)).status, 130, r.err());
  const res = await s.exit(5000);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.is(res.status, ERROR_CODES.SFX_CANCELLED, s.err());
  assert.match(s.err(), /cancel/i);
  assert.equal(readdirSync(dst), []);
});

test("an offer nobody answers times out (serve --offer-timeout) with SFX_OFFER_TIMEOUT", async () => {
  // A receiver that never answers: a library client (the CLI always answers).
  const { connect } = await import("../../src/client/connection.ts");
  const conn = await connect({ server: { host: "127.0.0.1", port: server.port } });
  try {
    const src = tmp();
    writeFileSync(join(src, "f"), "x");
    const s = sfx(["send", "--to", conn.id, "--server", server.address, join(src, "f")]);
    const res = await s.exit(10_000);
    assert.is(res.status, ERROR_CODES.SFX_OFFER_TIMEOUT, s.err());
    assert.match(s.err(), /did not answer the offer within 1 s/);
  } finally {
    await conn.close();
  }
});

/** Whether `script` is here to give sfx a pseudo-terminal (util-linux); says so when it is not. */
function canUseTerminal(): boolean {
  if (spawnSync("sh", ["-c", "command -v script"]).status === 0) return true;
  console.log("  (skipped: no `script` to give sfx a terminal)");
  return false;
}

/**
 * `sfx receive --once` on a pseudo-terminal (`script`): what it prints, a
 * keyboard (`type`), its ID once shown, and its exit status.
 */
async function receiveOnTerminal(dst: string) {
  const cmd = `${SFX} receive --server ${server.address} --dir ${dst} --once`;
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"], env: { PATH: "/usr/bin:/bin", HOME: tmp() } });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stdin.on("error", () => {});
  const closed = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  try {
    await until(() => /Your ID:\s+(\d{3} \d{3})/.test(out), 15_000, "the ID on the terminal");
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    id: /Your ID:\s+(\d{3} \d{3})/.exec(out)![1],
    out: () => out,
    type: (text: string) => child.stdin.write(text),
    closed,
    kill: () => child.kill("SIGKILL"),
  };
}

test("on a terminal, receive shows the offer and asks y/N: 'y' accepts, 'n' rejects", async () => {
  if (!canUseTerminal()) return;
  const src = tmp();
  writeFileSync(join(src, "hello.txt"), "hello\n");
  for (const answer of ["y", "n"]) {
    const dst = tmp();
    const r = await receiveOnTerminal(dst);
    try {
      const s = sfx(["send", "--to", r.id, "--server", server.address, join(src, "hello.txt")]);
      await until(() => /Accept\? \[y\/N\]/.test(r.out()), 15_000, "the prompt");
      assert.match(r.out(), /wants to send you 1 file \(6 B\):\r?\n {2}hello\.txt {2}6 B\r?\n/);
      assert.is(r.out().split("hello.txt").length - 1, 1, "the name once");
      r.type(`${answer}\n`);
      const res = await s.exit();
      if (answer === "y") {
        assert.is(res.status, 0, s.err());
        assert.is(readFileSync(join(dst, "hello.txt"), "utf8"), "hello\n");
      } else {
        assert.is(res.status, ERROR_CODES.SFX_REJECTED, s.err());
        assert.equal(readdirSync(dst), []);
      }
      await r.closed;
      // The receiver says what it did with the offer, either way.
      assert.match(r.out(), answer === "y" ? /received hello\.txt/ : /Declined the offer from \d{3} \d{3}; the sender was told\./);
    } finally {
      r.kill();
    }
  }
});

test("receive --once: an offer the sender withdraws while we are asked is no exchange; the next offer is", async () => {
  if (!canUseTerminal()) return;
  const src = tmp();
  const dst = tmp();
  writeFileSync(join(src, "hello.txt"), "hello\n");
  const r = await receiveOnTerminal(dst);
  try {
    const first = sfx(["send", "--to", r.id, "--server", server.address, join(src, "hello.txt")]);
    await until(() => /Accept\? \[y\/N\]/.test(r.out()), 15_000, "the first prompt");
    first.child.kill("SIGINT");
    assert.is((await first.exit()).status, 130, first.err());
    const seen = r.out().length;
    const second = sfx(["send", "--to", r.id, "--server", server.address, join(src, "hello.txt")]);
    await until(() => /Accept\? \[y\/N\]/.test(r.out().slice(seen)), 15_000, "the second prompt: the receiver is still there");
    r.type("y\n");
    assert.is((await second.exit()).status, 0, second.err());
    assert.is(await r.closed, 0, r.out());
    assert.is(readFileSync(join(dst, "hello.txt"), "utf8"), "hello\n");
  } finally {
    r.kill();
  }
});

test("the server log records connections, IDs, offers and exchange ends with bytes and rate", async () => {
  const log = readFileSync(join(server.logDir, "stream_server.log"), "utf8");
  for (const re of [/Connection from 127\.0\.0\.1:\d+/, /got its ID/, /offer from \d{3} \d{3} to \d{3} \d{3}: 1 file/, /ended done \(ok\): 1 file\(s\), 3000000 bytes in [\d.]+ s, [\d.]+ MB\/s/, /ended rejected/, /ended cancelled/]) {
    assert.match(log, re);
  }
  // Who cancelled, said once ("by the sender: cancelled by the sender" said it twice).
  assert.match(log, /ended cancelled \(SFX_CANCELLED: cancelled by the (sender|receiver)\b/);
  assert.not.match(log, /by the (sender|receiver): cancelled by the/);
});

test.run();
