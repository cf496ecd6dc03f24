/**
 * `sfx client` driven as a person would: the built binary in a real
 * pseudo-terminal (tmux: send-keys, capture-pane), against a real
 * `sfx serve` on 127.0.0.1, with one-shot `sfx send`/`sfx receive` and a
 * second `sfx client` on the other end. Checks the screen and the files.
 *
 * Skipped, loudly, when tmux is absent (CI installs it).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bareEnv } from "../cli/_sfx.ts";
import { cleanupAll, ensureBinary, events, pattern, SFX, type Server, sfx, sha256, startReceive, startServe, tmp, treeHashes } from "./_exchange.ts";

const TMUX = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"].find((p) => existsSync(p));
/** One tmux server per test run, on its own socket in a temporary directory: nothing shared with anyone's tmux. */
const SOCKET = join(tmp("sfx-tmux-"), "s");

function tmux(...args: string[]): string {
  const r = spawnSync(TMUX!, ["-S", SOCKET, ...args], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** Single-quotes for sh. */
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** What a receiver keeps of big.img when its transfer is broken off: the part and its note, nothing under the final name. */
const KEPT = ".big.img.sfx-part,.big.img.sfx-resume";

let sessions = 0;

/** A `sfx client` in its own tmux window (200×50), as a person sees it. */
class Pane {
  readonly name: string;
  constructor(args: string[], opts: { cwd: string; home?: string; command?: string }) {
    this.name = `c${++sessions}`;
    const env = Object.entries(bareEnv(opts.home ?? tmp("sfx-home-"))).map(([k, v]) => `${k}=${sh(v)}`).join(" ");
    // After sfx exits, say how, and keep the pane so the test can read it.
    const cmd = `cd ${sh(opts.cwd)} && env -i ${env} TERM=xterm ${sh(SFX)} ${opts.command ?? "client"} ${args.map(sh).join(" ")}; echo "[sfx exited $?]"; sleep 600`;
    tmux("new-session", "-d", "-s", this.name, "-x", "200", "-y", "50", cmd);
  }

  /** The screen and its scrollback, wrapped lines joined. */
  screen(): string {
    return tmux("capture-pane", "-p", "-J", "-S", "-2000", "-t", this.name);
  }

  /** The line the cursor is on (the prompt and what is typed). */
  promptLine(): string {
    const lines = tmux("capture-pane", "-p", "-J", "-t", this.name).split("\n");
    const y = Number(tmux("display-message", "-p", "-t", this.name, "#{cursor_y}").trim());
    return lines[y] ?? "";
  }

  /** Types text (literally), then presses Enter unless `enter` is false. */
  type(text: string, enter = true): void {
    if (text) tmux("send-keys", "-t", this.name, "-l", text);
    if (enter) tmux("send-keys", "-t", this.name, "Enter");
  }

  /** Presses keys by name (C-c, Tab, Up, Enter). */
  keys(...keys: string[]): void {
    tmux("send-keys", "-t", this.name, ...keys);
  }

  /** Polls the screen until `re` matches (after `from` characters of it); fails after `ms`. */
  async waitFor(re: RegExp, ms = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let text = "";
    while (Date.now() < deadline) {
      text = this.screen().slice(from);
      const m = text.match(re);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`The client's screen did not show ${re} within ${ms} ms. Screen:\n${this.screen()}`);
  }

  /** Types a command and waits for what it prints (only in output after the command). */
  run(command: string, re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const from = this.screen().trimEnd().length;
    this.type(command);
    return this.waitFor(re, ms, from);
  }

  /** The ID shown by the last "Your (new) ID" line. */
  async id(): Promise<string> {
    await this.waitFor(/Your (new )?ID:\s+(\d{3} \d{3})/);
    const all = [...this.screen().matchAll(/Your (?:new )?ID:\s+(\d{3} \d{3})/g)];
    return all.at(-1)![1].replace(" ", "");
  }

  /** The receive code the session shows under its ID (the last shown). */
  async code(): Promise<string> {
    await this.waitFor(/Code:\s+(\d{3}-\d{3}-\d{3}-\d{3})/);
    return [...this.screen().matchAll(/Code:\s+(\d{3}-\d{3}-\d{3}-\d{3})/g)].at(-1)![1];
  }

  /** Sends `sig` to the sfx process itself (not a key: as `kill -INT` or a service manager would). */
  signal(sig: NodeJS.Signals): void {
    const shell = tmux("display-message", "-p", "-t", this.name, "#{pane_pid}").trim();
    const r = spawnSync("pgrep", ["-P", shell], { encoding: "utf8" });
    const pid = Number(r.stdout.trim().split("\n")[0]);
    if (!pid) throw new Error(`no sfx process under the pane's shell ${shell}`);
    process.kill(pid, sig);
  }

  kill(): void {
    try {
      tmux("kill-session", "-t", this.name);
    } catch {
      // gone
    }
  }
}

if (!TMUX) {
  const bar = "!".repeat(78);
  console.warn(`\n${bar}\n!!! SKIPPED: the sfx client tests in a terminal (test/e2e/client.test.ts)\n!!! because: tmux is not installed (apt-get install tmux; CI installs it)\n${bar}\n`);
  test.skip("sfx client in a pseudo-terminal (needs tmux)", () => {});
  test.run();
} else {
  let server: Server;
  const panes: Pane[] = [];
  const pane = (args: string[], opts: { cwd: string; home?: string; command?: string }) => {
    const p = new Pane(args, opts);
    panes.push(p);
    return p;
  };

  test.before(async () => {
    await ensureBinary();
    server = await startServe(["--storage", tmp("sfx-store-")]);
  });

  test.after(async () => {
    for (const p of panes) p.kill();
    try {
      tmux("kill-server");
    } catch {
      // no sessions left
    }
    await cleanupAll();
  });

  test("connects, shows its ID, and takes a file offered while the user is typing (y/N, then the typed line is back)", async () => {
    const dir = tmp("sfx-client-a-");
    const src = tmp("sfx-src-");
    const data = pattern(3 * 1024 * 1024 + 17, 7);
    writeFileSync(join(src, "photo.jpg"), data);
    // What an interrupted transfer left: the session says so as it starts.
    writeFileSync(join(dir, ".old.iso.sfx-part"), new Uint8Array(3072));
    writeFileSync(join(dir, ".old.iso.sfx-resume"), `exchange 2097152 1700000000000 "old.iso"\n`);
    const a = pane(["--server", server.address], { cwd: dir });
    const id = await a.id();
    await a.waitFor(/Kept from interrupted transfers, 3\.0 KiB in all \(the same file sent again resumes from there\):\n  old\.iso: 3\.0 KiB of 2\.0 MiB\n/);
    await a.waitFor(/Connected to e2e \(sfx [\d.]+\) at 127\.0\.0\.1:\d+/);
    assert.match(a.promptLine(), `sfx ${id.slice(0, 3)} ${id.slice(3)}> `);

    a.type("stat", false);
    const sender = sfx(["send", "--to", id, join(src, "photo.jpg"), "--server", server.address]);
    // Sent to the ID alone: the note says to compare the verification code.
    const offer = await a.waitFor(/(\d{3} \d{3}) wants to send you 1 file \(3\.0 MiB\):\n\s+photo\.jpg\s+3\.0 MiB\n\(sent to your ID alone, not your code: compare the verification code with the sender before you trust the files\)\nAccept from \d{3} \d{3} into (.*)\? \[y\/N\]/);
    assert.is(offer[2], dir);
    assert.match(a.promptLine(), /^Accept from .*\[y\/N\]\s*$/, "the half-typed 'stat' makes way for the question");
    a.type("y");
    await a.waitFor(/Received 1 file, 3\.0 MiB in .* every hash verified\./);
    assert.match(a.screen(), /received photo\.jpg \(3\.0 MiB, SHA-256 [0-9a-f]{16}…\)/);
    assert.is((await sender.exit()).status, 0, sender.err());
    // Enciphered: the session shows the code the sender shows.
    const code = /Verification code (\d{3}-\d{3}): the receiver sees the same/.exec(sender.err())?.[1];
    assert.ok(code, sender.err());
    assert.match(a.screen().replace(/\n/g, " "), new RegExp(`Enciphered end to end\\. Verification code ${code}: the sender sees the same`));
    assert.is(sha256(readFileSync(join(dir, "photo.jpg"))), sha256(data));
    // What the user had typed is back on the prompt: finish the word and run it.
    assert.match(a.promptLine(), new RegExp(`sfx ${id.slice(0, 3)} ${id.slice(3)}> stat$`));
    const from = a.screen().trimEnd().length;
    a.type("us");
    await a.waitFor(new RegExp(`Your ID: ${id.slice(0, 3)} ${id.slice(3)}\\nYour code: ${id.slice(0, 3)}-${id.slice(3)}-\\d{3}-\\d{3}\\nReceived files go to ${dir}\\.\\nNo transfer running\\.`), 10_000, from);
    a.type("quit");
    await a.waitFor(/Bye\.\n\[sfx exited 0\]/);
  });

  test("sends files and a directory to a one-shot receiver, with the same hashes", async () => {
    const src = tmp("sfx-src-");
    mkdirSync(join(src, "tree/sub"), { recursive: true });
    writeFileSync(join(src, "a file.bin"), pattern(200_000, 1));
    writeFileSync(join(src, "tree/x.txt"), "x".repeat(1000));
    writeFileSync(join(src, "tree/sub/y.bin"), pattern(70_000, 3));
    const out = tmp("sfx-recv-");
    const receiver = await startReceive(server, out, ["--yes", "--once"]);
    const a = pane(["--server", server.address], { cwd: src });
    await a.id();
    await a.run(`send ${receiver.id} "a file.bin" tree`, /Sent 3 files, .* to \d{3} \d{3}; the receiver verified every file\./);
    assert.match(a.screen(), /Offering 3 files \(.*\) to \d{3} \d{3}; waiting for them to accept/);
    assert.is((await receiver.exit()).status, 0, receiver.err());
    assert.equal(treeHashes(out), treeHashes(src));
    assert.ok(events(receiver).some((e) => e.event === "done"));
    a.type("quit");
    await a.waitFor(/\[sfx exited 0\]/);
  });

  test("share put, ls and get between two clients; get resumes nothing and hashes match", async () => {
    const src = tmp("sfx-src-");
    mkdirSync(join(src, "album"));
    writeFileSync(join(src, "notes.txt"), "hello from the share\n");
    writeFileSync(join(src, "album/one.bin"), pattern(500_000, 11));
    const a = pane(["--server", server.address], { cwd: src });
    const bDir = tmp("sfx-client-b-");
    const b = pane(["--server", server.address, "--dir", bDir], { cwd: tmp("sfx-cwd-") });
    await a.id();
    await b.id();
    const put = await a.run("share put notes.txt album --expires 2h --max-downloads 5", /Share code:\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/);
    const code = put[1];
    assert.match(a.screen(), /Shared 2 files \(.*\); expires \S+ \(in (2h|1h 59m)\), or after 5 downloads\./);

    const ls = await b.run(`share ls ${code}`, /2 files, .*; expires \S+ \(in (2h|1h 59m)\); downloaded 0 of 5 times/);
    assert.ok(ls);
    assert.match(b.screen(), /\d+ B\s+notes\.txt/);
    assert.match(b.screen(), /488 KiB\s+album\/one\.bin/);

    await b.run(`share get ${code}`, /Got 2 files \(.*\) into .*; every hash verified\./);
    assert.equal(treeHashes(bDir), treeHashes(src));
    // Named files, into another directory, with the one-shot flag --dir.
    const only = tmp("sfx-only-");
    await b.run(`share get ${code} album/one.bin --dir ${only}`, /Got 1 file /);
    assert.equal(Object.keys(treeHashes(only)), ["album/one.bin"]);
    // A wrong code: one line, and the session goes on.
    await b.run("share ls 7KQ2-M9XD-4T1F-HB6R-W3NP", /share ls: .*(not found|No share)/i);
    await b.run("id", /Your ID:/);
    a.type("quit");
    b.type("quit");
    await a.waitFor(/\[sfx exited 0\]/);
    await b.waitFor(/\[sfx exited 0\]/);
  });

  test("bad commands get one line each and the session goes on; history survives the session", async () => {
    const home = tmp("sfx-home-");
    const a = pane(["--server", server.address], { cwd: tmp("sfx-cwd-"), home });
    const id = await a.id();
    await a.run("bogus", /^unknown command 'bogus' \(type 'help'\)$/m);
    await a.run("sedn 123456 x", /unknown command 'sedn' \(Did you mean send\?\)/);
    await a.run("send", /^Usage: send \[code\|id\] <path>… \(type 'help send'\)$/m);
    await a.run("send 12 x", /^Invalid receiver "12" \(2 digits, where a code has 12 and an ID 6\): give the code 'sfx receive' shows/m);
    await a.run("send 999999 missing.txt", /^Cannot read missing\.txt/m);
    await a.run(`send ${id} .`, /is this client's own ID/);
    await a.run("share ls nope", /^Invalid share code/m);
    await a.run("share put x --expires yesterday", /^Invalid --expires 'yesterday'/m);
    await a.run("send 123456 a --server 10.1.2.3", /^--server does not apply here/m);
    await a.run(`send 1234 "open`, /^Unclosed double quote$/m);
    // A well-formed ID nobody has: the server's answer, one line.
    const f = join(tmp("sfx-x-"), "f.txt");
    writeFileSync(f, "hello");
    await a.run(`send 999999 ${f}`, /^send: .*999 ?999/m);
    await a.run("help", /Commands:\n\s+id\s+show this client's ID/);
    await a.run("help share put", /Usage: share put \[options\] <paths\.\.\.>[\s\S]*--expires <when>/);
    // Still connected, same ID.
    await a.run("id", new RegExp(`Your ID:\\s+${id.slice(0, 3)} ${id.slice(3)}`));
    // Tab completion of commands, and history with the up arrow.
    a.type("stat", false);
    a.keys("Tab");
    await until(() => a.promptLine().endsWith("> status "), 5000, () => a.promptLine());
    a.keys("C-u");
    a.type("sh", false);
    a.keys("Tab");
    await until(() => a.promptLine().endsWith("> share "), 5000, () => a.promptLine());
    a.type("g", false);
    a.keys("Tab");
    await until(() => a.promptLine().endsWith("> share get "), 5000, () => a.promptLine());
    a.keys("C-u");
    a.keys("Up");
    await until(() => a.promptLine().endsWith(`> id`), 5000, () => a.promptLine());
    a.keys("C-u");
    a.type("exit");
    await a.waitFor(/Bye\.\n\[sfx exited 0\]/);
    // The next session (same user) has the history: up, up.
    const again = pane(["--server", server.address], { cwd: tmp("sfx-cwd-"), home });
    await again.id();
    again.keys("Up");
    await until(() => again.promptLine().endsWith("> exit"), 5000, () => again.promptLine());
    again.keys("Up");
    await until(() => again.promptLine().endsWith("> id"), 5000, () => again.promptLine());
    again.keys("C-u");
    again.type("quit");
    await again.waitFor(/\[sfx exited 0\]/);
  });

  test("Ctrl-C cancels a running send (the receiver keeps what arrived, and the next send resumes it), declining tells the sender, a second Ctrl-C leaves", async () => {
    const src = tmp("sfx-src-");
    // A sparse 2 GiB file: long enough to be cancelled mid-way, no disk used.
    spawnSync("truncate", ["-s", "2G", join(src, "big.img")]);
    const bDir = tmp("sfx-client-b-");
    const a = pane(["--server", server.address], { cwd: src });
    const b = pane(["--server", server.address, "--dir", bDir], { cwd: tmp("sfx-cwd-") });
    await a.id();
    await b.id();
    // Sent with the receiver's code, typed in its four groups: keyed with it.
    const bCode = await b.code();
    const bId = bCode.replaceAll("-", " ");

    // Declined: the sender is told, in one line.
    const small = join(src, "small.txt");
    writeFileSync(small, "small");
    await a.run(`send ${bId} small.txt`, /waiting for them to accept/);
    await b.waitFor(/Accept from .*\[y\/N\]/);
    b.type("n");
    await b.waitFor(/Declined the offer from \d{3} \d{3}\./);
    await a.waitFor(/send: The receiver declined/);

    // Accepted, then cancelled by the sender's Ctrl-C while it streams.
    await a.run(`send ${bId} big.img`, /waiting for them to accept/);
    await b.waitFor(/wants to send you 1 file \(2\.0 GiB\)[\s\S]*Accept from .*\[y\/N\]\s*$/);
    b.type("y");
    await until(() => /\[send \d+% /.test(a.promptLine()), 15_000, () => a.promptLine());
    await until(() => /\[recv \d+% /.test(b.promptLine()), 15_000, () => b.promptLine());
    await b.waitFor(/Enciphered end to end, under keys made with your code, which the sender proved it has: no one between you can read the files/);
    await a.waitFor(/with its code; waiting[\s\S]*Enciphered end to end, under keys made with the receiver's code/);
    // Typing while it streams: the command runs, its lines are whole, the prompt keeps its progress.
    // status names each transfer with its peer, size and latest progress.
    await a.run("status", /Running:\n  send to \d{3} \d{3}, 1 file \(2\.0 GiB\) \[send \d+% [^\]]+\]\n/);
    await b.run("status", /Running:\n  receiving from \d{3} \d{3} \[recv \d+% [^\]]+\]\n/);
    await until(() => /^\[send \d+% [^\]]+\] sfx \d{3} \d{3}> $/.test(a.promptLine()), 5000, () => a.promptLine());
    a.keys("C-c");
    await a.waitFor(/\^C cancelling… \(Ctrl-C again to quit\)\nsend: cancelled/);
    await b.waitFor(/Incoming transfer cancelled: cancelled by the sender\n  kept \d[\d.]* [KMG]iB of big\.img; the same file sent again resumes from there/);
    await until(() => readdirSync(bDir).sort().join() === KEPT, 5000, () => readdirSync(bDir).join(", "));
    // Both stay usable.
    await a.run("status", /No transfer running\./);
    await b.run("status", /No transfer running\./);

    // The receiver cancels too: Ctrl-C on its side. Offered again, the file says what is here already.
    await a.run(`send ${bId} big.img`, /waiting for them to accept/);
    await b.waitFor(/\n  \d[\d.]* [KMG]iB of it is already here from an interrupted transfer: only the rest will be sent\.\nAccept from .*\[y\/N\]\s*$/, 15_000, b.screen().trimEnd().length - 200);
    b.type("y");
    await until(() => /\[recv \d+% /.test(b.promptLine()), 15_000, () => b.promptLine());
    await a.waitFor(/The receiver kept \d[\d.]* [KMG]iB from an interrupted transfer: reading them here to check them, then sending the rest\./);
    await b.waitFor(/Resuming: checking the \d[\d.]* [KMG]iB kept from an interrupted transfer, then the rest comes\./);
    b.keys("C-c");
    await b.waitFor(/Cancelled the incoming transfer; the sender was told\.\n  kept \d[\d.]* [KMG]iB of big\.img; the same file sent again resumes from there\n/);
    await a.waitFor(/send: The receiver cancelled/);
    await until(() => readdirSync(bDir).sort().join() === KEPT, 5000, () => readdirSync(bDir).join(", "));

    // A second Ctrl-C while cancelling leaves: the sender quits, the receiver is told.
    await b.run("status", /No transfer running\./);
    const bFrom = b.screen().trimEnd().length;
    await a.run(`send ${bId} big.img`, /waiting for them to accept/);
    await b.waitFor(/Accept from .*\[y\/N\]\s*$/, 15_000, bFrom);
    b.type("y");
    await until(() => /\[send \d+% /.test(a.promptLine()), 15_000, () => a.promptLine());
    a.keys("C-c");
    a.keys("C-c");
    await a.waitFor(/\^C cancelling…[\s\S]*\^C\n[\s\S]*Bye\.\n\[sfx exited 0\]/);
    await b.waitFor(/Incoming transfer (cancelled|failed): /, 15_000, bFrom);
    await until(() => readdirSync(bDir).sort().join() === KEPT, 5000, () => readdirSync(bDir).join(", "));

    // Ctrl-C that clears a typed line arms nothing: twice so, the session stays (it left).
    b.type("share ls abc", false);
    b.keys("C-c");
    b.type("stat", false);
    b.keys("C-c");
    await b.run("status", /No transfer running\./);
    assert.not.match(b.screen(), /Bye\./);

    // Ctrl-C with nothing running, twice: leaves.
    b.type("status");
    b.keys("C-c");
    await b.waitFor(/\^C \(Ctrl-C again or 'quit' to leave\)/);
    b.keys("C-c");
    await b.waitFor(/Bye\.\n\[sfx exited 0\]/);
  });

  /** `sfx receive` stopped by `stop` at its Accept? [y/N] prompt: it exits 130 saying `stopped`, not that the offer was withdrawn; the sender hears it was stopped. */
  async function stoppedAtPrompt(stop: (rx: Pane) => void, stopped: RegExp): Promise<void> {
    const dir = tmp("sfx-rx-");
    const src = tmp("sfx-src-");
    writeFileSync(join(src, "hi.txt"), "hi");
    const rx = pane(["--server", server.address, "--dir", dir, "--once"], { cwd: dir, command: "receive" });
    const id = await rx.id();
    const send = sfx(["send", "--to", id, "--server", server.address, join(src, "hi.txt")]);
    await rx.waitFor(/Accept\? \[y\/N\] $/m);
    stop(rx);
    await rx.waitFor(stopped);
    assert.not.match(rx.screen(), /offer was withdrawn/);
    assert.is((await send.exit()).status, 5, send.err());
    assert.match(send.err(), /The receiver declined: it was stopped\n/);
    assert.equal(readdirSync(dir), []);
  }

  /** The verification code a --json receiver showed, once it has. */
  const receiverCode = async (receiver: Parameters<typeof events>[0]): Promise<string> => {
    let code: string | undefined;
    await until(() => (code = events(receiver).find((e) => e.event === "verify")?.code as string | undefined) !== undefined, 10_000, () => receiver.out());
    return code!;
  };

  test("sfx send --verify: nothing goes until the code the receiver shows is typed (this end's is not shown, to be copied); an empty line asks again; other digits send nothing and tell the receiver; Ctrl-D cancels", async () => {
    const src = tmp("sfx-src-");
    writeFileSync(join(src, "plans.txt"), "the plans\n".repeat(100));
    const out = tmp("sfx-recv-");
    const receiver = await startReceive(server, out, ["--yes", "--once"]);
    const tx = pane(["--to", receiver.id, "--server", server.address, "--verify", join(src, "plans.txt")], { cwd: src, command: "send" });
    await tx.waitFor(/Accepted\. Enciphered end to end[^\n]*\nAsk the receiver for the verification code it shows, and type it here to send: $/m);
    const code = await receiverCode(receiver);
    assert.not.match(tx.screen(), /\d{3}-\d{3}/, "the sender's own code is not on its screen");
    assert.equal(readdirSync(out), [], "nothing sent while the code is compared");
    tx.type("");
    await tx.waitFor(/type it here to send: \nAsk the receiver for the verification code it shows, and type it here to send: $/m);
    tx.type(code.replace("-", " "));
    await tx.waitFor(/The receiver shows the same code: no one between you holds keys of its own\. Sending\.\n(.*\n)*Sent 1 file, .*the receiver verified every file\.\n\[sfx exited 0\]/);
    assert.is((await receiver.exit()).status, 0, receiver.err());
    assert.is(readFileSync(join(out, "plans.txt"), "utf8"), "the plans\n".repeat(100));

    const out2 = tmp("sfx-recv-");
    const second = await startReceive(server, out2, ["--yes", "--once"]);
    const wrong = pane(["--to", second.id, "--server", server.address, "--verify", join(src, "plans.txt")], { cwd: src, command: "send" });
    await wrong.waitFor(/type it here to send: $/m);
    const other = (await receiverCode(second)) === "000-000" ? "111-111" : "000-000";
    wrong.type(other);
    await wrong.waitFor(new RegExp(`Not sent: the code you typed \\(${other}\\) is not this end's \\(\\d{3}-\\d{3}\\)\\. If that is the code the receiver shows, someone between you \\(the server\\?\\) holds keys of its own; if it was mistyped, send again\\. No byte of the files was sent\\n\\[sfx exited 7\\]`));
    await second.exit();
    assert.ok(events(second).some((e) => /the code the sender typed is not this exchange.s \(mistyped, or someone between you holds keys of its own\): nothing was sent/.test(String(e.reason ?? e.message))), second.out());
    assert.equal(readdirSync(out2), []);

    const out3 = tmp("sfx-recv-");
    const third = await startReceive(server, out3, ["--yes", "--once"]);
    const gone = pane(["--to", third.id, "--server", server.address, "--verify", join(src, "plans.txt")], { cwd: src, command: "send" });
    await gone.waitFor(/type it here to send: $/m);
    gone.keys("C-d");
    await gone.waitFor(/Cancelled at the verification code, before anything was sent: the receiver was told\n\[sfx exited 130\]/);
    await third.exit();
    assert.ok(events(third).some((e) => /cancelled by the sender/.test(String(e.reason ?? e.message))), third.out());
    assert.equal(readdirSync(out3), []);
  });

  test("send --verify in the session asks for the receiver's code on the prompt line; an empty line asks again; typed, the files go; Ctrl-C there cancels, not an alarm", async () => {
    const src = tmp("sfx-src-");
    writeFileSync(join(src, "memo.txt"), "memo\n".repeat(50));
    const out = tmp("sfx-recv-");
    const receiver = await startReceive(server, out, ["--yes", "--once"]);
    const a = pane(["--server", server.address], { cwd: src });
    await a.id();
    await a.run(`send ${receiver.id} memo.txt --verify`, /accepted\.\n(.*\n)*.*type it here to send: $/m);
    const code = await receiverCode(receiver);
    assert.equal(readdirSync(out), [], "nothing sent while the code is compared");
    // An Enter alone (pressed while waiting for the accept) asks again, as the one-shot command does.
    const asked = a.screen().trimEnd().length;
    a.type("");
    await a.waitFor(/type it here to send: $/m, 15_000, asked);
    a.type(code);
    await a.waitFor(/The receiver shows the same code: no one between you holds keys of its own\. Sending\.\n(.*\n)*Sent 1 file, .* the receiver verified every file\./);
    assert.is((await receiver.exit()).status, 0, receiver.err());
    assert.is(readFileSync(join(out, "memo.txt"), "utf8"), "memo\n".repeat(50));

    const out2 = tmp("sfx-recv-");
    const second = await startReceive(server, out2, ["--yes", "--once"]);
    const from = a.screen().trimEnd().length;
    a.type(`send ${second.id} memo.txt --verify`);
    await a.waitFor(/type it here to send: $/m, 15_000, from);
    a.keys("C-c");
    await a.waitFor(/Cancelled at the verification code, before anything was sent: the receiver was told/, 15_000, from);
    assert.not.match(a.screen().slice(from), /holds keys of its own/);
    await second.exit();
    assert.equal(readdirSync(out2), []);
    a.type("quit");
    await a.waitFor(/\[sfx exited 0\]/);
  });

  test("sfx receive: Ctrl-C at the Accept? [y/N] prompt stops the receiver (exit 130) and the sender hears it declined", async () => {
    await stoppedAtPrompt((rx) => rx.keys("C-c"), /\^C\nsfx: Stopped\n\[sfx exited 130\]/);
  });

  test("sfx receive stopped by SIGINT (not the key) at the Accept? [y/N] prompt says it stopped, not that the offer was withdrawn; the sender hears it was stopped", async () => {
    await stoppedAtPrompt((rx) => rx.signal("SIGINT"), /sfx: Stopped\n\[sfx exited 130\]/);
  });

  test("disconnect and connect give a new ID, said plainly; a server that goes away is reported and connect reaches another", async () => {
    const a = pane(["--server", server.address], { cwd: tmp("sfx-cwd-") });
    const first = await a.id();
    await a.run("disconnect", new RegExp(`Disconnected\\. The ID ${first.slice(0, 3)} ${first.slice(3)} is released`));
    assert.match(a.promptLine(), /^sfx \(not connected\)> $/);
    await a.run("send 123456 x", /^Not connected: type 'connect'/m);
    const firstCode = await a.code();
    await a.run("connect", /Your new ID:\s+(\d{3} \d{3})\s+\(it was (\d{3} \d{3}); give senders the new code\)\n  Code: /);
    const second = await a.id();
    assert.is.not(second, first);
    // The code's secret digits stay; its ID part is the new one.
    assert.is(await a.code(), `${second.slice(0, 3)}-${second.slice(3)}-${firstCode.slice(8)}`);

    // A second server, stopped under the client: reported once, the prompt says so.
    const other = await startServe(["--storage", tmp("sfx-store-")]);
    await a.run(`connect ${other.address}`, /Connected to e2e .* at 127\.0\.0\.1:\d+\.\n\n\s+Your new ID:/);
    other.proc.child.kill("SIGTERM");
    await a.waitFor(/Connection lost: .*\. Type 'connect' to reconnect \(you will get a new ID\)\./, 30_000);
    assert.match(a.promptLine(), /^sfx \(not connected\)> /);
    await a.run(`connect ${server.address}`, /Your new ID:/);
    await a.run("status", /Connected to e2e .* at 127\.0\.0\.1:\d+ for/);
    a.type("quit");
    await a.waitFor(/Bye\.\n\[sfx exited 0\]/);
  });

  test("connect to a server that cannot be reached keeps the current connection and its ID, and is not the next bare 'connect''s; 'connect 1' before any discover says so", async () => {
    const a = pane(["--server", server.address], { cwd: tmp("sfx-cwd-") });
    const id = await a.id();
    const gone = await startServe();
    gone.proc.child.kill("SIGTERM");
    await gone.proc.exit();
    await a.run(`connect ${gone.address}`, /Cannot connect: Nothing is listening at .*\nStill connected to e2e as \d{3} \d{3}\./);
    await a.run("id", new RegExp(`Your ID:\\s+${id.slice(0, 3)} ${id.slice(3)}\\n`));
    await a.run("connect 1", /No server 1: 'discover' has listed none; give host\[:port\]/);
    // Any bare number is a listed server, never a host ("100" would be 0.0.0.100).
    await a.run("connect 100", /No server 100: 'discover' has listed none; give host\[:port\]/);
    // Not connected, a server that cannot be reached is not the one a bare 'connect' tries next.
    await a.run("disconnect", /Disconnected\./);
    await a.run(`connect ${gone.address}`, /Cannot connect: Nothing is listening at /);
    await a.run("status", new RegExp(`Not connected \\(last server ${server.address.replace(/\./g, "\\.")}; 'connect' reconnects\\)`));
    await a.run("connect", new RegExp(`Connected to e2e .* at ${server.address.replace(/\./g, "\\.")}\\.`));
    a.type("quit");
    await a.waitFor(/Bye\.\n\[sfx exited 0\]/);
  });

  test("Ctrl-C while connecting to a server that does not answer stops at once; the session stays, unconnected", async () => {
    // A bound socket that never answers: datagrams vanish, no "port unreachable" comes back.
    const silent = createSocket("udp4");
    const port = await new Promise<number>((resolve) => silent.bind(0, "127.0.0.1", () => resolve(silent.address().port)));
    try {
      const a = pane(["--server", `127.0.0.1:${port}`], { cwd: tmp("sfx-cwd-") });
      await a.waitFor(new RegExp(`Connecting to 127\\.0\\.0\\.1:${port}…`));
      const started = Date.now();
      a.keys("C-c");
      await a.waitFor(/Not connected \(cancelled\)\. Type 'connect' to try again\./, 5000);
      assert.ok(Date.now() - started < 5000);
      await a.run("id", /Not connected\. Type 'connect'\./);
      a.type("quit");
      await a.waitFor(/Bye\.\n\[sfx exited 0\]/);
    } finally {
      silent.close();
    }
  });

  test("quit while a file is arriving cancels it cleanly: the sender is told, what arrived is kept to resume, under no final name", async () => {
    const src = tmp("sfx-src-");
    spawnSync("truncate", ["-s", "2G", join(src, "big.img")]);
    const aDir = tmp("sfx-client-a-");
    const a = pane(["--server", server.address, "--dir", aDir, "--yes"], { cwd: tmp("sfx-cwd-") });
    const id = await a.id();
    const sender = sfx(["send", "--to", id, join(src, "big.img"), "--server", server.address]);
    await a.waitFor(/accepting \(--yes\)/);
    await until(() => /\[recv \d+% /.test(a.promptLine()), 15_000, () => a.promptLine());
    a.type("quit");
    await a.waitFor(/Cancelling the running transfers…\n  kept \d[\d.]* [KMG]iB of big\.img; the same file sent again resumes from there\nBye\.\n\[sfx exited 0\]/);
    const r = await sender.exit();
    assert.ok(r.status !== 0, `the sender failed: ${sender.err()}`);
    assert.match(sender.err(), /cancel/i);
    assert.is(readdirSync(aDir).sort().join(), KEPT);
  });

  test.run();
}

/** Polls `cond` every 50 ms; fails after `ms`, showing `show()`. */
async function until(cond: () => boolean, ms: number, show: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms; now: ${show()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
