/**
 * The server log's file sink: lines buffered for a moment, appended to one
 * file, which is rotated by size (`file` → `file.1` → … → `file.N`).
 *
 * It replaces `@logtape/file`'s rotating sink, which took a short write for a
 * whole one: on a full disk a line was cut, the next glued onto it, and the
 * lines of the full period vanished without a word. Here every write goes on
 * until all its bytes are out; a line a full disk cuts short is taken back
 * (the file is truncated to its last whole line); what the disk refuses is
 * counted, and once lines get through again the file says how many were lost
 * and why, on a line of its own. A file truncated behind its back (logrotate's
 * `copytruncate`) is noticed before the next write, so it is not rotated
 * again at once.
 *
 * Writes are synchronous (`writeSync`), from a timer or when the buffer is
 * full, never per record.
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import type { LogRecord, Sink } from "@logtape/logtape";

/** How {@link openLogFile} writes and rotates. */
export interface LogFileOptions {
  /** One record as a line, ending in "\n". */
  format: (record: LogRecord) => string;
  /** Rotate before a write would take the file past this many bytes. */
  maxBytes: number;
  /** Rotated files kept (`.1` … `.N`). */
  maxFiles: number;
  /** Write once this many bytes are buffered. */
  bufferBytes: number;
  /** Longest time a line waits in the buffer. */
  flushIntervalMs: number;
}

/**
 * Opens (appends to) `path` and returns the sink that writes it; disposing
 * the sink writes what is buffered and closes the file. Throws when the file
 * cannot be opened.
 */
export function openLogFile(path: string, o: LogFileOptions): Sink & Disposable {
  let fd = openSync(path, "a");
  let size = fstatSync(fd).size;
  let buffered: string[] = [];
  /** When each buffered line was logged. */
  let stamps: number[] = [];
  let bufferedBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  /** Lines a failed write lost since the last that got through, and why. */
  let lost = 0;
  let lostWhy = "";
  /** When the first of them was logged: the notice takes that time, so times in the file do not go back. */
  let lostSince = 0;
  /** The last write stopped inside a line: the next starts on a new one. */
  let midLine = false;

  /**
   * Moves the file to `.1` (and `.1` to `.2` …) and goes on in a new one. The new file is made
   * first, under a name of its own: when it cannot be (no inodes, a read-only file system), or a
   * rename fails, nothing has moved and lines go on to the file open now, past maxBytes, until a
   * later flush can rotate.
   */
  const rotate = () => {
    // Our own name (two servers logging to one directory each rotate with theirs), made anew: a
    // leftover is removed, and O_EXCL follows no link planted there.
    const fresh = `${path}.${process.pid}.rotating`;
    let next: number;
    try {
      rmSync(fresh, { force: true, recursive: true });
      next = openSync(fresh, "ax"); // appending, as the first open: after a copytruncate the next line goes at the start, not past a hole of NULs
    } catch (err) {
      cannotRotate(err);
      return;
    }
    try {
      for (let i = o.maxFiles - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      if (o.maxFiles > 0) renameSync(path, `${path}.1`);
      renameSync(fresh, path);
    } catch (err) {
      closeSync(next);
      try {
        if (existsSync(path)) unlinkSync(fresh);
        else renameSync(fresh, path);
      } catch {
        // left for the next rotation to remove
      }
      cannotRotate(err);
      return;
    }
    closeSync(fd);
    fd = next;
    size = 0;
    rotationFailed = false;
  };
  /** Said once per run of failed rotations, on stderr (the log itself may be what fails). */
  let rotationFailed = false;
  const cannotRotate = (err: unknown) => {
    if (rotationFailed) return;
    rotationFailed = true;
    try {
      process.stderr.write(`sfx: cannot rotate the log file ${path} (${String((err as Error)?.message ?? err)}): it grows past ${o.maxBytes} bytes until it can\n`);
    } catch { /* no stderr */ }
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (buffered.length === 0 || closed) return;
    // A cut line is ended first, then the notice of lost lines, then the lines.
    const lead = `${midLine ? "\n" : ""}${lost > 0 ? formatLost(o.format, lost, lostWhy, lostSince) : ""}`;
    const leadBytes = Buffer.byteLength(lead);
    const bytes = Buffer.from(lead + buffered.join(""));
    const times = stamps;
    buffered = [];
    stamps = [];
    bufferedBytes = 0;
    let written = 0;
    try {
      // Truncated behind our back (copytruncate): the file is smaller than we counted.
      size = Math.min(size, fstatSync(fd).size);
      if (size > 0 && size + bytes.length > o.maxBytes) rotate();
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      lost = 0;
      midLine = false;
    } catch (err) {
      // A line cut short is taken back: the file ends with a whole line, or, should that fail, the
      // next write starts a new one.
      if (written > 0 && bytes[written - 1] !== 0x0a) {
        const whole = bytes.lastIndexOf(0x0a, written - 1) + 1;
        try {
          ftruncateSync(fd, size + whole);
          written = whole;
        } catch {
          // kept cut; midLine below
        }
      }
      // Lines whose end did not reach the file are lost. A notice of earlier losses that did not
      // get out either is said again next time, with these added.
      let cut = 0;
      for (let i = Math.max(written, leadBytes); i < bytes.length; i++) if (bytes[i] === 0x0a) cut++;
      // The first line lost is the one after the lines that got out whole.
      if (lost === 0 || written >= leadBytes) lostSince = times[times.length - cut] ?? Date.now();
      lost = written < leadBytes ? lost + cut : cut;
      lostWhy = (err as NodeJS.ErrnoException).code ?? String((err as Error)?.message ?? err);
      if (written > 0) midLine = bytes[written - 1] !== 0x0a;
    }
    size += written;
  };

  const sink = (record: LogRecord) => {
    if (closed) return;
    const line = o.format(record);
    buffered.push(line);
    stamps.push(record.timestamp);
    bufferedBytes += line.length;
    if (bufferedBytes >= o.bufferBytes) flush();
    else if (!timer) {
      timer = setTimeout(flush, o.flushIntervalMs);
      (timer as { unref?: () => void }).unref?.();
    }
  };
  // A process.exit() (a second stop signal: the user will not wait) skips the flush timer: the lines
  // it buffered, the reason for the exit among them, are written on the way out.
  process.on("exit", flush);
  return Object.assign(sink, {
    [Symbol.dispose]() {
      if (closed) return;
      process.off("exit", flush);
      flush();
      closed = true;
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
    },
  });
}

/** The line that says how many lines a failed write lost. */
function formatLost(format: (record: LogRecord) => string, lines: number, why: string, since: number): string {
  const message = `${lines} log line${lines === 1 ? "" : "s"} lost: the log file could not be written (${why})`;
  return format({
    category: ["sfx", "log"],
    level: "warning",
    message: [message],
    rawMessage: message,
    timestamp: since,
    properties: {},
  });
}
