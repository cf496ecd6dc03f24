/**
 * Shares end to end through the built binary, as a user runs it: `sfx serve`
 * with its own storage directory on a free port on 127.0.0.1, and `sfx share
 * put|ls|get` as separate processes with no node on PATH.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bareEnv, ensureBinary, type Running, runSfx, SFX, startSfx, tempDir } from "../cli/_sfx.ts";
import { spawn } from "node:child_process";
import { codeKey } from "../../src/share/code.ts";
import { ShareStore } from "../../src/share/store.ts";

const tmp = tempDir("sfx-share-e2e-");
const HOME = join(tmp.path, "home");
const ENV = bareEnv(HOME);
mkdirSync(HOME, { recursive: true });

interface Server {
  run: Running;
  port: number;
  storage: string;
}

const servers = new Set<Server>();

async function serve(storage: string, extra: string[] = [], port = 0): Promise<Server> {
  const run = startSfx(["serve", "--host", "127.0.0.1", "--port", String(port), "--log-dir", join(tmp.path, "logs"), "--storage", storage, ...extra], { env: ENV });
  const m = await run.waitForStderr(/ready on [^\s]*:(\d+)/, 20_000).catch((err) => {
    run.child.kill("SIGKILL"); // a server that never said ready must not outlive the suite
    throw err;
  });
  const s = { run, port: Number(m[1]), storage };
  servers.add(s);
  return s;
}

async function stop(s: Server, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  servers.delete(s);
  s.run.child.kill(signal);
  await s.run.exited(15_000);
}

function sfx(s: Server, args: string[], timeoutMs = 60_000) {
  return runSfx([...args, "--server", `127.0.0.1:${s.port}`], { env: ENV, timeoutMs });
}

function sha(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function shaFile(path: string): string {
  return sha(readFileSync(path));
}

function dir(name: string): string {
  const p = join(tmp.path, name);
  mkdirSync(p, { recursive: true });
  return p;
}

/** Waits (bounded) until `check()` is true, polling the file system or a process. */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let main: Server;
const src = dir("src");
writeFileSync(join(src, "one.txt"), "hello share\n");
mkdirSync(join(src, "tree", "sub"), { recursive: true });
writeFileSync(join(src, "tree", "a.bin"), randomBytes(300_000));
writeFileSync(join(src, "tree", "sub", "b.txt"), "bee");
writeFileSync(join(src, "tree", "sub", "empty"), "");
const big = join(src, "big.bin");

test.before(async () => {
  await ensureBinary();
  writeFileSync(big, randomBytes(48 * 1024 * 1024));
  main = await serve(dir("storage-main"));
});

test.after(async () => {
  for (const s of [...servers]) await stop(s, "SIGKILL").catch(() => {});
  tmp.remove();
});

async function put(s: Server, args: string[]): Promise<{ code: string; json: Record<string, unknown> }> {
  const r = await sfx(s, ["share", "put", ...args, "--json"]);
  assert.is(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  return { code: json.code, json };
}

test("put → ls → get round trip: several files and a directory, hashes equal; get of named files", async () => {
  const r = await sfx(main, ["share", "put", join(src, "one.txt"), join(src, "tree"), "--expires", "1h"]);
  assert.is(r.status, 0, r.stderr);
  const code = r.stdout.trim();
  assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/);
  assert.match(r.stderr, /Shared 4 files.*expires/);
  assert.match(r.stderr, /\nEnciphered end to end: the code is the key, and the server never saw it/);
  // What the server keeps holds no name and no byte of the files (their bytes and names are in no file of its store).
  const secrets = ["one.txt", "b.txt", "tree/", readFileSync(join(src, "one.txt")), readFileSync(join(src, "tree", "a.bin")).subarray(1000, 1064)];
  for (const e of readdirSync(main.storage, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const bytes = readFileSync(join(e.parentPath, e.name));
    for (const secret of secrets) assert.not.ok(bytes.includes(secret), `${join(e.parentPath, e.name)} holds ${String(secret).slice(0, 20)}`);
  }
  // The command it prints works as printed: it names the server the upload went to.
  assert.ok(r.stderr.includes(`\nDownload with: sfx share get ${code} --server 127.0.0.1:${main.port}\n`), r.stderr);
  // The log says who reserved what, and which share it became (by its key, never its code).
  const log = join(tmp.path, "logs", "stream_server.log");
  const key = codeKey(code).slice(0, 12);
  // Clients by address and port, as the session's own lines name them; the upload by its id.
  await until(() => new RegExp(`Share ${key} uploaded by 127\\.0\\.0\\.1:\\d+: 4 file\\(s\\)`).test(readFileSync(log, "utf8")), "the upload in the log");
  assert.match(readFileSync(log, "utf8"), /Upload [0-9a-f]{8} from 127\.0\.0\.1:\d+ started: 4 file\(s\), 300015 bytes reserved/);
  assert.not.ok(readFileSync(log, "utf8").includes(code), "the code is in the log");
  const ls = await sfx(main, ["share", "ls", code.toLowerCase(), "--json"]);
  assert.is(ls.status, 0, ls.stderr);
  const listing = JSON.parse(ls.stdout);
  assert.equal(listing.files.map((f: { path: string }) => f.path), ["one.txt", "tree/a.bin", "tree/sub/b.txt", "tree/sub/empty"]);
  assert.is(listing.files[1].sha256, shaFile(join(src, "tree", "a.bin")));
  const out = dir("out-roundtrip");
  const get = await sfx(main, ["share", "get", code, "--dir", out]);
  assert.is(get.status, 0, get.stderr);
  for (const f of ["one.txt", "tree/a.bin", "tree/sub/b.txt", "tree/sub/empty"]) {
    assert.is(shaFile(join(out, f)), shaFile(join(src, f)), f);
  }
  // A --dir that does not exist yet is created.
  const named = join(tmp.path, "out-named", "not", "yet");
  const g2 = await sfx(main, ["share", "get", code, "tree/sub/b.txt", "--dir", named, "--json"]);
  assert.is(g2.status, 0, g2.stderr);
  assert.equal(readdirSync(named), ["tree"]);
  assert.equal(readdirSync(join(named, "tree", "sub")), ["b.txt"]);
  // no silent overwrite: a second get writes 'name (1)'
  const again = await sfx(main, ["share", "get", code, "one.txt", "--dir", out]);
  assert.is(again.status, 0, again.stderr);
  assert.ok(existsSync(join(out, "one.txt")));
});

test("put - --name shares standard input (piped), spooled under TMPDIR and removed after; without --name exit 2", async () => {
  const spool = dir("spool-tmp");
  const data = randomBytes(2_500_000);
  const child = spawn(SFX, ["share", "put", "-", "--name", "piped/data.bin", "--json", "--server", `127.0.0.1:${main.port}`], {
    env: { ...ENV, TMPDIR: spool },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  child.stdin!.end(data);
  const status = await new Promise((r) => child.on("close", r));
  assert.is(status, 0, stderr);
  const json = JSON.parse(stdout);
  assert.equal(json.files, [{ path: "piped/data.bin", size: data.length, sha256: sha(data) }]);
  assert.equal(readdirSync(spool), [], "the spooled copy is gone");
  const out = dir("out-stdin");
  const get = await sfx(main, ["share", "get", json.code, "--dir", out]);
  assert.is(get.status, 0, get.stderr);
  assert.is(shaFile(join(out, "piped", "data.bin")), sha(data));
  // Standard input that is empty (here /dev/null; a closed one reads so too) is shared empty, and said.
  const empty = await sfx(main, ["share", "put", "-", "--name", "empty.txt"]);
  assert.is(empty.status, 0, empty.stderr);
  assert.match(empty.stderr, /^sfx: note: standard input was empty: empty\.txt is shared as an empty file$/m);
  assert.not.match(stderr, /standard input was empty/);
  const noName = await sfx(main, ["share", "put", "-"]);
  assert.is(noName.status, 2, noName.stderr);
  assert.match(noName.stderr, /Sharing standard input \('-'\) needs --name <file name>/);
});

test("put --json gives code, expiry and files; a too-long expiry is capped with a warning", async () => {
  const { json } = await put(main, [join(src, "one.txt"), "--expires", "30d"]);
  assert.match(json.code as string, /^[0-9A-Z-]{29}$/);
  const files = json.files as { path: string; size: number; sha256: string }[];
  assert.equal(files.map((f) => [f.path, f.size]), [["one.txt", 12]]);
  const expires = Date.parse(json.expiresAt as string);
  assert.ok(Math.abs(expires - (Date.now() + 7 * 86_400_000)) < 120_000, json.expiresAt as string);
  assert.match(json.warning as string, /shortened to 7d/);
});

test("put of a directory holding a name sfx cannot send: the rest is shared and its code given, then exit 13 (SFX_PARTIAL); --json lists what was left out in its one object", async () => {
  const d = dir("partial/d");
  writeFileSync(join(d, "fine.txt"), "fine");
  writeFileSync(join(d, "tab\there.txt"), "tab"); // a control character: no receiver could be given this name
  const r = await sfx(main, ["share", "put", d]);
  assert.is(r.status, 13, r.stderr);
  const code = r.stdout.trim();
  assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/, r.stdout);
  assert.match(r.stderr, /^sfx: left out d\/tab\\there\.txt: its name cannot be sent: it contains control characters\n/);
  assert.match(r.stderr, /Shared 1 file \(4 B\)/);
  assert.match(r.stderr, /\nsfx: 1 entry could not be read or named, so it was not sent \(listed above as 'left out'\); everything else is in the share\n$/);
  const ls = await sfx(main, ["share", "ls", code, "--json"]);
  assert.equal(JSON.parse(ls.stdout).files.map((f: { path: string }) => f.path), ["d/fine.txt"]);

  const j = await sfx(main, ["share", "put", d, "--json"]);
  assert.is(j.status, 13, j.stderr);
  // One JSON document (`| jq -r .code` gives one code): the share, what it left out, and the exit status.
  const lines = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.is(lines.length, 1, j.stdout);
  assert.match(lines[0].code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/);
  assert.equal(lines[0].leftOut, [{ path: "d/tab\there.txt", reason: "its name cannot be sent: it contains control characters", failed: true }]);
  assert.match(j.stderr, /\nsfx: 1 entry could not be read or named, so it was not sent \(listed above as 'left out'\); everything else is in the share\n$/);
});

test("wrong, malformed and expired codes: exit 9 with the same 'not found' for wrong and expired", async () => {
  const bad = await sfx(main, ["share", "ls", "NOT-A-CODE"]);
  assert.is(bad.status, 9);
  assert.match(bad.stderr, /Invalid share code/);
  const wrong = await sfx(main, ["share", "get", "0000-0000-0000-0000-0000", "--dir", dir("out-wrong")]);
  assert.is(wrong.status, 9);
  assert.match(wrong.stderr, /No share with that code/);
  assert.is(wrong.stderr.split("\n").length, 2, wrong.stderr);
  // A folder holding what an interrupted get kept: said after "not found" (its share may have expired since), with how to remove it.
  const keptIn = dir("out-kept");
  writeFileSync(join(keptIn, ".big.iso.sfx-part"), "x".repeat(1000));
  writeFileSync(join(keptIn, ".big.iso.sfx-resume"), `${"ab".repeat(32)}\n`);
  const left = await sfx(main, ["share", "get", "0000-0000-0000-0000-0000", "--dir", keptIn]);
  assert.is(left.status, 9);
  assert.match(left.stderr, /holds 1000 B kept from interrupted share downloads \(hidden \.sfx-part files\); if their share is gone, 'sfx receive --discard-kept --dir [^']*out-kept' removes them\n/);
  const { code, json } = await put(main, [join(src, "one.txt"), "--expires", "3s"]);
  assert.is((await sfx(main, ["share", "ls", code])).status, 0);
  // Wall time passing is what is under test: wait for the expiry instant itself.
  const expiresAt = Date.parse(json.expiresAt as string);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 20)));
  const expired = await sfx(main, ["share", "ls", code]);
  assert.is(expired.status, 9);
  assert.is(expired.stderr, wrong.stderr);
});

test("--max-downloads 1: the first complete get works, the next is 'not found'", async () => {
  const { code } = await put(main, [join(src, "tree"), "--max-downloads", "1"]);
  const out = dir("out-maxdl");
  assert.is((await sfx(main, ["share", "ls", code])).status, 0, "ls does not count");
  const first = await sfx(main, ["share", "get", code, "--dir", out]);
  assert.is(first.status, 0, first.stderr);
  const second = await sfx(main, ["share", "get", code, "--dir", dir("out-maxdl2")]);
  assert.is(second.status, 9);
});

test("server limits refuse with exit 6 and say which: files, bytes, quota, failed lookups; hostile local names are refused", async () => {
  const limited = await serve(dir("storage-limited"), ["--max-share-files", "2", "--max-share-bytes", "400k", "--store-quota", "500k"]);
  try {
    const many = await sfx(limited, ["share", "put", join(src, "tree"), join(src, "one.txt")]);
    assert.is(many.status, 6);
    assert.match(many.stderr, /Too many files.*allows 2/);
    const large = await sfx(limited, ["share", "put", big]);
    assert.is(large.status, 6);
    assert.match(large.stderr, /too large/);
    assert.is((await sfx(limited, ["share", "put", join(src, "tree", "a.bin")])).status, 0);
    const full = await sfx(limited, ["share", "put", join(src, "tree", "a.bin")]);
    assert.is(full.status, 6);
    assert.match(full.stderr, /store is full.*quota/);
    // 10 wrong codes from one address, then even lookups are refused for a while
    const wrong = "0000-0000-0000-0000-0000";
    const answers = await Promise.all(Array.from({ length: 10 }, () => sfx(limited, ["share", "ls", wrong])));
    assert.equal(answers.map((a) => a.status), Array(10).fill(9));
    const limitedNow = await sfx(limited, ["share", "ls", wrong]);
    assert.is(limitedNow.status, 6);
    assert.match(limitedNow.stderr, /Too many wrong share codes/);
  } finally {
    await stop(limited);
  }
  const evil = dir("evil");
  writeFileSync(join(evil, "bad\u001bname"), "x");
  const r = await sfx(main, ["share", "put", evil]);
  // Its only entry could not be named: nothing to share, an I/O failure as for a file that cannot be read.
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, /control characters/);
  assert.match(r.stderr, /Nothing to share: 1 entry of the directory could not be read or named/);
});

test("names with invisible characters (a bidi mark, a zero-width space) are shared and saved as they are, shown with U+FFFD in their place; they survive a server restart", async () => {
  const names = dir("invisible");
  writeFileSync(join(names, "invoice\u200f.pdf"), "rtl");
  writeFileSync(join(names, "note\u200b.txt"), "zwsp");
  const { code } = await put(main, [names]);
  const ls = await sfx(main, ["share", "ls", code]);
  assert.is(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, "invisible/invoice\ufffd.pdf");
  assert.not.match(ls.stdout, /[\u200b\u200f]/, "nothing invisible printed");
  // A restart checks every stored share's names: these are valid ones.
  await stop(main);
  main = await serve(main.storage);
  const out = dir("invisible-out");
  const got = await sfx(main, ["share", "get", code, "--dir", out]);
  assert.is(got.status, 0, got.stderr);
  assert.match(got.stdout, "note\ufffd.txt");
  assert.equal(readdirSync(join(out, "invisible")).sort(), ["invoice\u200f.pdf", "note\u200b.txt"].sort());
});

test("a share made before shares were enciphered (a code of 20 characters), on a server upgraded since, still lists and downloads, and both say it is in the clear", async () => {
  const storage = dir("storage-upgraded");
  // What an older server left: a share in the clear, under its 20-character code's key.
  const store = await ShareStore.open({ dir: storage, sweepTimer: false });
  const data = Buffer.from("an older share's bytes");
  const upload = await store.beginUpload({ files: [{ path: "old/notes.txt", size: data.length }] });
  const sink = await upload.file(0);
  await sink.write(new Uint8Array(data));
  await sink.end(createHash("sha256").update(data).digest("hex"));
  const { code } = await upload.commit();
  await store.close();
  assert.is(code.replace(/-/g, "").length, 20);
  const upgraded = await serve(storage);
  try {
    const ls = await sfx(upgraded, ["share", "ls", code]);
    assert.is(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /old\/notes\.txt/);
    assert.match(ls.stderr, /^Note: this share is not enciphered \(a server of before sfx enciphered shares made it\): the server can read it$/m);
    const json = await sfx(upgraded, ["share", "ls", code, "--json"]);
    assert.is(JSON.parse(json.stdout).enciphered, false);
    const out = dir("out-upgraded");
    const got = await sfx(upgraded, ["share", "get", code, "--dir", out]);
    assert.is(got.status, 0, got.stderr);
    assert.is(readFileSync(join(out, "old", "notes.txt"), "utf8"), "an older share's bytes");
    assert.match(got.stderr, /Note: this share is not enciphered/);
  } finally {
    await stop(upgraded);
  }
});

test("a second server on a share store in use is refused (exit 10) before it touches the store: the first one's shares stay", async () => {
  const { code } = await put(main, [join(src, "one.txt")]);
  const second = startSfx(["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", join(tmp.path, "logs-second"), "--storage", main.storage], { env: ENV });
  const end = await second.exited(20_000);
  assert.is(end.status, 10, second.stderr());
  assert.match(second.stderr(), /The share store \S+ is in use by another server \(pid \d+ on [^)]+\): give each server its own --storage/);
  const ls = await sfx(main, ["share", "ls", code]);
  assert.is(ls.status, 0, ls.stderr);
});

test("a restarted server keeps its shares with their expiries", async () => {
  const storage = dir("storage-restart");
  let s = await serve(storage);
  const { code, json } = await put(s, [join(src, "tree"), "--expires", "3h"]);
  await stop(s);
  s = await serve(storage);
  const ls = await sfx(s, ["share", "ls", code, "--json"]);
  assert.is(ls.status, 0, ls.stderr);
  assert.is(JSON.parse(ls.stdout).expiresAt, json.expiresAt);
  const out = dir("out-restart");
  assert.is((await sfx(s, ["share", "get", code, "--dir", out])).status, 0);
  assert.is(shaFile(join(out, "tree", "a.bin")), shaFile(join(src, "tree", "a.bin")));
  await stop(s);
});

test("kill -9 of the server mid-upload: after a restart no share is visible and no temporary file remains", async () => {
  const storage = dir("storage-kill");
  const s = await serve(storage);
  const client = spawn(SFX, ["share", "put", big, "--server", `127.0.0.1:${s.port}`], { env: ENV, stdio: "ignore" });
  const clientExit = new Promise((r) => client.on("close", r));
  const uploads = join(storage, "uploads");
  const partial = () => {
    if (!existsSync(uploads)) return false;
    for (const u of readdirSync(uploads)) {
      const f = join(uploads, u, "files", "0");
      if (existsSync(f) && statSync(f).size > 1_000_000) return true;
    }
    return false;
  };
  await until(partial, "upload bytes on the server's disk");
  await stop(s, "SIGKILL");
  client.kill("SIGKILL"); // (noticing the dead server takes the client up to 20 s: not under test here)
  await clientExit;
  assert.ok(readdirSync(uploads).length > 0, "the kill left an upload behind");
  const again = await serve(storage);
  assert.equal(readdirSync(uploads), []);
  assert.equal(readdirSync(join(storage, "shares")), []);
  await stop(again);
});

test("SIGTERM of the server mid-upload and mid-download: both clients say the server is shutting down (exit 4)", async () => {
  const storage = dir("storage-term");
  const s = await serve(storage);
  // Big enough (and sparse, so quick to make) that both transfers are surely under way when the signal lands.
  const huge = join(dir("src-term"), "huge.bin");
  closeSync(openSync(huge, "w"));
  truncateSync(huge, 256 * 1024 * 1024);
  const { code } = await put(s, [huge]);
  const out = dir("out-term");
  const part = join(out, ".huge.bin.sfx-part");
  const uploads = join(storage, "uploads");
  const uploading = () =>
    existsSync(uploads) && readdirSync(uploads).some((u) => {
      const f = join(uploads, u, "files", "0");
      return existsSync(f) && statSync(f).size > 1_000_000;
    });
  const run = (args: string[]) => {
    const child = spawn(SFX, [...args, "--server", `127.0.0.1:${s.port}`], { env: ENV, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    return new Promise<{ status: number | null; stderr: string }>((r) => child.on("close", (status) => r({ status, stderr })));
  };
  const putting = run(["share", "put", huge]);
  const getting = run(["share", "get", code, "--dir", out]);
  await until(() => uploading() && existsSync(part) && statSync(part).size > 1_000_000, "an upload and a download under way");
  await stop(s);
  for (const r of [await putting, await getting]) {
    assert.is(r.status, 4, r.stderr);
    assert.match(r.stderr, /The server is shutting down/);
  }
  assert.not.ok(existsSync(join(out, "huge.bin")), "nothing partial under the final name");
});

test("an interrupted download (client killed) resumes on the next get, run at once, and verifies the whole file; a share of one download is not held by the killed one", async () => {
  const { code } = await put(main, [big, "--max-downloads", "1"]);
  const out = dir("out-resume");
  const part = join(out, ".big.bin.sfx-part");
  const client = spawn(SFX, ["share", "get", code, "--dir", out, "--server", `127.0.0.1:${main.port}`], { env: ENV, stdio: "ignore" });
  const exited = new Promise((r) => client.on("close", r));
  await until(() => existsSync(part) && statSync(part).size > 4 * 1024 * 1024, "a partial download");
  client.kill("SIGKILL");
  await exited;
  const killedAt = Date.now();
  const partSize = statSync(part).size;
  assert.ok(partSize < statSync(big).size, "killed before the end");
  assert.not.ok(existsSync(join(out, "big.bin")));
  // The killed get still holds the share's one download at the server, which has not noticed yet:
  // the server asks it for a word until nothing has been heard from it for 10 s, and lets it go.
  const r = await sfx(main, ["share", "get", code, "--dir", out, "--json"]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(Date.now() - killedAt < 15_000, `went through ${Date.now() - killedAt} ms after the kill (the server's own notice takes 20 s)`);
  const file = JSON.parse(r.stdout.split("\n")[0]);
  assert.ok(file.resumedFrom > 0, r.stdout);
  assert.is(shaFile(join(out, "big.bin")), shaFile(big));
  assert.not.ok(existsSync(part));
});

test("20 concurrent uploads, then 20 concurrent downloads", async () => {
  const files = Array.from({ length: 20 }, (_, i) => {
    const p = join(dir("conc-src"), `f${i}.bin`);
    writeFileSync(p, randomBytes(200_000 + i));
    return p;
  });
  const codes = await Promise.all(files.map(async (f) => (await put(main, [f])).code));
  assert.is(new Set(codes).size, 20);
  const results = await Promise.all(codes.map((code, i) => sfx(main, ["share", "get", code, "--dir", dir(`conc-out-${i}`)], 120_000)));
  results.forEach((r, i) => {
    assert.is(r.status, 0, r.stderr);
    assert.is(shaFile(join(tmp.path, `conc-out-${i}`, `f${i}.bin`)), shaFile(files[i]));
  });
});

test.run();
