/**
 * Daemon mode: `sfx serve --daemon` relaunches sfx detached (a new session,
 * stdin closed, stdout and stderr appended to files in the log directory)
 * and returns once the daemon says it is ready, over an IPC channel that is
 * closed right after. `sfx serve --stop` sends SIGTERM to the pid in the pid
 * file and waits for the process to be gone.
 *
 * The relaunch works from the single executable (`process.execPath` is sfx
 * itself), from Node (`node cli.ts`) and from Deno (`deno run … cli.ts`, with
 * the launcher's permissions).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type ErrorCode, ERROR_CODES, SfxError } from "../errors.ts";
import { DAEMON_STDERR_FILE, DAEMON_STDOUT_FILE } from "../log/defaults.ts";
import { DAEMON_READY_TIMEOUT_MS, STOP_TIMEOUT_MS } from "./defaults.ts";
import { processAlive } from "../process_alive.ts";
import { describeStalePidFile, isServerAlive, readPidFile } from "./pidfile.ts";
import { isSingleExecutable } from "../single_executable.ts";

/** What the daemon tells the process that launched it, once. */
export type DaemonMessage =
  | { type: "sfx-daemon-ready"; pid: number; port: number; addresses: string[]; logDir?: string }
  | { type: "sfx-daemon-failed"; code: ErrorCode; message: string };

/** How to run this same program again: the executable and the arguments before sfx's own. */
export interface SelfCommand {
  command: string;
  prefix: string[];
  /** Working directory for the relaunched process. */
  cwd: string;
}

/** The command that runs this sfx again: the binary itself, `node cli.ts`, or `deno run <its permissions> cli.ts`. */
export function selfCommand(): SelfCommand {
  if (isSingleExecutable()) return { command: process.execPath, prefix: [], cwd: "/" };
  const script = process.argv[1];
  const deno = (globalThis as { Deno?: DenoRuntime }).Deno;
  if (deno) return { command: process.execPath, prefix: ["run", ...denoFlags(deno), script], cwd: process.cwd() };
  return { command: process.execPath, prefix: [...process.execArgv, script], cwd: "/" };
}

/** What {@link denoFlags} asks of Deno. */
export interface DenoRuntime {
  permissions: { querySync(desc: { name: string }): { state: string } };
  listenDatagram?: unknown;
}

const DENO_PERMISSIONS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"];
/** What a server needs whole: its files, its socket, its environment, the host's name and interfaces. */
const DAEMON_PERMISSIONS = ["read", "write", "net", "env", "sys"];

/**
 * Under Deno, the flags that give the daemon the permissions this process has,
 * never more, and `--unstable-net` when this process runs with it. Deno tells
 * whether a permission is granted whole, not the scope of a partial grant
 * (`--allow-write=/var/lib/sfx`), nor does it let a program read its own
 * command line without `--allow-all`: so the server's permissions must be
 * granted whole for `--daemon`, and a narrower set is refused with what is
 * missing, not widened. It is started from this working directory, to find
 * Deno's configuration where this process did, and moves to `/` once running.
 */
export function denoFlags(deno: DenoRuntime): string[] {
  const granted = DENO_PERMISSIONS.filter((name) => deno.permissions.querySync({ name }).state === "granted");
  const missing = DAEMON_PERMISSIONS.filter((name) => !granted.includes(name));
  if (missing.length > 0) {
    throw new SfxError(
      "SFX_IO",
      `Under Deno, --daemon passes on only permissions granted whole, and ${missing.map((n) => `--allow-${n}`).join(", ")} ` +
        `${missing.length === 1 ? "is" : "are"} not: grant ${missing.length === 1 ? "it" : "them"}, or run sfx serve in the foreground ` +
        "under a service manager, where narrower permissions work",
    );
  }
  const flags = granted.length === DENO_PERMISSIONS.length ? ["-A"] : granted.map((name) => `--allow-${name}`);
  return deno.listenDatagram ? [...flags, "--unstable-net"] : flags;
}

/** Where to launch the daemon and what to tell it. */
export interface DaemonLaunch {
  /** sfx arguments for the daemon, e.g. `["serve", "--daemon-child", "--port", "6969", …]`. */
  args: string[];
  /** Directory for stream_server_stdout.log and stream_server_stderr.log (already chosen, writable). */
  logDir: string;
  /** Give up when no readiness report came by then; default 15 s. */
  readyTimeoutMs?: number;
  /** Override the command (tests); default {@link selfCommand}. */
  self?: SelfCommand;
}

/** A daemon that reported ready. */
export interface DaemonStarted {
  pid: number;
  port: number;
  addresses: string[];
  stdoutLog: string;
  stderrLog: string;
}

/**
 * Launches the daemon and resolves once it reports ready. Rejects with the
 * daemon's own error (its code kept, e.g. `SFX_ALREADY_RUNNING`, `SFX_IO`)
 * when it fails to start, `SFX_INTERNAL` when it exits without a word, and
 * `SFX_DAEMON_TIMEOUT` when it stays silent (it is then sent SIGTERM).
 */
export async function startDaemon(launch: DaemonLaunch): Promise<DaemonStarted> {
  const self = launch.self ?? selfCommand();
  const stdoutLog = join(launch.logDir, DAEMON_STDOUT_FILE);
  const stderrLog = join(launch.logDir, DAEMON_STDERR_FILE);
  let out: number | undefined;
  let err: number | undefined;
  try {
    out = openSync(stdoutLog, "a", 0o644);
    err = openSync(stderrLog, "a", 0o644);
  } catch (cause) {
    if (out !== undefined) closeSync(out);
    throw new SfxError("SFX_IO", `Cannot open the daemon's output logs in ${launch.logDir}: ${(cause as Error).message}`, { cause });
  }
  const child = spawn(self.command, [...self.prefix, ...launch.args], {
    cwd: self.cwd,
    detached: true, // its own session: no terminal, no SIGINT from ours
    stdio: ["ignore", out, err, "ipc"],
  });
  closeSync(out);
  closeSync(err);

  const timeoutMs = launch.readyTimeoutMs ?? DAEMON_READY_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<DaemonStarted>((resolveStarted, reject) => {
      timer = setTimeout(() => {
        child.kill("SIGTERM");
        reject(new SfxError("SFX_DAEMON_TIMEOUT", `The daemon did not report ready within ${timeoutMs / 1000} s; see ${stderrLog}`));
      }, timeoutMs);
      child.on("error", (cause) => {
        reject(new SfxError("SFX_IO", `Cannot start the daemon (${self.command}): ${cause.message}`, { cause }));
      });
      child.on("message", (message: DaemonMessage) => {
        if (message?.type === "sfx-daemon-ready") {
          resolveStarted({ pid: message.pid, port: message.port, addresses: message.addresses, stdoutLog, stderrLog });
        } else if (message?.type === "sfx-daemon-failed") {
          const code = message.code in ERROR_CODES ? message.code : "SFX_INTERNAL";
          reject(new SfxError(code, message.message));
        }
      });
      child.on("exit", (code, signal) => {
        reject(new SfxError("SFX_INTERNAL", `The daemon exited (${signal ?? `status ${code}`}) before it was ready; see ${stderrLog}`));
      });
    });
  } finally {
    clearTimeout(timer);
    child.removeAllListeners();
    if (child.connected) child.disconnect();
    // A spawn that failed has no process to let go of (Deno's child would throw here, hiding the error above).
    if (child.pid !== undefined) child.unref();
  }
}

/**
 * In the daemon: tells the launching process how the start went, then
 * closes the channel so both go their own ways. A no-op when not launched
 * by {@link startDaemon}.
 */
export function reportToLauncher(message: DaemonMessage): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) return Promise.resolve();
  return new Promise((resolveSent) => {
    const done = () => {
      try {
        process.disconnect?.();
      } catch {
        // Already gone: the launcher exited or timed out.
      }
      resolveSent();
    };
    try {
      send(message, undefined, {}, done);
    } catch {
      done();
    }
  });
}

/**
 * Stops the server named by the pid file: SIGTERM, then waits (polling the
 * pid, bounded) until it is gone. Resolves to its pid. Throws
 * `SFX_NOT_RUNNING` when no live server holds the file (a stale file is
 * removed), and `SFX_DAEMON_TIMEOUT` when it is still alive after the timeout.
 */
export async function stopDaemon(pidFile: string, timeoutMs: number = STOP_TIMEOUT_MS): Promise<number> {
  const pid = readPidFile(pidFile);
  if (pid === undefined || !isServerAlive(pid)) {
    const why = describeStalePidFile(pidFile);
    // A file naming a process that is gone is stale; one naming another program is left for its owner to look at.
    const removed = pid !== undefined && !processAlive(pid);
    if (removed) rmSync(pidFile, { force: true });
    throw new SfxError("SFX_NOT_RUNNING", `No sfx server is running (pid file ${pidFile} ${why}${removed ? "; the stale pid file is removed" : ""})`);
  }
  try {
    process.kill(pid, "SIGTERM");
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === "EPERM"
      ? "it runs as another user: stop it as that user, or as root"
      : (cause as Error).message;
    throw new SfxError("SFX_IO", `Cannot stop the server (pid ${pid}): ${why}`, { cause });
  }
  const deadline = Date.now() + timeoutMs;
  // A process that is not our child cannot be waited for: poll, briefly, bounded.
  for (let delay = 10; isServerAlive(pid); delay = Math.min(delay * 2, 100)) {
    if (Date.now() >= deadline) {
      throw new SfxError("SFX_DAEMON_TIMEOUT", `sfx server pid ${pid} still runs ${timeoutMs / 1000} s after SIGTERM`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  // It removes its own pid file; one killed harder leaves it behind.
  if (readPidFile(pidFile) === pid) rmSync(pidFile, { force: true });
  return pid;
}
