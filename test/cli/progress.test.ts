import { test } from "uvu";
import * as assert from "uvu/assert";
import { printableLines } from "../../src/protocol/schema.ts";
import { followTransfer, formatBytes, formatDoneRate, formatDuration, formatRate, jsonError, jsonEvents, progressBar } from "../../src/cli/progress.ts";
import { fitEnd, textWidth } from "../../src/cli/text_width.ts";
import { doneEvent } from "../../src/client/events.ts";

const sizes: Array<[number, string]> = [[0, "0 B"], [812, "812 B"], [1.5, "2 B"], [1536, "1.5 KiB"], [3 * 2 ** 20, "3.0 MiB"], [150 * 2 ** 30, "150 GiB"], [2 ** 42, "4.0 TiB"]];
for (const [n, text] of sizes) test(`formatBytes(${n}) is '${text}'`, () => assert.is(formatBytes(n), text));

const durations: Array<[number, string]> = [[0.0004, "1 ms"], [0.023, "23 ms"], [0.099, "99 ms"], [0.1, "0.1 s"], [9.94, "9.9 s"], [17, "0:17"], [62, "1:02"], [3723, "1:02:03"], [Infinity, "?"], [-1, "?"]];
for (const [s, text] of durations) test(`formatDuration(${s}) is '${text}'`, () => assert.is(formatDuration(s), text));

test("formatRate() says MB/s from 1 MB/s up, kB/s below (no '0.0 MB/s' for a small file)", () => {
  assert.is(formatRate(132.44), "132.4 MB/s");
  assert.is(formatRate(1), "1.0 MB/s");
  assert.is(formatRate(0.085), "85 kB/s");
  assert.is(formatRate(0.00001), "10 B/s");
  assert.is(formatRate(0), "0 B/s");
});

/** A bar on a fake terminal `columns` wide: what it wrote, a clock the test moves, and the redraw timer the test fires. */
function terminal(columns: number) {
  const t = { written: "", now: 1_000_000, tick: undefined as (() => void) | undefined };
  const stream = { isTTY: true, columns, write: (s: string) => (t.written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream, {}, { now: () => t.now, every: (fn) => ((t.tick = fn), () => (t.tick = undefined)) });
  return Object.assign(t, { bar });
}

test("progressBar() draws nothing when the stream is not a terminal", () => {
  let written = "";
  const stream = { isTTY: false, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  bar.update(10, 100, "f");
  bar.end();
  assert.is(written, "");
});

test("progressBar() on a terminal shows percent, bytes, rate and ETA on one redrawn line; the rate once two updates measure it (the first may count kept bytes)", () => {
  const t = terminal(100);
  const { bar } = t;
  bar.update(40 * 2 ** 20, 100 * 2 ** 20, "big.iso");
  assert.match(t.written, /^\r\[#+\.+\]  40% 40\.0 MiB \/ 100 MiB  big\.iso\u001b\[K$/);
  t.written = "";
  t.now += 1000;
  bar.update(50 * 2 ** 20, 100 * 2 ** 20, "big.iso");
  assert.match(t.written, /^\r\[#+\.+\]  50% 50\.0 MiB \/ 100 MiB  10\.5 MB\/s  ETA 5\.0 s  big\.iso\u001b\[K$/);
  bar.end();
  assert.ok(t.written.endsWith("\r\u001b[K"));
});

test("progressBar() once every byte is there shows neither rate nor ETA, and stops redrawing; after reset() the next transfer starts afresh (no rate from the last one's bytes)", () => {
  const t = terminal(100);
  const { bar } = t;
  bar.update(0, 800, "a");
  t.now += 1000;
  bar.update(800, 800, "a");
  assert.match(t.written.split("\r").at(-1)!, /^\[#+\]\s+100% 800 B \/ 800 B  a\u001b\[K$/);
  const before = t.written;
  for (let i = 0; i < 4; i++) {
    t.now += 1000;
    t.tick!();
  }
  assert.is(t.written, before, "nothing redrawn at 100 %");
  bar.reset();
  t.written = "";
  // The next exchange, resumed from 600 of 1000 bytes: no rate from 800 down to 600.
  bar.update(600, 1000, "b");
  assert.match(t.written, /^\r\[#+\.+\]\s+60% 600 B \/ 1000 B  b\u001b\[K$/);
});

test("followTransfer() draws progress only between an exchange's start and its end: a write finishing after a cancel does not bring the bar back; 'checking' draws where the exchange stands", () => {
  const calls: string[] = [];
  const bar = {
    update: (b: number) => calls.push(`update ${b}`),
    note: (t: string, at?: { bytes: number; file: string }) => calls.push(`note ${t} @${at?.bytes} ${at?.file}`),
    end: () => calls.push("end"),
    reset: () => calls.push("reset"),
  };
  const follow = followTransfer(bar);
  follow({ event: "progress", bytes: 5, total: 10, file: "a" }); // before any start: not drawn
  follow({ event: "start", files: 2, bytes: 3000, resumed: 1000 });
  follow({ event: "checking", file: "b", bytes: 500, kept: 1000 });
  follow({ event: "progress", bytes: 1500, total: 3000, file: "b" });
  follow({ event: "cancelled", reason: "cancelled by the sender" });
  follow({ event: "progress", bytes: 1600, total: 3000, file: "b" }); // late: ignored
  assert.equal(calls, ["reset", "note checking the 1000 B kept: 50% @1000 b", "update 1500", "reset"]);
});

test("progressBar().end() between files (a receiver prints a line for each) clears the line but keeps the rate's history: files 50 ms apart still show a rate and an ETA", () => {
  const t = terminal(100);
  const { bar } = t;
  for (let i = 1; i <= 20; i++) {
    t.now += 50;
    bar.update(i * 1_000_000, 40_000_000, `f${i}`);
    bar.end();
  }
  const lines = [...t.written.matchAll(/\r([^\r]+)\u001b\[K/g)].map((m) => m[1]);
  assert.ok(lines.some((l) => / MB\/s  ETA /.test(l)), lines.join("\n"));
});

test("progressBar().note() with where the transfer stands draws a bar not drawn yet, naming the note's file; when bytes move again the rate starts afresh (not from before the pause)", () => {
  const t = terminal(120);
  const { bar } = t;
  bar.note("checking the 600 B kept: 50%", { bytes: 600, total: 1000, file: "b.bin" });
  assert.match(t.written.split("\r").at(-1)!, /^\[#+\.+\]\s+60% 600 B \/ 1000 B  checking the 600 B kept: 50%  b\.bin/);
  // The check took 30 s; then 54 bytes (a control message acknowledged), then data.
  t.now += 30_000;
  bar.update(654, 1000, "b.bin");
  assert.not.match(t.written.split("\r").at(-1)!, /B\/s|ETA/, "no rate from one sample");
  t.now += 1000;
  bar.update(854, 1000, "b.bin");
  assert.match(t.written.split("\r").at(-1)!, /85% 854 B \/ 1000 B  200 B\/s  ETA 0\.7 s/);
});

test("progressBar().note() says what goes on in place of rate and ETA while nothing moves (no 'stalled'), until bytes move", () => {
  const t = terminal(120);
  const { bar } = t;
  bar.update(0, 1000, "a");
  t.now += 1000;
  bar.update(100, 1000, "a");
  bar.note("checking 2.0 GiB kept: 40%");
  for (let i = 0; i < 5; i++) {
    t.now += 1000;
    t.tick!();
  }
  assert.match(t.written.split("\r").at(-1)!, /^\[#+\.+\]\s+10% 100 B \/ 1000 B  checking 2\.0 GiB kept: 40%  a/);
  assert.not.match(t.written, /stalled/);
  t.now += 100;
  bar.update(200, 1000, "a");
  assert.not.match(t.written.split("\r").at(-1)!, /checking/);
  t.now += 100;
  bar.update(300, 1000, "a");
  assert.match(t.written.split("\r").at(-1)!, /ETA/);
});

test("progressBar() on a dumb terminal (TERM=dumb) writes no escape: what is left of a longer line is cleared with spaces", () => {
  let written = "";
  const stream = { isTTY: true, columns: 100, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream, { TERM: "dumb" });
  bar.update(50 * 2 ** 20, 100 * 2 ** 20, "big.iso");
  const first = written.split("\r")[1];
  // A shorter line (no more name, fewer digits) over it: padded to the first one's width.
  bar.update(100 * 2 ** 20, 100 * 2 ** 20, "");
  const second = written.split("\r")[2];
  assert.ok(second.length >= first.length && second.trimEnd().length < first.length, JSON.stringify([first, second]));
  bar.end();
  assert.not.match(written, /\u001b/);
  const cleared = /\r( +)\r$/.exec(written);
  assert.ok(cleared && cleared[1].length >= second.trimEnd().length, JSON.stringify(written.slice(-140)));
});

test("progressBar() redraws each second while nothing comes: the rate falls, and after 3 s it says 'stalled' instead of an ETA; it stops redrawing at end()", () => {
  const t = terminal(100);
  const { bar } = t;
  bar.update(0, 100 * 2 ** 20, "f");
  t.now += 1000;
  bar.update(10 * 2 ** 20, 100 * 2 ** 20, "f");
  const lines = () => t.written.split("\r").filter(Boolean);
  assert.match(lines().at(-1)!, /10% .* ETA /);
  const before = lines().length;
  for (let i = 0; i < 5; i++) {
    t.now += 1000;
    t.tick!();
  }
  assert.is(lines().length, before + 5, "redrawn each second");
  assert.match(lines().at(-1)!, /10% 10\.0 MiB \/ 100 MiB  0 B\/s  stalled 5 s/);
  // Bytes move again: an ETA again.
  t.now += 100;
  bar.update(11 * 2 ** 20, 100 * 2 ** 20, "f");
  assert.match(lines().at(-1)!, /11% .* ETA /);
  bar.end();
  assert.is(t.tick, undefined, "the timer is stopped");
});

test("progressBar() shows the sender's file name printable: no escape or invisible character reaches the terminal", () => {
  let written = "";
  const stream = { isTTY: true, columns: 100, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  bar.update(1, 2, "inv\u200bisible\u009b2J.bin");
  assert.match(written, "inv\ufffdisible\ufffd2J.bin");
  bar.end();
});

test("--json progress comes at most 4 times a second, and the last one held back is not lost: it is written before the next other event", () => {
  const lines: string[] = [];
  const emit = jsonEvents((l) => lines.push(l));
  for (const bytes of [10, 20, 30]) emit({ event: "progress", bytes, total: 100, file: "a" });
  emit({ event: "file", path: "a", size: 100, sha256: "00" });
  assert.equal(lines.map((l) => JSON.parse(l)).map((e) => e.event === "progress" ? e.bytes : e.event), [10, 30, "file"]);
});

test("--json progress held back is written when its quarter second is up, though nothing else comes (a producer that pauses)", async () => {
  const lines: string[] = [];
  // Waits for the second line to be written (bounded: 5 s), not polling for it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let second!: () => void;
  const written = new Promise<void>((resolve, reject) => {
    second = resolve;
    timer = setTimeout(() => reject(new Error("never written")), 5000);
  });
  const emit = jsonEvents((l) => {
    lines.push(l);
    if (lines.length === 2) second();
  });
  emit({ event: "progress", bytes: 10, total: null, file: "-" });
  emit({ event: "progress", bytes: 40, total: null, file: "-" });
  assert.is(lines.length, 1);
  await written.finally(() => clearTimeout(timer));
  assert.is(JSON.parse(lines[1]).bytes, 40);
});

test("--json: the error that ends the command is written after an earlier exchange's error a receiver outlived; the failure a transfer has just said is not written twice", () => {
  const lines: string[] = [];
  const emit = jsonEvents((l) => lines.push(l));
  const stdout = process.stdout.write;
  process.stdout.write = ((chunk: string) => lines.push(chunk) > 0) as typeof process.stdout.write;
  try {
    // A sender: its transfer says the failure, then the command ends with it.
    emit({ event: "error", code: "SFX_REJECTED", message: "The receiver said no" });
    jsonError("SFX_REJECTED", "The receiver said no");
    // A receiver without --once: one exchange fails, it waits on, then the server goes away (or Ctrl-C).
    emit({ event: "offer", from: "123456", files: [{ path: "a", size: 1 }], bytes: 1 });
    emit({ event: "error", code: "SFX_TRANSFER_FAILED", message: "The sender stopped responding" });
    jsonError("SFX_CONNECTION_LOST", "The server is shutting down");
    // The same words again, for another failure after other events: said again.
    emit({ event: "offer", from: "123456", files: [{ path: "a", size: 1 }], bytes: 1 });
    emit({ event: "error", code: "SFX_TRANSFER_FAILED", message: "The sender stopped responding" });
    emit({ event: "offer", from: "123456", files: [{ path: "a", size: 1 }], bytes: 1 });
    jsonError("SFX_TRANSFER_FAILED", "The sender stopped responding");
  } finally {
    process.stdout.write = stdout;
  }
  assert.equal(lines.map((l) => JSON.parse(l)).map((e) => e.event === "error" ? e.code : e.event), [
    "SFX_REJECTED",
    "offer",
    "SFX_TRANSFER_FAILED",
    "SFX_CONNECTION_LOST",
    "offer",
    "SFX_TRANSFER_FAILED",
    "offer",
    "SFX_TRANSFER_FAILED",
  ]);
});

test("--json's done event gives seconds to the millisecond and MB/s to three decimals, not 17 digits", () => {
  assert.equal(doneEvent(1, 2_000_000, 1.0430000001), { event: "done", files: 1, bytes: 2_000_000, seconds: 1.043, megabytesPerSecond: 1.918 });
  assert.equal(doneEvent(1, 3, 0.05), { event: "done", files: 1, bytes: 3, seconds: 0.05, megabytesPerSecond: 0 });
  assert.equal(doneEvent(0, 0, 0), { event: "done", files: 0, bytes: 0, seconds: 0, megabytesPerSecond: 0 });
  // People read the rate from bytes and time: 3 bytes in 16 ms are 188 B/s, not the event's 0.
  assert.is(formatDoneRate(doneEvent(1, 3, 0.016)), formatRate(3 / 0.016 / 1e6));
  assert.not.match(formatDoneRate(doneEvent(1, 3, 0.016)), /^0 /);
});

test("printableLines() keeps the lines of a message (an error and its causes), each made printable", () => {
  assert.is(printableLines("Cannot write d\u200bir/f\n  caused by: x\u001b[2J"), "Cannot write d\ufffdir/f\n  caused by: x\ufffd[2J");
});

test("textWidth() counts terminal cells: wide CJK and emoji 2, combining marks 0; fitEnd() keeps a name's end within the cells", () => {
  assert.is(textWidth("big.iso"), 7);
  assert.is(textWidth("日本語"), 6);
  assert.is(textWidth("e\u0301t\u00e9"), 3);
  assert.is(textWidth("🎉x"), 3);
  assert.is(textWidth("ｆｕｌｌ"), 8);
  assert.is(fitEnd("short", 10), "short");
  assert.is(fitEnd("ファイル名です", 7), "…名です");
  assert.is(fitEnd("ファイル名です", 6), "…です");
  assert.is(fitEnd("abcdef", 4), "…def");
  assert.is(fitEnd("abc", 0), "");
});

/** Every line a bar drew on a terminal `columns` wide (between its `\r` and its erase-to-end). */
function drawnLines(columns: number, updates: Array<[number, number | null, string]>): string[] {
  const t = terminal(columns);
  // A first update a second before, so that each line has a rate to show.
  t.bar.update(0, updates[0][1], updates[0][2]);
  t.written = "";
  for (const [bytes, total, name] of updates) {
    t.now += 1000;
    t.bar.update(bytes, total, name);
  }
  return [...t.written.matchAll(/\r([^\r]*)\u001b\[K/g)].map((m) => m[1]);
}

test("progressBar() never draws a line as wide as the terminal (a wrapped line would leave a trail at every update): narrow, it drops the bar, then the ETA and the rate; a wide name is cut by cells", () => {
  for (const columns of [20, 30, 40, 50, 60, 80, 120]) {
    for (const name of ["big.iso", "とても長いファイル名です.bin", "🎉🎉🎉 party photos 🎉🎉🎉.zip", "x".repeat(300)]) {
      for (const line of drawnLines(columns, [[3 * 2 ** 30 - 1, 3 * 2 ** 30, name], [3 * 2 ** 20, null, name]])) {
        assert.ok(textWidth(line) < columns, `${columns} columns: '${line}' takes ${textWidth(line)}`);
      }
    }
  }
  const [narrow] = drawnLines(50, [[682 * 2 ** 20, 3 * 2 ** 30, "E"]]);
  assert.match(narrow, /^22% 682 MiB \/ 3\.0 GiB {2}[\d.]+ [kM]?B\/s {2}ETA /);
  const [wide] = drawnLines(80, [[1, 2, "とても長いファイル名です.bin"]]);
  assert.match(wide, /^\[#+\.+\] {2}50% 1 B \/ 2 B .*ETA .+ {2}…[^\s]*ファイル名です\.bin$/);
});

test("a terminal that reports 0 columns (a pty nobody sized) gets the bar of an 80-column one, not an empty line", () => {
  const [line] = drawnLines(0, [[1, 2, "big.iso"]]);
  assert.is(line, drawnLines(80, [[1, 2, "big.iso"]])[0]);
  assert.match(line, /^\[#+\.+\] {2}50% 1 B \/ 2 B /);
});

test.run();
