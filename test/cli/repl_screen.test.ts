/**
 * The session's screen on a (fake) terminal: messages print above the
 * prompt and give back the half-typed line, progress sits in the prompt, a
 * question takes the line over and returns it afterwards.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PassThrough, Writable } from "node:stream";
import { createInterface, type Interface } from "node:readline";
import { Screen } from "../../src/cli/repl/screen.ts";

interface Term {
  rl: Interface;
  screen: Screen;
  input: PassThrough;
  output: () => string;
  clear: () => void;
  lines: string[];
  close: () => void;
}

function term(): Term {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (b: boolean) => void };
  input.isTTY = true;
  input.setRawMode = () => {};
  let written = "";
  const output = new Writable({
    write(chunk, _enc, cb) {
      written += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number; rows?: number };
  output.isTTY = true;
  output.columns = 100;
  output.rows = 30;
  const rl = createInterface({ input, output, terminal: true });
  const screen = new Screen(rl, output, true);
  screen.prompt();
  const lines: string[] = [];
  rl.on("line", (l) => {
    if (!screen.answer(l)) lines.push(l);
  });
  return {
    rl,
    screen,
    input,
    lines,
    output: () => written,
    clear: () => (written = ""),
    close: () => {
      screen.close();
      rl.close();
      input.destroy();
    },
  };
}

/** Lets readline handle what was written to its input. */
const tick = () => new Promise((r) => setTimeout(r, 5));

/**
 * Types `text` and resolves once readline has handled it: readline's own
 * 'data' listener (from emitKeypressEvents) was added first, so by the
 * time this one runs every key of the chunk has been processed.
 */
function type(t: Term, text: string): Promise<void> {
  const handled = new Promise<void>((r) => t.input.once("data", () => r()));
  t.input.write(text);
  return handled;
}

/** Drops ANSI escapes (cursor moves, clears). */
// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");

test("print() writes above the prompt and redraws the prompt with the half-typed line", async () => {
  const t = term();
  try {
    t.screen.setBasePrompt("sfx 482 913> ");
    t.input.write("sta");
    await tick();
    t.clear();
    t.screen.print("  received a.txt (12 B)");
    const out = t.output();
    // Erase the prompt line first (cursor to column 0, clear down), then the message, then prompt + typed text.
    // deno-lint-ignore no-control-regex
    assert.match(out, /^(\u001b\[\d+A)?\u001b\[(1G|0G|G)?.*\u001b\[0?J/s);
    const text = plain(out);
    assert.ok(text.indexOf("  received a.txt (12 B)\n") < text.lastIndexOf("sfx 482 913> sta"), JSON.stringify(text));
    assert.is(t.rl.line, "sta");
    t.input.write("tus\r");
    await tick();
    assert.equal(t.lines, ["status"]);
  } finally {
    t.close();
  }
});

test("setStatus() shows progress in the prompt and removes it", async () => {
  const t = term();
  try {
    t.screen.setBasePrompt("sfx> ");
    t.input.write("he");
    await tick();
    t.screen.setStatus("job1", "send 45% 1 MiB/2 MiB 3.1 MB/s", true);
    assert.is(t.screen.promptText(), "[send 45% 1 MiB/2 MiB 3.1 MB/s] sfx> ");
    assert.ok(plain(t.output()).endsWith("[send 45% 1 MiB/2 MiB 3.1 MB/s] sfx> he"), JSON.stringify(plain(t.output()).slice(-60)));
    t.screen.setStatus("recv", "recv 10%", true);
    assert.is(t.screen.promptText(), "[send 45% 1 MiB/2 MiB 3.1 MB/s | recv 10%] sfx> ");
    t.screen.setStatus("job1", null, true);
    t.screen.setStatus("recv", null, true);
    assert.is(t.screen.promptText(), "sfx> ");
    assert.is(t.rl.line, "he");
  } finally {
    t.close();
  }
});

test("ask() takes the line over for the answer and gives the half-typed command back", async () => {
  const t = term();
  try {
    t.screen.setBasePrompt("sfx> ");
    t.input.write("share ls AB");
    await tick();
    const answer = t.screen.ask("Accept? [y/N] ");
    assert.ok(t.screen.asking);
    assert.is(t.rl.line, "");
    assert.is(t.screen.promptText(), "Accept? [y/N] ");
    t.input.write("y\r");
    assert.is(await answer, "y");
    assert.not.ok(t.screen.asking);
    assert.is(t.rl.line, "share ls AB");
    assert.is(t.screen.promptText(), "sfx> ");
    assert.equal(t.lines, [], "the answer is not a command");
  } finally {
    t.close();
  }
});

test("ask() resolves null when the question is withdrawn, and the next line is a command again", async () => {
  const t = term();
  try {
    const ac = new AbortController();
    const answer = t.screen.ask("Accept? [y/N] ", ac.signal);
    ac.abort();
    assert.is(await answer, null);
    t.input.write("id\r");
    await tick();
    assert.equal(t.lines, ["id"]);
  } finally {
    t.close();
  }
});

test("prompt() after a command keeps what was typed meanwhile, cursor at its end: typing on continues it", async () => {
  const t = term();
  try {
    await type(t, "discover\r");
    await type(t, "sta"); // typed while the command runs
    assert.equal(t.lines, ["discover"]);
    t.screen.prompt(); // the command finished
    assert.is(t.rl.line, "sta");
    assert.is(t.rl.cursor, 3);
    assert.ok(plain(t.output()).endsWith("sfx> sta"), JSON.stringify(plain(t.output()).slice(-40)));
    await type(t, "tus\r");
    assert.equal(t.lines, ["discover", "status"]);
  } finally {
    t.close();
  }
});

test("a question withdrawn while its answer is half typed drops that answer and gives back the command line, cursor at its end", async () => {
  const t = term();
  try {
    const ac = new AbortController();
    const answer = t.screen.ask("Accept? [y/N] ", ac.signal);
    await type(t, "ye");
    ac.abort(); // the sender cancelled
    assert.is(await answer, null);
    assert.is(t.rl.line, "");
    await type(t, "status\r");
    assert.equal(t.lines, ["status"]);

    await type(t, "share ls AB");
    const ac2 = new AbortController();
    const again = t.screen.ask("Accept? [y/N] ", ac2.signal);
    await type(t, "y");
    ac2.abort();
    assert.is(await again, null);
    assert.is(t.rl.line, "share ls AB");
    assert.is(t.rl.cursor, "share ls AB".length);
    await type(t, "CD\r");
    assert.equal(t.lines, ["status", "share ls ABCD"]);
  } finally {
    t.close();
  }
});

/**
 * What a terminal `columns` wide shows for `written`: printable characters
 * wrap at the edge (a full row wraps on the next character), CR, LF, and
 * the escapes readline writes (cursor up/down/right/left, to column, erase down).
 */
function screenOf(written: string, columns: number): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  const at = (r: number) => (rows[r] ??= []);
  // deno-lint-ignore no-control-regex
  for (const m of written.matchAll(/\u001b\[(\d*)([A-Za-z])|[^]/g)) {
    if (m[2]) {
      const n = Number(m[1] || "1");
      col = Math.min(col, columns - 1);
      if (m[2] === "A") row = Math.max(0, row - n);
      else if (m[2] === "B") row += n;
      else if (m[2] === "C") col = Math.min(columns - 1, col + n);
      else if (m[2] === "D") col = Math.max(0, col - n);
      else if (m[2] === "G") col = n - 1;
      else if (m[2] === "J") {
        at(row).length = col;
        rows.length = row + 1;
      }
    } else if (m[0] === "\r") col = 0;
    else if (m[0] === "\n") row++;
    else {
      if (col >= columns) [row, col] = [row + 1, 0];
      at(row)[col++] = m[0];
    }
  }
  return Array.from(rows, (r) => Array.from(r ?? [], (c) => c ?? " ").join(""));
}

test("in a narrow terminal, a progress redraw after typed text wrapped leaves no old progress rows", async () => {
  const t = term();
  try {
    (t.rl as unknown as { output: { columns: number } }).output.columns = 40;
    t.screen.setBasePrompt("sfx 482 913> ");
    t.screen.setStatus("job", "send 3% 30 KiB/2.0 MiB 3.1 MB/s", true);
    await type(t, "share put somefile otherfile --expires 1h"); // pasted: one chunk
    t.screen.setStatus("job", "send 9% 90 KiB/2.0 MiB 3.1 MB/s", true);
    const shown = screenOf(t.output(), 40).join("\n");
    assert.is(shown.match(/\[send/g)?.length, 1, shown);
    assert.ok(shown.endsWith("[send 9% 90 KiB/2.0 MiB 3.1 MB/s] sfx 48\n2 913> share put somefile otherfile --ex\npires 1h"), shown);
    t.screen.print("  received a.txt (12 B)");
    assert.ok(screenOf(t.output(), 40).join("\n").endsWith("  received a.txt (12 B)\n[send 9% 90 KiB/2.0 MiB 3.1 MB/s] sfx 48\n2 913> share put somefile otherfile --ex\npires 1h"));
  } finally {
    t.close();
  }
});

test("before the first prompt a print is a plain line, and no prompt is drawn", () => {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (b: boolean) => void };
  input.isTTY = true;
  input.setRawMode = () => {};
  let written = "";
  const output = new Writable({
    write(chunk, _enc, cb) {
      written += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  output.isTTY = true;
  output.columns = 100;
  const rl = createInterface({ input, output, terminal: true });
  const screen = new Screen(rl, output, true);
  try {
    screen.setBasePrompt("sfx (not connected)> ");
    screen.print("Connecting to 127.0.0.1:6969…");
    assert.is(written, "Connecting to 127.0.0.1:6969…\n");
    screen.prompt();
    assert.ok(plain(written).endsWith("sfx (not connected)> "), JSON.stringify(written));
  } finally {
    screen.close();
    rl.close();
    input.destroy();
  }
});

test("after close() a print is a plain line and a pending question gets null", async () => {
  const t = term();
  const answer = t.screen.ask("Connect to which? [1-2] ");
  t.screen.close();
  assert.is(await answer, null);
  t.clear();
  t.screen.print("Bye.");
  assert.is(t.output(), "Bye.\n");
  t.rl.close();
  t.input.destroy();
});

test("Ctrl-D at a question (the input ends): what is printed next starts a line of its own, not after the question", async () => {
  const t = term();
  const answer = t.screen.ask("Accept from 482 048? [y/N] ");
  await tick();
  await type(t, "\u0004"); // Ctrl-D on an empty line: readline closes
  assert.is(await answer, null);
  t.screen.close();
  t.screen.print("Bye.");
  assert.match(plain(t.output()), /\[y\/N\] \nBye\.\n$/);
  t.input.destroy();
});

test.run();
