import { test } from "uvu";
import * as assert from "uvu/assert";
import { printableLines } from "../../src/protocol/schema.ts";
import { formatBytes, formatDuration, formatRate, progressBar } from "../../src/cli/progress.ts";

const sizes: Array<[number, string]> = [[0, "0 B"], [812, "812 B"], [1.5, "2 B"], [1536, "1.5 KiB"], [3 * 2 ** 20, "3.0 MiB"], [150 * 2 ** 30, "150 GiB"], [2 ** 42, "4.0 TiB"]];
for (const [n, text] of sizes) test(`formatBytes(${n}) is '${text}'`, () => assert.is(formatBytes(n), text));

const durations: Array<[number, string]> = [[0.06, "0.1 s"], [9.94, "9.9 s"], [17, "0:17"], [62, "1:02"], [3723, "1:02:03"], [Infinity, "?"], [-1, "?"]];
for (const [s, text] of durations) test(`formatDuration(${s}) is '${text}'`, () => assert.is(formatDuration(s), text));

test("formatRate() says MB/s from 1 MB/s up, kB/s below (no '0.0 MB/s' for a small file)", () => {
  assert.is(formatRate(132.44), "132.4 MB/s");
  assert.is(formatRate(1), "1.0 MB/s");
  assert.is(formatRate(0.085), "85 kB/s");
  assert.is(formatRate(0.00001), "10 B/s");
  assert.is(formatRate(0), "0 B/s");
});

test("progressBar() draws nothing when the stream is not a terminal", () => {
  let written = "";
  const stream = { isTTY: false, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  bar.update(10, 100, "f");
  bar.end();
  assert.is(written, "");
});

test("progressBar() on a terminal shows percent, bytes, rate and ETA on one redrawn line", () => {
  let written = "";
  const stream = { isTTY: true, columns: 100, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  bar.update(50 * 2 ** 20, 100 * 2 ** 20, "big.iso");
  assert.match(written, /^\r\[#+\.+\]  50% 50\.0 MiB \/ 100 MiB  [\d.]+ (MB|kB)\/s  ETA .+big\.iso\u001b\[K$/);
  bar.end();
  assert.ok(written.endsWith("\r\u001b[K"));
});

test("progressBar() shows the sender's file name printable: no escape or invisible character reaches the terminal", () => {
  let written = "";
  const stream = { isTTY: true, columns: 100, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  bar.update(1, 2, "inv\u200bisible\u009b2J.bin");
  assert.match(written, "inv\ufffdisible\ufffd2J.bin");
  bar.end();
});

test("printableLines() keeps the lines of a message (an error and its causes), each made printable", () => {
  assert.is(printableLines("Cannot write d\u200bir/f\n  caused by: x\u001b[2J"), "Cannot write d\ufffdir/f\n  caused by: x\ufffd[2J");
});

test.run();
