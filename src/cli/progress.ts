/**
 * Human output of transfers: a one-line progress bar on stderr when it is a
 * terminal (bytes, rate, ETA), nothing when piped; sizes and durations for
 * people; and `--json` event lines on stdout.
 *
 * @module
 */
import { CONTROL_CHARS, printable } from "../protocol/schema.ts";
import type { TransferEvent } from "../client/events.ts";
import type { SkipKind } from "../client/walk.ts";
import { SfxError } from "../errors.ts";

import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { formatBytes } from "../units.ts";
import { fitEnd, textWidth } from "./text_width.ts";
import { type ExchangeCode, MAX_CODE_MISSES, MAX_CODE_MISSES_IN_ALL } from "../protocol/exchange_code.ts";
import { formatId } from "../pairing/id_registry.ts";

export { formatBytes };

/** "3.2 s", "0:17", "1:02:03". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  // A small transfer takes milliseconds: "0.0 s" beside a rate read as nothing at all.
  if (seconds < 0.1) return `${Math.max(1, Math.round(seconds * 1000))} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A progress bar; `update` is cheap to call for every chunk (it redraws at most 10 times a second). */
export interface ProgressBar {
  update(bytes: number, total: number | null, file: string): void;
  /**
   * Says what is going on while no bytes move (a kept part being hashed), in place of the rate and
   * ETA, until bytes move again: such a wait is no stall. `at`: where the transfer stands, for a
   * bar not drawn yet (and the file the note is about).
   */
  note(text: string, at?: { bytes: number; total: number | null; file: string }): void;
  /** Clears the line (to print one), keeping what the rate is measured from. */
  end(): void;
  /** Forgets the transfer it showed: the next update starts afresh (a receiver's next exchange). */
  reset(): void;
}

/** Nothing moved for this long: the bar says so ("stalled 5 s") instead of an ETA. */
const STALLED_AFTER_MS = 3000;

/**
 * A bar on `stream` (default stderr) if it is a terminal, else one that
 * prints nothing. `now` and `every` (to redraw while nothing moves) are for tests.
 */
export function progressBar(
  stream: NodeJS.WriteStream = process.stderr,
  env: Record<string, string | undefined> = process.env,
  clock: { now: () => number; every: (fn: () => void, ms: number) => () => void } = systemTicks,
): ProgressBar {
  if (!stream.isTTY) return { update() {}, note() {}, end() {}, reset() {} };
  let last = 0;
  let drawn = false;
  // A dumb terminal (TERM=dumb: an editor's shell, a CI log) shows escapes as text: the end of the
  // last line drawn is cleared with spaces instead of ESC [K.
  const dumb = env.TERM === "dumb";
  let width = 0;
  const draw = (line: string) => {
    const w = textWidth(line);
    stream.write(dumb ? `\r${line}${" ".repeat(Math.max(0, width - w))}` : `\r${line}\u001b[K`);
    width = w;
  };
  // Rate over a sliding window of recent samples, so a stall shows.
  const samples: Array<[number, number]> = [];
  /** The last update, and when its bytes last grew. */
  let shown: { bytes: number; total: number | null; file: string } | undefined;
  let movedAt = clock.now();
  const complete = (s: { bytes: number; total: number | null }) => s.total !== null && s.bytes >= s.total;
  /** Said in place of the rate and ETA while no bytes move (see note()). */
  let noted: string | undefined;
  /** Redraws while nothing comes, so the rate falls and a stall is said (it froze at the last rate). */
  let stopTicking: (() => void) | undefined;
  const render = (now: number) => {
    const { bytes, total, file } = shown!;
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [t0, b0] = samples[0];
    // From two samples on: the first one's bytes may be kept ones (a resume), which took no time here.
    const rate = samples.length >= 2 && now - t0 > 0 ? Math.max(0, ((bytes - b0) / (now - t0)) * 1000) : undefined;
    const still = now - movedAt;
    const done = complete(shown!);
    const stalled = still >= STALLED_AFTER_MS && !done ? `stalled ${still < 60_000 ? `${Math.floor(still / 1000)} s` : formatDuration(Math.floor(still / 1000))}` : undefined;
    // Nothing to say of speed once every byte is there (the rest is the receiver's check), nor before it is known.
    const speedText = noted ?? (done || rate === undefined ? undefined : formatRate(rate / 1e6));
    const etaText = noted !== undefined || done ? undefined : stalled ?? (rate === undefined ? undefined : `ETA ${formatDuration(rate > 0 ? (total! - bytes) / rate : Infinity)}`);
    // One row, never wrapped: `\r` redraws only a line's last row, so a wrapped one would leave
    // a trail. The last column stays free (some terminals wrap on it). Narrow: the bar goes first,
    // then the ETA, then the rate; the name gets what is left.
    // A terminal that reports no size (0 columns: a pty nobody sized, as under script(1)) is taken as 80 wide.
    const columns = stream.columns || 80;
    const room = columns - 1;
    let forms: string[];
    if (total !== null && total > 0) {
      const frac = Math.min(1, bytes / total);
      const width = Math.max(10, Math.min(30, columns - 60));
      const fill = Math.round(frac * width);
      const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
      const amount = `${formatBytes(bytes)} / ${formatBytes(total)}`;
      const tail = (parts: Array<string | undefined>) => parts.filter((p) => p !== undefined).map((p) => `  ${p}`).join("");
      forms = [
        `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${pct} ${amount}${tail([speedText, etaText])}`,
        `${pct.trimStart()} ${amount}${tail([speedText, etaText])}`,
        `${pct.trimStart()} ${amount}${tail([speedText])}`,
        `${pct.trimStart()} ${amount}`,
        pct.trimStart(),
      ];
    } else {
      const rest = [speedText, noted === undefined ? stalled : undefined].filter((p) => p !== undefined);
      forms = [[formatBytes(bytes), ...rest].join("  "), [formatBytes(bytes), ...rest.slice(0, 1)].join("  "), formatBytes(bytes)];
    }
    let line = forms.find((f) => textWidth(f) <= room) ?? fitEnd(forms[forms.length - 1], room);
    const left = room - textWidth(line) - 2;
    if (left > 8) line += `  ${fitEnd(printable(file), left)}`; // the sender's name, on the receiver's terminal
    draw(line);
    drawn = true;
  };
  return {
    update(bytes, total, file) {
      const now = clock.now();
      if (shown === undefined || bytes !== shown.bytes) {
        movedAt = now;
        // Bytes move again after a note (a kept part hashed): the rate starts afresh, not from before the pause.
        if (noted !== undefined) samples.length = 0;
        noted = undefined;
      }
      shown = { bytes, total, file };
      if (now - last < 100 && bytes !== total) return;
      last = now;
      samples.push([now, bytes]);
      render(now);
      stopTicking ??= clock.every(() => {
        const at = clock.now();
        // Only while nothing comes (updates draw themselves), and not once everything has.
        if (shown !== undefined && at - last >= 1000 && !complete(shown)) {
          last = at;
          samples.push([at, shown.bytes]);
          render(at);
        }
      }, 1000);
    },
    note(text, at) {
      const now = clock.now();
      noted = text;
      movedAt = now;
      if (at !== undefined) shown = { ...at };
      if (shown === undefined) return;
      if (samples.length === 0) samples.push([now, shown.bytes]);
      last = now;
      render(now);
    },
    end() {
      stopTicking?.();
      stopTicking = undefined;
      if (drawn) stream.write(dumb ? `\r${" ".repeat(width)}\r` : "\r\u001b[K");
      drawn = false;
      width = 0;
    },
    reset() {
      this.end();
      samples.length = 0;
      shown = undefined;
      noted = undefined;
      last = 0;
      movedAt = clock.now();
    },
  };
}

/** The real clock for {@link progressBar}: a timer that never keeps the process alive. */
const systemTicks = {
  now: () => Date.now(),
  every(fn: () => void, ms: number): () => void {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/**
 * Feeds a transfer's events to `bar`: progress and checking only between the exchange's start and
 * its end (done, cancelled, error), which ends the bar. A write finishing after a cancel brought
 * the bar back, to be redrawn under the lines that followed. The caller ends the bar before any
 * other line it prints.
 */
export function followTransfer(bar: ProgressBar): (e: TransferEvent) => void {
  let live: { total: number | null; bytes: number } | undefined;
  return (e) => {
    switch (e.event) {
      case "start":
        live = { total: e.bytes, bytes: e.resumed ?? 0 };
        bar.reset();
        break;
      case "progress":
        if (!live) break;
        live.bytes = e.bytes;
        bar.update(e.bytes, e.total, e.file);
        break;
      case "checking":
        if (live) bar.note(checkingText(e), { bytes: live.bytes, total: live.total, file: e.file });
        break;
      case "done":
      case "cancelled":
      case "error":
        live = undefined;
        bar.reset();
        break;
    }
  };
}

/** What a bar says while a resumed file's kept bytes are read and hashed: "checking the 2.0 GiB kept: 40%". */
export function checkingText(e: { bytes: number; kept: number }): string {
  return `checking the ${formatBytes(e.kept)} kept: ${e.kept > 0 ? Math.floor((100 * e.bytes) / e.kept) : 100}%`;
}

/** Progress events are written at most this often with `--json`. */
const JSON_PROGRESS_MS = 250;

/**
 * Prints each event as one JSON line on stdout (`write`), progress at most
 * 4 times a second. A progress event that comes sooner is held, not lost: it
 * is written when its time comes (a producer that pauses still shows what it
 * had produced), or before the next other event (a script reading the last
 * progress before an `error` or a `kept` sees where the transfer stood).
 */
export function jsonEvents(
  write: (line: string) => void = (line) => void process.stdout.write(line),
): (e: TransferEvent | ({ event: "leftOut" } & LeftOutEntry)) => void {
  let lastProgress = -Infinity;
  let held: TransferEvent | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const out = (e: object & { event: string }) => {
    lastJsonError = e.event === "error" ? errorKey(e as { code?: string; message?: string }) : undefined;
    write(`${JSON.stringify(e)}\n`);
  };
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (held === undefined) return;
    const e = held;
    held = undefined;
    lastProgress = performance.now();
    out(e);
  };
  return (e) => {
    if (e.event === "progress") {
      const since = performance.now() - lastProgress;
      if (since < JSON_PROGRESS_MS && e.bytes !== e.total) {
        held = e;
        // Never keeps the process alive: whatever ends it writes the held event first.
        timer ??= setTimeout(flush, JSON_PROGRESS_MS - since).unref();
        return;
      }
      held = undefined;
      flush();
      lastProgress = performance.now();
    } else {
      flush();
    }
    out(e);
  };
}

/** The last event written, when it was an `error`: its code and message (see {@link jsonError}). */
let lastJsonError: string | undefined;

function errorKey(e: { code?: string; message?: string }): string {
  return `${e.code}\n${e.message}`;
}

/**
 * With `--json`, a failure is an `error` event on stdout too, also one that
 * happens before any transfer (a missing file, no server): written unless it
 * is the very event written last (a transfer says its own failure). An
 * earlier `error`, of an exchange a receiver outlived, does not hide the one
 * that ends it.
 */
export function jsonError(code: string, message: string): void {
  if (lastJsonError === errorKey({ code, message })) return;
  lastJsonError = errorKey({ code, message });
  process.stdout.write(`${JSON.stringify({ event: "error", code, message })}\n`);
}

/**
 * What both ends of an exchange show of its keys: the code the two users may compare, or, keyed
 * with a code (`byCode`), that there is nothing to compare. `whose`: the code is this end's
 * (`yours`: a receiver's own, or a sender's by code) or the other end's (`theirs`); by default a
 * receiver's code, as `sfx receive` shows it and `sfx send --to` types it.
 */
export function verifyLine(code: string, other: "the sender" | "the receiver", byCode = false, whose: "yours" | "theirs" = other === "the sender" ? "yours" : "theirs"): string {
  if (byCode) {
    const made = whose === "yours" ? `your code, which ${other} proved it has` : `${other === "the sender" ? "the sender's" : "the receiver's"} code, which it proved it has`;
    return `Enciphered end to end, under keys made with ${made}: no one between you can read the files`;
  }
  return `Enciphered end to end. Verification code ${code}: ${other} sees the same, unless someone between you (the server) can read the files`;
}

/** Said by a sender with `--verify` once the code typed matched the receiver's. */
export const SAME_CODE_LINE = "The receiver shows the same code: no one between you holds keys of its own. Sending.";

/**
 * The line under a receiver's ID: its code and what a sender does with it, or that codes are off
 * (`again`: what gives a new one, `sfx receive` or `sfx client` started again).
 */
export function codeLine(code: ExchangeCode, id: string, again = "start sfx receive again"): string {
  return `  Code:     ${codeText(code, id, again)}${code.closed ? "" : `   (senders: sfx send --to ${code.format(id)} <file>)`}`;
}

/** A receiver's code as it is shown, or that codes are off and what gives a new one. */
export function codeText(code: ExchangeCode, id: string, again: string): string {
  return code.closed ? `off (too many offers gave a wrong one: ${again} for a new code)` : code.format(id);
}

/** Said when a receiver's code was renewed (too many offers guessed it wrong). */
export function renewedCodeLine(code: string): string {
  return `Offers did not prove your code ${MAX_CODE_MISSES} times (wrong digits, guesses, or senders gone before they did): your code is now ${code} (the old one no longer works).`;
}

/** Said when an offer used the receiver's code and did not prove it, before the code changes (or codes close). */
export function missedCodeLine(misses: number, missesInAll: number): string {
  const what = "That offer did not prove your code (wrong digits, a guess, or its sender gone before it did); nothing was received.";
  return `${what} ${missesCount(misses, missesInAll, "codes are turned off")}`;
}

/** Said when a receiver typed a wrong code of a sender's by code, before the code changes (or the send stops). */
function missedSendCodeLine(from: string, misses: number, missesInAll: number): string {
  return `Client ${formatId(from)} typed a wrong code (mistyped, or a guess); nothing was sent. ${missesCount(misses, missesInAll, "the send stops")}`;
}

/** How many misses so far, of how many before the code changes, or (in its last round) before `atLast`. */
function missesCount(misses: number, missesInAll: number, atLast: string): string {
  // The last round ends in codes closing, not a new code.
  if (missesInAll + (MAX_CODE_MISSES - misses) >= MAX_CODE_MISSES_IN_ALL) return `${missesInAll} of ${MAX_CODE_MISSES_IN_ALL} in all: at ${MAX_CODE_MISSES_IN_ALL} ${atLast}.`;
  return `${misses} of ${MAX_CODE_MISSES}: at ${MAX_CODE_MISSES} your code changes.`;
}

/** "2 files (3.1 MiB)", or "1 file (size unknown)": how many files, and their bytes (null: a size unknown). */
export function filesSummary(count: number, bytes: number | null): string {
  return `${count} file${count === 1 ? "" : "s"} (${bytes === null ? "size unknown" : formatBytes(bytes)})`;
}

/** The line a sender by code shows its code on (standard output, as a receiver's is): what the receiver types. */
function sendCodeLine(code: string): string {
  return `  Code:     ${code}   (on the other machine: sfx receive ${code})`;
}

/**
 * What a sender by code says of its code's events, on standard output (`out`: the code itself, so
 * that a script reading it finds it, and each new one) and standard error (`err`), or undefined for
 * the other events. `shown`: whether its code was shown already (the first `code` event shows it);
 * `from`: the receiver that last pulled; `waiting`: what is said of waiting on (how to stop).
 */
export function sendByCodeLines(e: TransferEvent, shown: boolean, from: string, waiting: string): { out?: string; err?: string } | undefined {
  switch (e.event) {
    case "code":
      return shown ? { out: sendCodeLine(e.code), err: renewedSendCodeLine(e.code) } : { out: `\n${sendCodeLine(e.code)}\n` };
    case "codeMissed":
      return { err: missedSendCodeLine(from, e.misses, e.missesInAll) };
    case "pullFailed":
      return { err: `${printable(e.message)}. ${waiting}` };
    default:
      return undefined;
  }
}

/** Said when a sender's code was renewed (receivers typed it wrong too often). */
function renewedSendCodeLine(code: string): string {
  return `Receivers typed a wrong code ${MAX_CODE_MISSES} times: your code is now ${code} (the old one no longer works).`;
}

/** Said when a receiver takes no code any more (too many offers in all gave a wrong one). */
export const CODES_CLOSED_LINE = `Offers gave a wrong code ${MAX_CODE_MISSES_IN_ALL} times in all, which looks like guessing: codes are off until you start again for a new one. ` +
  "Offers to your ID alone still come; compare the verification code with their sender.";

/** Said of an offer to a receiver with a code that gave its ID alone. */
export const ID_ONLY_NOTE = "(sent to your ID alone, not your code: compare the verification code with the sender before you trust the files)";

/** One stderr line for an entry of a directory being sent or shared that is left out (a FIFO, a broken link…). */
export function warnSkipped(path: string, why: string): void {
  process.stderr.write(`sfx: left out ${leftOutName(path)}: ${why}\n`);
}

/**
 * A left-out entry's path for a terminal: control characters written as
 * escapes (`bell\u0007.txt`), so a user can find the file; whatever else
 * cannot be shown as U+FFFD ({@link printable}).
 */
export function leftOutName(path: string): string {
  return printable(CONTROL_CHARS.test(path) ? JSON.stringify(path).slice(1, -1) : path);
}

/** An entry of a directory that a send or a share put left out, as `--json` reports it. */
export interface LeftOutEntry {
  path: string;
  reason: string;
  /** True when sfx could not read or name it (it makes the command end with SFX_PARTIAL), false when sfx never sends such an entry. */
  failed: boolean;
}

/**
 * The entries a send or a share put leaves out of the directories it walks
 * ({@link SkipKind}): `onSkip` hears of each (pass it to collectFiles), and
 * `end()` runs once everything else went.
 */
export class LeftOut {
  readonly entries: LeftOutEntry[] = [];
  readonly #tell: (entry: LeftOutEntry) => void;

  /** `tell` says each entry as it is found. */
  constructor(tell: (entry: LeftOutEntry) => void) {
    this.#tell = tell;
  }

  readonly onSkip = (path: string, reason: string, kind: SkipKind): void => {
    const entry = { path, reason, failed: kind === "failed" };
    this.entries.push(entry);
    this.#tell(entry);
  };

  /**
   * Throws SFX_PARTIAL when an entry could not be sent (tar, cp and rsync end
   * non-zero after what they could not copy, so a script does not take a
   * partial copy for a whole one); else returns the line to say under the
   * summary when anything was left out (the lines above may have scrolled away).
   * `rest` says what became of everything else.
   */
  end(rest: string): string | undefined {
    const n = this.entries.length;
    const failed = this.entries.filter((e) => e.failed).length;
    if (failed > 0) {
      const what = failed === 1 ? "1 entry could not be read or named, so it was" : `${failed} entries could not be read or named, so they were`;
      throw new SfxError("SFX_PARTIAL", `${what} not sent (listed above as 'left out'); ${rest}`);
    }
    return n === 0 ? undefined : `${n} ${n === 1 ? "entry was" : "entries were"} left out (listed above as 'left out').`;
  }
}

/** "7d", "1d 6h", "2h", "1h 59m", "5m", "40s": to the minute past an hour. */
export function roughDuration(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))}s`;
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return h ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m ? `${h}h ${m}m` : `${h}h`;
  return `${m}m`;
}

/**
 * The rate of a finished transfer for people, from its bytes and time: the
 * `done` event's `megabytesPerSecond` is rounded to kB/s for `--json`, and a
 * few bytes would read "0 B/s".
 */
export function formatDoneRate(e: { bytes: number; seconds: number; megabytesPerSecond: number }): string {
  return formatRate(e.seconds > 0 ? e.bytes / e.seconds / 1e6 : e.megabytesPerSecond);
}

/** A transfer rate from MB/s (10^6 bytes/s): "132.4 MB/s", "85 kB/s", "10 B/s" (no "0.0 MB/s" for small files). */
export function formatRate(megabytesPerSecond: number): string {
  if (megabytesPerSecond >= 1) return `${megabytesPerSecond.toFixed(1)} MB/s`;
  if (megabytesPerSecond >= 0.001) return `${Math.round(megabytesPerSecond * 1000)} kB/s`;
  return `${Math.round(megabytesPerSecond * 1e6)} B/s`;
}
