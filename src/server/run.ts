/**
 * A server's whole life in one call: pid file, start, wait for a shutdown
 * signal (or a crash), stop gracefully, release the pid file. Used by
 * `sfx serve` in the foreground and by the daemon it launches.
 *
 * @module
 */
import { getLogger } from "../log/index.ts";
import { SHUTDOWN_TIMEOUT_MS } from "./defaults.ts";
import { acquirePidFile, type PidFile } from "./pidfile.ts";
import { startStatusFile, statusFileFor } from "./status_file.ts";
import { VERSION } from "../version.ts";
import { type RunningServer, type ServerOptions, startServer } from "./server.ts";
import { onIgnoredSignals, onShutdownSignals } from "./signals.ts";

/** {@link ServerOptions} plus what a process running one server needs. */
export interface RunOptions extends ServerOptions {
  /** Write this process's pid here while it runs (refused if another live server holds it). */
  pidFile?: string;
  /** Called once the server is up and the pid file written (the daemon reports ready here). */
  onReady?: (server: RunningServer, pidFile: string | undefined) => void | Promise<void>;
  /** A shutdown longer than this gives up and returns 1; default 10 s. */
  shutdownTimeoutMs?: number;
}

/**
 * Runs a server until SIGTERM, SIGINT or SIGQUIT, then shuts it down: sockets closed,
 * logs flushed, pid file removed. Resolves to the exit status: 0 after a
 * graceful shutdown, 1 after a crash or a shutdown that timed out. A second
 * signal during shutdown exits at once with status 1. Start-up failures
 * reject (SfxError), with the pid file already released.
 *
 * @example
 * ```ts
 * const status = await runServer({ port: 6969, name: "office", pidFile: "/run/sfx.pid" });
 * process.exitCode = status; // after SIGTERM: 0
 * ```
 */
export async function runServer(options: RunOptions): Promise<number> {
  // Signals are caught from the very start: one arriving while the server
  // starts (the ready line is already out) stops it right after.
  let stop: ((reason: string, status: number) => void) | undefined;
  let early: string | undefined;
  let pidFile: PidFile | undefined;
  /** The figures beside the pid file, for `sfx serve --status` (see status_file.ts). */
  let statusFile: ReturnType<typeof startStatusFile> | undefined;
  const removeShutdown = onShutdownSignals((signal, count) => {
    if (count > 1) {
      // Asked twice: the user does not want to wait. Said in the log (flushed on exit), or it would end mid-shutdown with no reason.
      getLogger(["sfx", "server"]).warn("{signal} while stopping: exiting now, without waiting for the shutdown to finish", { signal });
      statusFile?.removeNow();
      pidFile?.release();
      process.exit(1);
    }
    if (stop) stop(signal, 0);
    else early = signal;
  });
  // SIGHUP, as for most daemons, reopens the log file (logrotate's
  // `postrotate`); it never kills the server, not even while it starts.
  let running: RunningServer | undefined;
  /** A SIGHUP while the server started, after its log may have been opened: reopened once it runs. */
  let hangupWhileStarting = false;
  const onHangup = () => {
    if (!running) hangupWhileStarting = true;
    void running?.reopenLogs().catch(() => {});
  };
  process.on("SIGHUP", onHangup);
  const removeIgnored = onIgnoredSignals((signal) => {
    const log = getLogger(["sfx", "server"]);
    if (signal === "SIGUSR1" && "Deno" in globalThis) {
      // Deno acts on it before sfx hears of it (the single executable and `node cli.ts` do not).
      log.warn("Received SIGUSR1: under Deno it may have opened Deno's inspector on 127.0.0.1:9229; run the single executable to be without one");
    } else {
      log.warn("Ignored {signal}: it means nothing to sfx serve (SIGTERM, SIGINT or SIGQUIT stop it; SIGHUP reopens the log)", { signal });
    }
  });
  const removeSignals = () => {
    removeShutdown();
    removeIgnored();
    process.off("SIGHUP", onHangup);
  };
  let server: RunningServer;
  try {
    pidFile = options.pidFile ? acquirePidFile(options.pidFile) : undefined;
    // Its figures beside its pid file, for `sfx serve --status`: "starting" until the server runs
    // (opening a large share store takes a while), the figures from then on. Failures to write it
    // are logged once the log is open (the first one may come before).
    let statusError: unknown;
    const warnStatus = (err: unknown) => {
      getLogger(["sfx", "server"]).warn("Cannot write the status file {path}: {error} (sfx serve --status shows no figures)", { path: statusFileFor(pidFile!.path), error: String((err as Error)?.message ?? err) });
    };
    statusFile = pidFile
      ? startStatusFile(statusFileFor(pidFile.path), () => running?.status(), (err) => {
        if (running) warnStatus(err);
        else statusError = err;
      }, VERSION)
      : undefined;
    server = await startServer(options);
    if (pidFile?.tookOver) {
      // Said once the log is open: the run before was killed (kill -9, a crash of the machine), or its file left by hand.
      getLogger(["sfx", "server"]).warn("Took over the pid file {path}: it {was} (the run before did not stop cleanly)", { path: pidFile.path, was: pidFile.tookOver });
    }
    running = server;
    if (statusError !== undefined) warnStatus(statusError);
    statusFile?.update();
    if (hangupWhileStarting) void server.reopenLogs().catch(() => {});
    await options.onReady?.(server, pidFile?.path);
  } catch (err) {
    removeSignals();
    statusFile?.removeNow();
    pidFile?.release();
    throw err;
  }
  const log = getLogger(["sfx", "server"]);

  return await new Promise<number>((resolveStatus) => {
    let stopping = false;
    stop = (reason: string, status: number) => {
      if (stopping) return;
      stopping = true;
      // Said at once (a shutdown lasts up to 10 s), before the log closes (a failure to write it is
      // logged), and the file removed once it is over.
      const statusStopping = within(statusFile?.stopping(), 1000);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeoutMs = options.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS;
      const timedOut = new Promise<number>((r) => {
        timer = setTimeout(() => {
          log.error("Shutdown took over {seconds} s: giving up", { seconds: timeoutMs / 1000 });
          r(1);
        }, timeoutMs);
      });
      const graceful = statusStopping.then(() => server.close(reason)).then(() => status, () => 1);
      void Promise.race([graceful, timedOut]).then(async (final) => {
        clearTimeout(timer);
        // Bounded: a status file on a hung disk must not hold the exit past the shutdown's limit.
        await within(statusFile?.remove(), 1000);
        removeSignals();
        process.off("uncaughtException", onCrash);
        process.off("unhandledRejection", onCrash);
        pidFile?.release();
        resolveStatus(final);
      });
    };
    // Once: should logging the crash itself fail and throw, that must not become a loop.
    let crashed = false;
    const onCrash = (err: unknown) => {
      if (crashed) return;
      crashed = true;
      log.fatal("Crashed: {error}", { error: err, stack: err instanceof Error ? err.stack : undefined });
      stop?.("crash", 1);
    };
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    if (early) stop(early, 0);
  });
}

/** `p` settled, or `ms` passed, whichever comes first (its failure ignored). */
async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p?.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
