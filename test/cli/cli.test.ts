import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { ensureBinary, ROOT, runSfx, SFX } from "./_sfx.ts";

const VERSION = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")).version as string;
/** Commands the README documents; the binary may have more, never fewer. */
const DOCUMENTED = ["serve", "send", "receive", "discover", "share", "client"];

test.before(ensureBinary);

/** The names listed under "Commands:" in a help text. */
function commandsIn(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? "";
  return [...section.matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== "help");
}

test("sfx --version prints package.json's version and exits 0, with no node on PATH", async () => {
  for (const flag of ["--version", "-V"]) {
    const r = await runSfx([flag]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, `${VERSION}\n`);
    assert.is(r.stderr, "");
  }
});

test("NODE_OPTIONS cannot put code or a debugger into the single executable (--require ran foreign code in it, --inspect opened a debugger)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-node-options-"));
  try {
    const marker = join(dir, "ran");
    const foreign = join(dir, "foreign.cjs");
    writeFileSync(foreign, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");`);
    for (const options of [`--require=${foreign}`, "--inspect=127.0.0.1:0"]) {
      const r = await runSfx(["--version"], { env: { PATH: "/nonexistent", NODE_OPTIONS: options } });
      assert.equal([r.status, r.stdout, r.stderr], [0, `${VERSION}\n`, ""], options);
    }
    assert.equal(readdirSync(dir), ["foreign.cjs"], "the foreign code did not run");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("output whose reader is gone (sfx … | head) is dropped quietly: no stack trace, the command's own exit status", async () => {
  const child = spawn(SFX, ["--help"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy(); // the reader went away before sfx wrote a byte
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.is(stderr, "");
  assert.is(status, 0);
});

test("output that cannot be written (stdout on a full disk) is not a crash: one line on stderr says so, and the status is SFX_IO's (8), not success", async () => {
  // The shell only redirects, then becomes sfx.
  const child = spawn("/bin/sh", ["-c", 'exec "$0" --version >/dev/full', SFX], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.match(stderr, /^sfx: could not write the output: .*ENOSPC.*\n$/);
  assert.is(status, 8);
});

test("sfx receive --discard-kept deletes what interrupted transfers kept under --dir, says how much, and connects to nothing; a missing directory or a receiving option is an error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-discard-"));
  try {
    mkdirSync(join(dir, "sub"));
    const parts = [join(dir, ".big.iso.sfx-part"), join(dir, "sub", ".a.bin.sfx-part")];
    parts.forEach((p, i) => {
      writeFileSync(p, new Uint8Array(1024 * (i + 1)));
      writeFileSync(p.replace(/\.sfx-part$/, ".sfx-resume"), `exchange 99999 1 ${JSON.stringify(i ? "sub/a.bin" : "big.iso")}\n`);
    });
    writeFileSync(join(dir, "kept.txt"), "a finished file");
    const usage = await runSfx(["receive", "--discard-kept", "--dir", dir, "--yes"]);
    assert.is(usage.status, 2, "receiving options make no sense with it");
    assert.match(usage.stderr, /--discard-kept receives nothing: drop --yes/);
    const missing = await runSfx(["receive", "--discard-kept", "--dir", join(dir, "nowhere")]);
    assert.is(missing.status, 8, "a directory that is not there is an error, not 0 parts deleted");
    assert.match(missing.stderr, /no such file or directory/);
    const r = await runSfx(["receive", "--discard-kept", "--dir", dir]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Deleted 2 kept parts under .*: 3\.0 KiB freed\.$/m);
    assert.equal(readdirSync(dir, { recursive: true }).sort(), ["kept.txt", "sub"]);
    const again = await runSfx(["receive", "--discard-kept", "--dir", dir, "--json"]);
    assert.equal(JSON.parse(again.stdout.trim()), { event: "discarded-all", parts: 0, bytes: 0, failed: 0, left: 0, inUse: 0, truncated: false });
    // A part a live receiver is writing is left alone, and said so.
    const writer = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(join(dir, ".busy.bin.sfx-part"), new Uint8Array(10));
      writeFileSync(join(dir, ".busy.bin.sfx-resume"), 'exchange 99999 1 "busy.bin"\n');
      writeFileSync(join(dir, ".busy.bin.sfx-lock"), `${writer.pid} abc ${hostname()}\n`);
      const busy = await runSfx(["receive", "--discard-kept", "--dir", dir]);
      assert.is(busy.status, 0, busy.stderr);
      assert.match(busy.stdout, /^Deleted 0 kept parts under /m);
      assert.match(busy.stderr, /^1 was left alone: its lock names a live process \(a receive or share get writing it; if none runs, the process ID is now another program's: delete the \.sfx-lock beside it\)\.$/m);
      assert.ok(readdirSync(dir).includes(".busy.bin.sfx-part"));
    } finally {
      writer.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sfx --help lists every documented command and exits 0", async () => {
  const r = await runSfx(["--help"]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: sfx \[options\] \[command\]/);
  const listed = commandsIn(r.stdout);
  for (const c of DOCUMENTED) assert.ok(listed.includes(c), `'${c}' missing from --help: ${listed}`);
});

test("sfx <command> --help prints that command's usage and exits 0, for every command", async () => {
  const listed = commandsIn((await runSfx(["--help"])).stdout);
  assert.ok(listed.length >= DOCUMENTED.length);
  for (const c of listed) {
    const r = await runSfx([c, "--help"]);
    assert.is(r.status, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: sfx ${c} `), `${c} --help`);
    assert.is(r.stderr, "", `${c} --help`);
  }
});

test("sfx help <command> [<subcommand>] shows the same help as --help, down to share's subcommands", async () => {
  for (const words of [["send"], ["share"], ["share", "get"], ["share", "put"]]) {
    const viaHelp = await runSfx(["help", ...words]);
    const viaFlag = await runSfx([...words, "--help"]);
    assert.is(viaHelp.status, 0, viaHelp.stderr);
    assert.match(viaHelp.stdout, new RegExp(`^Usage: sfx ${words.join(" ")} `));
    assert.is(viaHelp.stdout, viaFlag.stdout);
  }
  for (const words of [["nosuch"], ["nosuch", "cmd"], ["share", "nosuch"]]) {
    const r = await runSfx(["help", ...words]);
    assert.is(r.status, 2, `help ${words.join(" ")}`);
    assert.is(r.stderr, `sfx: unknown command '${words.join(" ")}' (see 'sfx --help')\n`);
  }
});

test("sfx and sfx share with no command show their help on stderr and exit 2 (a usage error); asked for, help exits 0", async () => {
  for (const args of [[], ["share"]]) {
    const r = await runSfx(args);
    assert.is(r.status, 2, `sfx ${args.join(" ")}`);
    assert.is(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^Usage: sfx ${args.length ? "share " : ""}\\[options\\] \\[command\\]`));
  }
  assert.is((await runSfx(["help"])).status, 0);
});

test("sfx serve --help documents its options, and hides the internal --daemon-child", async () => {
  const r = await runSfx(["serve", "--help"]);
  for (const opt of ["--port", "--host", "--name", "--log-dir", "--log-level", "--daemon", "--stop", "--pid-file", "--quiet"]) {
    assert.ok(r.stdout.includes(opt), `serve --help lacks ${opt}`);
  }
  assert.not.ok(r.stdout.includes("--daemon-child"));
});

/** A usage error: exit 2, nothing on stdout, exactly one stderr line that names `what` (and, with `hint`, points to --help). */
async function assertUsageError(args: string[], what: string, hint: boolean | string = true): Promise<void> {
  const r = await runSfx(args);
  assert.is(r.status, 2, `sfx ${args.join(" ")}: status ${r.status}, stderr ${r.stderr}`);
  assert.is(r.stdout, "", `sfx ${args.join(" ")} stdout`);
  const lines = r.stderr.split("\n");
  assert.is(lines.pop(), "", "stderr ends with a newline");
  assert.is(lines.length, 1, `one stderr line, got: ${r.stderr}`);
  assert.ok(lines[0].startsWith("sfx: "), lines[0]);
  assert.ok(lines[0].includes(what), `'${lines[0]}' should name '${what}'`);
  if (hint) assert.ok(lines[0].includes(typeof hint === "string" ? hint : "--help"), `'${lines[0]}' should hint at ${hint === true ? "--help" : hint}`);
}

test("an unknown command is one stderr line naming it, exit 2; a near miss gets a suggestion", async () => {
  await assertUsageError(["frobnicate"], "frobnicate");
  await assertUsageError(["sned"], "sned' (Did you mean send?)");
});

test("a file whose name starts with a dash, taken for an option, gets a hint to write ./name or put -- first (only when such a file is there)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-dash-"));
  try {
    writeFileSync(join(dir, "-notes.txt"), "x");
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(SFX, args, { cwd: dir, env: { PATH: "/nonexistent", HOME: dir }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr!.on("data", (c) => (stderr += c));
        child.on("close", (status) => resolve({ status, stderr }));
      });
    const there = await run(["send", "--to", "123456", "-notes.txt"]);
    assert.is(there.status, 2);
    assert.is(there.stderr, "sfx: unknown option '-notes.txt' (the file -notes.txt? write ./-notes.txt, or put -- before the file names) (see 'sfx send --help')\n");
    const not = await run(["send", "--to", "123456", "-other.txt"]);
    assert.is(not.stderr, "sfx: unknown option '-other.txt' (see 'sfx send --help')\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unknown option is one stderr line naming it, exit 2 (top level and per command), pointing at that command's help", async () => {
  await assertUsageError(["--frobnicate"], "--frobnicate", "(see 'sfx --help')");
  await assertUsageError(["serve", "--frobnicate"], "--frobnicate", "(see 'sfx serve --help')");
  await assertUsageError(["discover", "--no-such-flag"], "--no-such-flag", "(see 'sfx discover --help')");
  await assertUsageError(["share", "get"], "code", "(see 'sfx share get --help')");
  await assertUsageError(["-v", "share", "get"], "code", "(see 'sfx share get --help')");
  // sfx's own usage errors too.
  const empty = mkdtempSync(join(tmpdir(), "sfx-empty-"));
  try {
    await assertUsageError(["send", "--to", "123456", "--server", "127.0.0.1:9", empty], "Nothing to send", "(see 'sfx send --help')");
  } finally {
    rmSync(empty, { recursive: true });
  }
});

test("started in a directory since removed, a command that needs it says so (SFX_IO, exit 8), not as a bug", async () => {
  const gone = mkdtempSync(join(tmpdir(), "sfx-gone-"));
  for (const args of [["receive", "--server", "127.0.0.1:9", "--once"], ["send", "--to", "123456", "--server", "127.0.0.1:9", "file.txt"]]) {
    const child = spawn("sh", ["-c", `d=$1 bin=$2; shift 2; mkdir -p "$d" && cd "$d" && rmdir "$d" && exec "$bin" "$@"`, "sh", gone, SFX, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.is(stderr, "sfx: The current directory no longer exists (it was removed): change to another one, or give absolute paths and --dir\n", args[0]);
    assert.is(status, 8);
  }
});

test("a bad option value is one stderr line naming the value, exit 2", async () => {
  await assertUsageError(["serve", "--port", "99999"], "99999", false);
  await assertUsageError(["serve", "--port", "http"], "http", false);
  await assertUsageError(["serve", "--log-level", "loud"], "loud");
  await assertUsageError(["serve", "--daemon", "--max-share-bytes", "lots"], "lots", false);
  // Judged before connecting (port 9: nothing listens), in the flag's words.
  await assertUsageError(["share", "put", "README.md", "--max-downloads", "2000000", "--server", "127.0.0.1:9"], "--max-downloads '2000000': at most 1000000");
  // --name names standard input: given with files only, it would be ignored, and the file arrive under its own name.
  await assertUsageError(["send", "--to", "123456", "README.md", "--name", "renamed.md", "--server", "127.0.0.1:9"], "--name names standard input: give '-' among the paths");
  await assertUsageError(["share", "put", "README.md", "--name", "renamed.md", "--server", "127.0.0.1:9"], "--name names standard input: give '-' among the paths");
  await assertUsageError(["send", "--to", "123456", "--verify", "README.md", "--server", "127.0.0.1:9"], "--verify asks you to type the code the receiver shows: it needs a terminal on standard input");
});

test("an error naming a file shows the name printable on stderr (no escape sequence reaches the terminal); --json keeps it exact", async () => {
  const name = "/nonexistent/x\u001b[2J\u200b.bin";
  const r = await runSfx(["send", "--to", "123456", name, "--server", "127.0.0.1:9"]);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, "x\ufffd[2J\ufffd.bin");
  assert.not.match(r.stderr, "\u001b");
  const j = await runSfx(["send", "--json", "--to", "123456", name, "--server", "127.0.0.1:9"]);
  assert.match(JSON.parse(j.stdout.trim().split("\n").at(-1)!).message, "x\u001b[2J\u200b.bin");
});

test("with --json, a usage error from the option parser is an error event on stdout too", async () => {
  const r = await runSfx(["send", "--json", "--to", "123456", "--bogus", "README.md"]);
  assert.is(r.status, 2);
  assert.equal(JSON.parse(r.stdout.trim()), { event: "error", code: "SFX_USAGE", message: "unknown option '--bogus'" });
  assert.match(r.stderr, /unknown option '--bogus'/);
});

test("`--json` after `--` is a file's name, not the option: the error is a line on stderr, nothing on stdout", async () => {
  const r = await runSfx(["send", "--to", "123456", "--server", "127.0.0.1:9", "--", "--json"]);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, /Cannot read --json/);
  assert.is(r.stdout, "");
});

test("serve --daemon with --stop is a usage error, exit 2", async () => {
  await assertUsageError(["serve", "--daemon", "--stop"], "--stop");
});

test.run();
