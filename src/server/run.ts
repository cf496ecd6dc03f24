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
import { type RunningServer, type ServerOptions, startServer } from "./server.ts";
import { onShutdownSignals } from "./signals.ts";

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
 * Runs a server until SIGTERM or SIGINT, then shuts it down: sockets closed,
 * logs flushed, pid file removed. Resolves to the exit status: 0 after a
 * graceful shutdown, 1 after a crash or a shutdown that timed out. A second
 * signal during shutdown exits at once with status 1. Start-up failures
 * reject (SfxError), with the pid file already released.
 */
export async function runServer(options: RunOptions): Promise<number> {
  const pidFile: PidFile | undefined = options.pidFile ? acquirePidFile(options.pidFile) : undefined;
  let server: RunningServer;
  try {
    server = await startServer(options);
    await options.onReady?.(server, pidFile?.path);
  } catch (err) {
    pidFile?.release();
    throw err;
  }
  const log = getLogger(["sfx", "server"]);

  return await new Promise<number>((resolveStatus) => {
    let stopping = false;
    const stop = (reason: string, status: number) => {
      if (stopping) return;
      stopping = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeoutMs = options.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS;
      const timedOut = new Promise<number>((r) => {
        timer = setTimeout(() => {
          log.error("Shutdown took over {seconds} s: giving up", { seconds: timeoutMs / 1000 });
          r(1);
        }, timeoutMs);
      });
      const graceful = server.close(reason).then(() => status, () => 1);
      void Promise.race([graceful, timedOut]).then((final) => {
        clearTimeout(timer);
        removeSignals();
        process.off("uncaughtException", onCrash);
        process.off("unhandledRejection", onCrash);
        pidFile?.release();
        resolveStatus(final);
      });
    };
    const removeSignals = onShutdownSignals((signal, count) => {
      if (count === 1) return stop(signal, 0);
      // Asked twice: the user does not want to wait.
      pidFile?.release();
      process.exit(1);
    });
    const onCrash = (err: unknown) => {
      log.fatal("Crashed: {error}", { error: err, stack: err instanceof Error ? err.stack : undefined });
      stop("crash", 1);
    };
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
  });
}
