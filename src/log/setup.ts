/**
 * Logging for the server: LogTape with a size-rotated file sink writing
 * `<dir>/stream_server.log` (`file_sink.ts`), and optionally concise lines on stderr.
 *
 * LogTape is configured once per process; {@link setupLogging} replaces any
 * earlier configuration, and `close()` flushes and closes the file.
 *
 * @module
 */
import { configure, dispose, type LogLevel, type LogRecord, type Sink } from "@logtape/logtape";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_LOG_DIR,
  DEFAULT_LOG_LEVEL,
  LOG_CHECK_INTERVAL_MS,
  LOG_FLUSH_INTERVAL_MS,
  LOG_MAX_BYTES,
  LOG_MAX_FILES,
  SERVER_LOG_FILE,
} from "./defaults.ts";
import { chooseLogDir, fallbackNotice } from "./dirs.ts";
import { openLogFile } from "./file_sink.ts";
import { formatConsoleLine, formatLogLine } from "./format.ts";

/** How to set up logging. */
export interface LoggingOptions {
  /** The log directory; default /var/log. Falls back to the user state directory when not writable. */
  dir?: string;
  /** Also write concise lines to stderr (the foreground server does). Default false. */
  console?: boolean;
  /** The lowest level written; default `info`. */
  level?: LogLevel;
  /** Rotate the file once it would pass this many bytes; default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept besides the live one (`.1` … `.N`); default 5. */
  maxFiles?: number;
  /** Longest time a line waits in the buffer; default 500 ms. */
  flushIntervalMs?: number;
  /** Where the one fallback notice goes; default stderr. */
  notice?: (line: string) => void;
  /** How often to look whether the log file was deleted (then it is opened again); default 10 s. */
  checkIntervalMs?: number;
}

/** Logging as set up. */
export interface Logging {
  /** The directory the logs go to (after any fallback). */
  dir: string;
  /** The server log's path. */
  file: string;
  /** True when the requested directory was not writable and the state directory is used. */
  fellBack: boolean;
  /** Flushes and closes the log file; idempotent. */
  close(): Promise<void>;
  /**
   * Flushes and closes the log file, then opens it again by name: after an
   * outside rotation (logrotate's `postrotate`, on SIGHUP) lines go to the new file.
   */
  reopen(): Promise<void>;
}

/** The levels `--log-level` accepts (`warn` is short for `warning`). */
export const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

let noticeGiven = false;

/** Set once a write to stderr failed (a closed pipe, a terminal gone): console lines stop, the log file goes on. */
let stderrBroken = false;
let consoleWatched = false;

/**
 * Listens for write errors on stdout and stderr. Without a listener a failed
 * write (EPIPE after `sfx serve | head`) is an uncaught exception, which the
 * server logs, to stderr, which fails again: a loop at 100 % CPU that grows
 * without bound. With it, the console simply goes quiet.
 */
function watchConsole(): void {
  if (consoleWatched) return;
  consoleWatched = true;
  process.stderr.on("error", () => {
    stderrBroken = true;
  });
  process.stdout.on("error", () => {});
}

/**
 * Starts logging to `<dir>/stream_server.log`. When `dir` is not writable the
 * logs go to `$XDG_STATE_HOME/sfx` (or `~/.local/state/sfx`) and one line on
 * stderr says so (once per process). Throws SfxError `SFX_IO` when no
 * directory is writable.
 *
 * @example
 * ```ts
 * const logging = await setupLogging({ dir: "/tmp/sfx-logs", console: true });
 * getLogger(["sfx", "server"]).info("ready on {port}", { port: 6969 });
 * await logging.close();
 * ```
 */
export async function setupLogging(options: LoggingOptions = {}): Promise<Logging> {
  const choice = chooseLogDir(options.dir ?? DEFAULT_LOG_DIR);
  if (choice.fellBack && !noticeGiven) {
    noticeGiven = true;
    (options.notice ?? ((line: string) => process.stderr.write(`${line}\n`)))(fallbackNotice(choice));
  }
  const file = join(choice.dir, SERVER_LOG_FILE);
  const maxBytes = options.maxBytes ?? LOG_MAX_BYTES;
  watchConsole();
  const stderrSink: Sink = (record: LogRecord) => {
    if (stderrBroken) return;
    try {
      process.stderr.write(formatConsoleLine(record));
    } catch {
      // A closed stderr must not take the server down.
    }
  };
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  let closing: Promise<void> | undefined;
  // A deleted log file (rm, or logrotate with nocreate and no SIGHUP) would take every later line
  // with it, and once rotation is due the file sink fails on each flush and never opens a file
  // again: open it again by name, at most once per check interval.
  let lastReopen = 0;
  const checkMs = options.checkIntervalMs ?? LOG_CHECK_INTERVAL_MS;
  // LogTape refuses to be configured or disposed while a configure is under way: one at a time.
  let busy: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = busy.then(fn, fn);
    busy = run.catch(() => {});
    return run;
  };
  const reinstall = () => oneAtATime(() => (closing ? Promise.resolve() : install()));
  const reopenSoon = () => {
    if (closing || Date.now() - lastReopen < checkMs) return;
    lastReopen = Date.now();
    setTimeout(() => void reinstall().catch(() => {}), 0);
  };
  // configure() with reset disposes the sinks it had (flushing the file), so
  // installing again is also how the file is reopened.
  const install = () =>
    configure({
      reset: true,
      sinks: {
        file: openLogFile(file, {
          format: formatLogLine,
          maxBytes,
          // Small next to the rotation size, so one flushed chunk never overshoots it by much.
          bufferBytes: Math.max(256, Math.min(8192, Math.floor(maxBytes / 8))),
          maxFiles: options.maxFiles ?? LOG_MAX_FILES,
          flushIntervalMs: options.flushIntervalMs ?? LOG_FLUSH_INTERVAL_MS,
        }),
        stderr: stderrSink,
        meta: (record: LogRecord) => {
          stderrSink(record);
          reopenSoon();
        },
      },
      loggers: [
        { category: ["sfx"], lowestLevel: level, sinks: options.console ? ["file", "stderr"] : ["file"] },
        // LogTape's own trouble (a sink failing) goes to stderr, which survives a broken log file,
        // and has the file opened again (below).
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["meta"] },
      ],
    });
  const watcher = setInterval(() => {
    if (!existsSync(file)) reopenSoon();
  }, checkMs);
  (watcher as { unref?: () => void }).unref?.();
  await oneAtATime(install);
  return {
    dir: choice.dir,
    file,
    fellBack: choice.fellBack,
    close: () => {
      clearInterval(watcher);
      return (closing ??= oneAtATime(() => dispose()));
    },
    reopen: async () => {
      await reinstall();
    },
  };
}
