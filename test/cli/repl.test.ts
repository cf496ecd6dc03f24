/**
 * The `sfx client` prompt's parser and dispatcher: words, the `send <id>`
 * shorthand, every command reaching its action with the flags commander
 * parsed (the one-shot definitions), errors as one line, completion.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Command } from "commander";
import { homedir } from "node:os";
import { join } from "node:path";
import { buildProgram } from "../../src/cli/main.ts";
import {
  buildSessionProgram,
  COMMAND_WORDS,
  dispatchLine,
  errorLine,
  helpText,
  normalizeWords,
  SESSION_HELP,
  type SessionActions,
} from "../../src/cli/repl/commands.ts";
import { completePath, makeCompleter } from "../../src/cli/repl/completer.ts";
import { lastWord, quoteWord, splitWords } from "../../src/cli/repl/words.ts";
import { progressText } from "../../src/cli/repl/session.ts";
import { missedCodeLine, roughDuration } from "../../src/cli/progress.ts";
import { isSfxError, SfxError } from "../../src/errors.ts";

/** Actions that record what they were called with. */
function recorder(): { actions: SessionActions; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const rec = (name: string) => (...args: unknown[]) => {
    calls.push([name, ...args]);
  };
  const actions: SessionActions = {
    id: rec("id"),
    send: rec("send"),
    receive: rec("receive"),
    sharePut: rec("sharePut"),
    shareLs: rec("shareLs"),
    shareGet: rec("shareGet"),
    connect: rec("connect"),
    disconnect: rec("disconnect"),
    discover: rec("discover"),
    status: rec("status"),
    help: rec("help"),
    quit: rec("quit"),
  };
  return { actions, calls };
}

async function run(line: string): Promise<{ calls: unknown[][]; out: string }> {
  const { actions, calls } = recorder();
  let out = "";
  await dispatchLine(line, actions, (t) => (out += t));
  return { calls, out };
}

test("splitWords() splits on spaces and keeps quoted spaces and escapes", () => {
  const table: Array<[string, string[]]> = [
    ["", []],
    ["   ", []],
    ["send 482913 a.txt", ["send", "482913", "a.txt"]],
    ["  send\t482913   a.txt  ", ["send", "482913", "a.txt"]],
    [`send 1234 "my file.txt" 'it''s'`, ["send", "1234", "my file.txt", "its"]],
    [`send 1234 my\\ file.txt`, ["send", "1234", "my file.txt"]],
    [`send 1234 "a \\"quoted\\" name"`, ["send", "1234", `a "quoted" name`]],
    [`share get CODE ""`, ["share", "get", "CODE", ""]],
    [`x 'a\\b'`, ["x", "a\\b"]],
  ];
  for (const [line, words] of table) assert.equal(splitWords(line), words, line);
});

test("splitWords() with a home directory expands an unquoted leading ~ or ~/ as a shell does; quoted or escaped, ~ stays", () => {
  const table: Array<[string, string[]]> = [
    ["send 1 ~/a.txt ~", ["send", "1", "/home/u/a.txt", "/home/u"]],
    [`send 1 ~/"my file.txt" ~/docs/`, ["send", "1", "/home/u/my file.txt", "/home/u/docs/"]],
    [`send 1 "~/a" '~' \\~/b`, ["send", "1", "~/a", "~", "~/b"]],
    ["send 1 a~ ~user/x x/~/y --dir=~/x", ["send", "1", "a~", "~user/x", "x/~/y", "--dir=~/x"]],
  ];
  for (const [line, words] of table) assert.equal(splitWords(line, "/home/u"), words, line);
  assert.equal(splitWords("send 1 ~/a.txt"), ["send", "1", "~/a.txt"], "without a home, ~ is kept");
});

test("dispatchLine() gives the actions paths with ~ expanded to the home directory", async () => {
  assert.equal((await run("send 482913 ~/file '~/kept'")).calls, [["send", "482913", [join(homedir(), "file"), "~/kept"], { name: undefined, json: undefined, verify: undefined }]]);
  assert.equal((await run("share put ~/a")).calls, [["sharePut", [join(homedir(), "a")], { expires: undefined, maxDownloads: undefined, json: undefined }]]);
  assert.equal((await run("share get CODE x --dir ~/x")).calls, [["shareGet", "CODE", ["x"], { dir: join(homedir(), "x"), overwrite: undefined, json: undefined }]]);
});

test("splitWords() refuses an unclosed quote with SFX_USAGE", () => {
  for (const line of [`send 1 "abc`, `send 1 'abc`]) {
    try {
      splitWords(line);
      assert.unreachable(line);
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_USAGE"), String(err));
      assert.match((err as Error).message, /Unclosed/);
    }
  }
});

test("quoteWord() and lastWord() round-trip names with spaces", () => {
  assert.is(quoteWord("plain.txt"), "plain.txt");
  assert.is(quoteWord("my file.txt"), `"my file.txt"`);
  assert.equal(splitWords(`send 1 ${quoteWord(`odd "name"`)}`), ["send", "1", `odd "name"`]);
  assert.equal(lastWord("send 1234 fo"), { start: 10, word: "fo" });
  assert.equal(lastWord(`send 1234 "my fi`), { start: 10, word: "my fi" });
  assert.equal(lastWord("send 1234 "), { start: 10, word: "" });
});

test("normalizeWords() turns 'send <code|id> <path>…' into the one-shot 'send --to <code|id> <path>…'", () => {
  const table: Array<[string[], string[]]> = [
    [["send", "482913", "a", "b"], ["send", "--to", "482913", "a", "b"]],
    // As the screen shows an ID, in two groups: one ID.
    [["send", "482", "913", "a"], ["send", "--to", "482913", "a"]],
    // Digit groups after an ID are the code's (a file named so is written ./123).
    [["send", "482913", "123", "456"], ["send", "--to", "482913123456"]],
    [["send", "482913", "./123", "./456"], ["send", "--to", "482913", "./123", "./456"]],
    [["send", "482913", "2024", "a"], ["send", "--to", "482913", "2024", "a"]],
    // A code, in four groups: one word; a fifth group is a path.
    [["send", "482", "913", "305", "117", "a"], ["send", "--to", "482913305117", "a"]],
    [["send", "482", "913", "305", "117", "123"], ["send", "--to", "482913305117", "123"]],
    [["send", "482-913-305-117", "a"], ["send", "--to", "482-913-305-117", "a"]],
    // Three groups are a code with one missing (refused when parsed: nine digits), not an ID and a
    // file; two of six are a code; groups past a code's twelve digits are paths.
    [["send", "482", "913", "100", "a"], ["send", "--to", "482913100", "a"]],
    [["send", "382-118", "680-934", "a"], ["send", "--to", "382-118680-934", "a"]],
    [["send", "482913", "305117", "a"], ["send", "--to", "482913305117", "a"]],
    [["send", "482913", "305117", "100", "a"], ["send", "--to", "482913305117", "100", "a"]],
    [["send", "--to", "482913", "a"], ["send", "--to", "482913", "a"]],
    [["send", "--to=482913", "a"], ["send", "--to=482913", "a"]],
    [["send", "--json", "482913", "a"], ["send", "--json", "--to", "482913", "a"]],
    [["send", "--name", "n", "482913", "-"], ["send", "--name", "n", "--to", "482913", "-"]],
    [["send"], ["send"]],
    // Not digits: paths, sent by this client's code.
    [["send", "a.txt", "b"], ["send", "a.txt", "b"]],
    [["send", "--json", "./482913"], ["send", "--json", "./482913"]],
    [["?"], ["help"]],
    [["share", "put", "a"], ["share", "put", "a"]],
  ];
  for (const [input, expected] of table) assert.equal(normalizeWords(input), expected, input.join(" "));
});

test("dispatchLine() runs each command's action with what commander parsed", async () => {
  const table: Array<[string, unknown[]]> = [
    ["id", ["id"]],
    ["send 482913 a.txt dir/", ["send", "482913", ["a.txt", "dir/"], { name: undefined, json: undefined, verify: undefined }]],
    ["send 482913 a.txt --verify", ["send", "482913", ["a.txt"], { name: undefined, json: undefined, verify: true }]],
    ["send 482-913 a.txt --json", ["send", "482-913", ["a.txt"], { name: undefined, json: true, verify: undefined }]],
    ["send --to 482913 a.txt", ["send", "482913", ["a.txt"], { name: undefined, json: undefined, verify: undefined }]],
    ["send a.txt dir/", ["send", undefined, ["a.txt", "dir/"], { name: undefined, json: undefined, verify: undefined }]],
    ["receive 482-913-305-117", ["receive", "482-913-305-117"]],
    ["receive 482 913 305 117", ["receive", "482 913 305 117"]],
    ["share put a b --expires 1h --max-downloads 3", ["sharePut", ["a", "b"], { expires: "1h", maxDownloads: "3", json: undefined }]],
    ["share ls ABCD-EFGH --json", ["shareLs", "ABCD-EFGH", { json: true }]],
    ["share ls 7kq2 m9xd 4t1f hb6r w3np", ["shareLs", "7kq2-m9xd-4t1f-hb6r-w3np", { json: undefined }]],
    ["share get 7KQ2 M9XD 4T1F HB6R W3NP a.txt", ["shareGet", "7KQ2-M9XD-4T1F-HB6R-W3NP", ["a.txt"], { dir: undefined, overwrite: undefined, json: undefined }]],
    ["share get CODE", ["shareGet", "CODE", [], { dir: undefined, overwrite: undefined, json: undefined }]],
    ["share get CODE x 'y z' -d out --overwrite", ["shareGet", "CODE", ["x", "y z"], { dir: "out", overwrite: true, json: undefined }]],
    ["connect", ["connect", undefined]],
    ["connect 127.0.0.1:7000", ["connect", "127.0.0.1:7000"]],
    ["connect 2", ["connect", "2"]],
    ["disconnect", ["disconnect"]],
    ["status", ["status"]],
    ["quit", ["quit"]],
    ["exit", ["quit"]],
  ];
  for (const [line, expected] of table) {
    const { calls, out } = await run(line);
    assert.is(out, "", `${line}: ${out}`);
    assert.equal(calls, [expected], line);
  }
});

test("dispatchLine() parses discover's flags with the one-shot definitions (duration, port, unicast target)", async () => {
  const { calls } = await run("discover -t 250ms --port 7000 --to 127.0.0.1:7001");
  assert.equal(calls, [["discover", { timeoutMs: 250, port: 7000, group: "239.255.69.69", interfaces: undefined, target: { address: "127.0.0.1", port: 7001 } }, { json: undefined }]]);
  const bad = await run("discover -t soon");
  assert.equal(bad.calls, []);
  assert.match(bad.out, /Invalid duration 'soon'/);
});

test("normalizeWords() never joins a word that names a file into the code: send 482913 123456 sends the file 123456 to the ID", () => {
  const files = new Set(["123456", "100"]);
  const isPath = (w: string) => files.has(w);
  assert.equal(normalizeWords(["send", "482913", "123456", "a"], isPath), ["send", "--to", "482913", "123456", "a"]);
  assert.equal(normalizeWords(["send", "482", "913", "100"], isPath), ["send", "--to", "482913", "100"]);
  assert.equal(normalizeWords(["send", "482913", "305117", "a"], isPath), ["send", "--to", "482913305117", "a"]);
  // A first word that names a file is a path too: a send by this client's code.
  assert.equal(normalizeWords(["send", "123456", "a"], isPath), ["send", "123456", "a"]);
});

test("the session's send takes its receiver from the line only, never from SFX_TO (sfx send's default): without one it is a send by code", async () => {
  const before = process.env.SFX_TO;
  process.env.SFX_TO = "482913305117";
  try {
    const { calls, out } = await run("send -- a.txt");
    assert.equal(calls, [["send", undefined, ["a.txt"], { name: undefined, json: undefined, verify: undefined }]]);
    assert.is(out, "");
  } finally {
    if (before === undefined) delete process.env.SFX_TO;
    else process.env.SFX_TO = before;
  }
});

test("a miss is said against the code's three, and in its last round against the nine after which codes are off", () => {
  assert.match(missedCodeLine(1, 1), /1 of 3: at 3 your code changes\.$/);
  assert.match(missedCodeLine(2, 5), /2 of 3: at 3 your code changes\.$/);
  assert.match(missedCodeLine(1, 7), /7 of 9 in all: at 9 codes are turned off\.$/);
  assert.match(missedCodeLine(2, 8), /8 of 9 in all: at 9 codes are turned off\.$/);
});

test("dispatchLine() answers a bad line with one line and a hint, never throwing", async () => {
  const table: Array<[string, RegExp]> = [
    ["bogus", /^unknown command 'bogus' \(type 'help'\)\n$/],
    ["sned 1234 a", /^unknown command 'sned'.*\(Did you mean send\?\)/],
    ["send", /^Usage: send \[code\|id\] <path>… \(type 'help send'\)\n$/],
    ["send 482913", /^Usage: send \[code\|id\] <path>… \(type 'help send'\)\n$/],
    ["receive", /^missing required argument 'code'/],
    ["share put", /^missing required argument 'paths' \(type 'help'\)\n$/],
    ["share", /share/],
    ["share ls", /^missing required argument 'code'/],
    ["share put a --expires", /^option '--expires <when>' argument missing/],
    ["share put a --bogus", /^unknown option '--bogus'/],
    ["id now", /^too many arguments for 'id'/],
    [`send 1234 "open`, /^Unclosed double quote\n$/],
    ["send 482913 a --server 10.0.0.1", /^--server does not apply here: .*connect <host\[:port\]>/],
    ["share get CODE -s 10.0.0.1:1", /^--server does not apply here/],
  ];
  for (const [line, re] of table) {
    const { calls, out } = await run(line);
    assert.equal(calls, [], line);
    assert.match(out, re, `${line} → ${JSON.stringify(out)}`);
    assert.is(out.trim().split("\n").length >= 1, true);
  }
});

test("dispatchLine() turns an action's error into one line (SfxError message, usage hint)", async () => {
  const { actions } = recorder();
  actions.send = () => {
    throw new SfxError("SFX_BAD_ARGUMENT", "Invalid receiver ID '12'");
  };
  actions.status = () => Promise.reject(new SfxError("SFX_CONNECTION_LOST", "The server stopped responding"));
  let out = "";
  await dispatchLine("send 12 a", actions, (t) => (out += t));
  await dispatchLine("status", actions, (t) => (out += t));
  assert.is(out, "Invalid receiver ID '12' (type 'help')\nThe server stopped responding\n");
  assert.is(errorLine(new SfxError("SFX_USAGE", "Not connected: type 'connect'")), "Not connected: type 'connect'");
  // A megabyte path pasted comes back cut in its middle, the reason at its end kept.
  const long = errorLine(new SfxError("SFX_IO", `Cannot read ${"a".repeat(1_000_000)}: no such file`));
  assert.ok(long.length <= 1000, `${long.length} characters`);
  assert.match(long, /^Cannot read a+…a+: no such file$/);
  // And at most 20 lines.
  const many = errorLine(new SfxError("SFX_IO", Array.from({ length: 1000 }, (_, i) => `line ${i}`).join("\n")));
  assert.is(many.split("\n").length, 20);
  assert.match(many, /\n… \(981 more lines\)$/);
});

test("help lists every session command; 'help <command>' shows its options without --server", async () => {
  const { calls } = await run("help");
  const text = String(calls[0][1]);
  for (const word of ["id", "send <code|id> <path>", "send <path>", "receive <code>", "share put", "share ls", "share get", "connect", "disconnect", "discover", "status", "help", "quit"]) {
    assert.ok(text.includes(word), `help mentions ${word}`);
  }
  const get = String((await run("help share get")).calls[0][1]);
  assert.match(get, /^Usage: share get \[options\] <code> \[names\.\.\.\]/);
  assert.match(get, /--dir <dir>/);
  // The session's own --dir is where a get goes, not the one-shot's ".".
  assert.match(get, /\(default: the session's --dir\)/);
  assert.not.match(get, /default: "\."/);
  assert.not.match(get, /--server/);
  const send = String((await run("help send")).calls[0][1]);
  assert.match(send, /^Usage: send \[code\|id\] <paths\.\.\.>/);
  // Standard input carries the session's commands: neither `-` nor --name is offered.
  for (const help of [send, String((await run("help share put")).calls[0][1])]) {
    assert.not.match(help, /--name|standard input/);
  }
  assert.match((await run("share put a --name b")).out, /--name names standard input, which carries this session's commands/);
  // Else ignored: the file would arrive under its own name.
  const named = await run("send 123456 a --name b");
  assert.match(named.out, /--name names standard input, which carries this session's commands/);
  assert.equal(named.calls.filter((c) => c[0] === "send"), [], "nothing sent");
  const missing = await run("help nothing");
  assert.match(missing.out, /No command 'nothing'/);
  // commander's own --help goes to the screen too, without the program name.
  const dash = await run("share put --help");
  assert.equal(dash.calls, []);
  assert.match(dash.out, /^Usage: share put \[options\] <paths\.\.\.>/);
  assert.match(dash.out, /--expires <when>/);
});

test("help fits the terminal's width: a table when it fits, else each description on its own lines, wrapped between words", () => {
  const program = buildSessionProgram(recorder().actions, () => {});
  const wide = helpText(program, [], 200).split("\n");
  assert.is(wide.length, SESSION_HELP.length + 2, "one line per command");
  for (const [c, d] of SESSION_HELP) assert.ok(wide.some((l) => l.startsWith(`  ${c} `) && l.endsWith(`  ${d}`)), c);
  for (const columns of [80, 66, 40]) {
    const lines = helpText(program, [], columns).split("\n");
    // A command longer than the terminal (share put's, 62 characters) is left to the terminal to wrap.
    const commands = new Set(SESSION_HELP.map(([c]) => `  ${c}`));
    for (const l of lines) assert.ok(l.length < columns || commands.has(l), `${columns} columns: ${JSON.stringify(l)}`);
    for (const [c, d] of SESSION_HELP) {
      const at = lines.indexOf(`  ${c}`);
      assert.ok(at > 0, `${columns} columns: '${c}' has a line of its own`);
      const below: string[] = [];
      for (let i = at + 1; i < lines.length && lines[i].startsWith("      "); i++) below.push(lines[i].trim());
      assert.is(below.join(" "), d, `${columns} columns: the description of '${c}', words whole`);
    }
  }
});

/** Every long flag of a command, sorted. */
function flagsOf(cmd: Command): string[] {
  return cmd.options.map((o) => o.flags).sort();
}

function sub(cmd: Command, ...path: string[]): Command {
  let c: Command | undefined = cmd;
  for (const p of path) c = c?.commands.find((x) => x.name() === p);
  if (!c) throw new Error(`no ${path.join(" ")}`);
  return c;
}

test("the session's send, share and discover are the one-shot commands' definitions (same flags, same arguments)", () => {
  const oneShot = buildProgram({ status: 0 });
  const session = buildSessionProgram(recorder().actions, () => {});
  for (const path of [["send"], ["share", "put"], ["share", "ls"], ["share", "get"], ["discover"]]) {
    const a = sub(oneShot, ...path);
    const b = sub(session, ...path);
    assert.equal(flagsOf(b), flagsOf(a), path.join(" "));
    assert.equal(b.registeredArguments.map((x) => x.name()), a.registeredArguments.map((x) => x.name()), path.join(" "));
  }
});

test("completion offers commands, share subcommands, options and file names", () => {
  const files: Record<string, Array<{ name: string; dir: boolean }>> = {
    "/w": [{ name: "docs", dir: true }, { name: "data.bin", dir: false }, { name: "my file.txt", dir: false }, { name: ".hidden", dir: false }],
    "/w/docs/": [{ name: "a.md", dir: false }],
  };
  const complete = makeCompleter(() => buildSessionProgram(recorder().actions, () => {}), {
    cwd: () => "/w",
    list: (d) => files[d] ?? files[d.replace(/\/$/, "")] ?? [],
  });
  assert.equal(complete(""), [COMMAND_WORDS.map((w) => `${w} `), ""]);
  assert.equal(complete("di"), [["disconnect ", "discover "], "di"]);
  assert.equal(complete("sh"), [["share "], "sh"]);
  assert.equal(complete("share g"), [["get "], "g"]);
  assert.equal(complete("help sh"), [["share "], "sh"]);
  assert.equal(complete("share put a --ex"), [["--expires "], "--ex"]);
  assert.equal(complete("share get C --"), [["--dir ", "--overwrite ", "--json ", "--help "], "--"]);
  assert.equal(complete("send 482913 d"), [["data.bin ", "docs/"], "d"]);
  assert.equal(complete("send 482913 docs/"), [["docs/a.md "], "docs/"]);
  assert.equal(complete("share put my"), [[`"my file.txt" `], "my"]);
  assert.equal(complete(`share put "my f`), [[`"my file.txt" `], `"my f`]);
  assert.equal(complete("send 482913 ."), [[".hidden "], "."]);
  assert.equal(complete("status x"), [[], "x"]);
  assert.equal(completePath("nothing", "/w", () => []), []);
});

test("completion of ~/ paths lists the home directory and quotes after the ~/, so the line runs with ~ expanded", () => {
  const home: Record<string, Array<{ name: string; dir: boolean }>> = {
    [homedir()]: [{ name: "my file.txt", dir: false }, { name: "my dir", dir: true }, { name: "notes", dir: false }],
  };
  const complete = makeCompleter(() => buildSessionProgram(recorder().actions, () => {}), { cwd: () => "/w", list: (d) => home[d] ?? [] });
  assert.equal(complete("send 1 ~"), [["~/"], "~"]);
  assert.equal(complete("send 1 ~/no"), [["~/notes "], "~/no"]);
  const [hits, raw] = complete("send 1 ~/my");
  assert.equal([hits, raw], [[`~/"my dir/`, `~/"my file.txt" `], "~/my"]);
  // What completion wrote is what dispatch reads: the home directory's file.
  const line = `send 1 ${hits[1]}`;
  assert.equal(splitWords(line, homedir()), ["send", "1", join(homedir(), "my file.txt")]);
  assert.equal(complete(`send 1 ~/"my f`), [[`~/"my file.txt" `], `~/"my f`]);
});

test("progressText() fits a transfer in the prompt: percent, bytes, rate", () => {
  assert.is(progressText("send", 512 * 1024, 1024 * 1024, 1000, 2000), "send 50% 512 KiB/1.0 MiB 524 kB/s");
  assert.is(progressText("recv", 3 * 1024 * 1024, null, 0, 1000), "recv 3.0 MiB 3.1 MB/s");
  // Resumed from 2 MiB kept earlier: the rate counts the 1 MiB that moved.
  assert.is(progressText("recv", 3 * 1024 * 1024, 4 * 1024 * 1024, 0, 1000, 2 * 1024 * 1024), "recv 75% 3.0 MiB/4.0 MiB 1.0 MB/s");
  assert.is(progressText("up", 10, 10, 0, 1000), "up 100% 10 B/10 B 10 B/s");
});

test("roughDuration() says how long until a share expires, to the minute", () => {
  const table: Array<[number, string]> = [
    [0, "0s"],
    [40_400, "40s"],
    [5 * 60_000, "5m"],
    [2 * 3_600_000 - 3, "2h"],
    [2 * 3_600_000 - 61_000, "1h 59m"],
    [86_400_000, "1d"],
    [30 * 3_600_000, "1d 6h"],
    [7 * 86_400_000, "7d"],
    [-5, "0s"],
  ];
  for (const [ms, text] of table) assert.is(roughDuration(ms), text, String(ms));
});

test.run();
