/**
 * `sfx serve`: run the server in the foreground (default; what systemd
 * runs), as a daemon (`--daemon`), or stop the daemon (`--stop`).
 *
 * In the foreground, log lines go to stream_server.log and, concisely, to
 * stderr (`--quiet` keeps stderr for errors only). The daemon logs to the
 * file only; its stdout and stderr go to stream_server_stdout.log and
 * stream_server_stderr.log.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { join, resolve } from "node:path";
import type { CommandResult } from "./context.ts";
import { parseBindHost, parseCount, parseLogLevel, parsePort, parseTimeout } from "./options.ts";
import { addShareServeOptions, type ShareServeFlags, shareServeArgs, shareServerOptions } from "./share.ts";
import { ERROR_CODES, isSfxError, SfxError } from "../errors.ts";
import { readStatusFile, type StatusRecord, statusFileFor } from "../server/status_file.ts";
import { formatBytes } from "../units.ts";
import { MAX_NAME_BYTES } from "../discovery/defaults.ts";
import { PADDED } from "../discovery/message.ts";
import { UNPRINTABLE_CHARS } from "../protocol/schema.ts";
import type { PairingLimits } from "../pairing/defaults.ts";
import { chooseLogDir, fallbackNotice, LOG_LEVELS, type LogLevel, SERVER_LOG_FILE } from "../log/index.ts";
import { DEFAULT_HOST, DEFAULT_PORT, STOP_TIMEOUT_MS } from "../server/defaults.ts";
import { defaultPidFile, describeStalePidFile, runningPid } from "../server/pidfile.ts";
import { reportToLauncher, selfCommand, startDaemon, stopDaemon } from "../server/daemon.ts";
import { isSingleExecutable } from "../single_executable.ts";
import { shellWord } from "./shell_word.ts";
import { runServer } from "../server/run.ts";
import { VERSION } from "../version.ts";
import { formatAddress } from "../transport/datagram.ts";

interface ServeFlags extends ShareServeFlags {
  port: number;
  host: string;
  name?: string;
  logDir?: string;
  logLevel: LogLevel;
  quiet?: boolean;
  daemon?: boolean;
  stop?: boolean;
  status?: boolean;
  json?: boolean;
  pidFile?: string;
  daemonChild?: boolean;
  discoveryInterface?: string[];
  maxClients?: number;
  maxClientsPerAddress?: number;
  maxFileSize?: number;
  idleTimeout?: number;
  offerTimeout?: number;
}

/** Registers `sfx serve`. */
export function registerServe(program: Command, result: CommandResult): void {
  const serve = program
    .command("serve")
    .description("run the sfx server: the relay for exchanges, the share store and the discovery responder, on one UDP port")
    .option("-p, --port <port>", "UDP port for SCTP and discovery", parsePort, DEFAULT_PORT)
    .option("--host <address>", "address to bind", parseBindHost, DEFAULT_HOST)
    .option("--name <name>", "server name shown by discovery, at most 64 bytes (default: host name)", parseServerName)
    .option("--log-dir <dir>", "directory for stream_server*.log (default /var/log; falls back to ~/.local/state/sfx)")
    .option("--log-level <level>", `lowest level logged: ${LOG_LEVELS.join(", ")} (warn for warning)`, parseLogLevel, "info")
    .option("-q, --quiet", "foreground: do not copy log lines to stderr")
    .addOption(new Option("--daemon", "detach and run in the background; returns once the server is ready").conflicts(["stop", "status"]))
    .addOption(new Option("--stop", "stop the running daemon (SIGTERM) and wait for it to exit").conflicts("status"))
    .option("--status", "say whether a server runs on the pid file, and what it is doing: exit 0 when it runs, 11 when not")
    .option("--json", "with --status: the answer as one JSON object")
    .option("--pid-file <file>", "pid file (default /run/sfx.pid, or ~/.local/state/sfx/sfx.pid when /run is not writable)")
    .option("--max-clients <n>", "most clients connected at once (default 1000)", parseCount)
    .option("--max-clients-per-address <n>", "most clients connected at once from one IP address (default 64)", parseCount)
    .option("--max-file-size <size>", "largest file an exchange may carry, e.g. 10G (default 1T)", parseCount)
    .option("--idle-timeout <duration>", "disconnect a client silent this long outside an exchange; end an exchange where nothing moves this long (default 5m)", parseTimeout)
    .option("--offer-timeout <duration>", "how long a receiver has to answer an offer (default 60s)", parseTimeout)
    .addOption(new Option("--daemon-child").hideHelp())
    // Tests: keep multicast joins on loopback (the default joins every IPv4 interface).
    .addOption(new Option("--discovery-interface <address>", "join the discovery group only on this interface (repeatable)").argParser(collect).hideHelp());
  addShareServeOptions(serve)
    .action(async (flags: ServeFlags) => {
      if (flags.json && !flags.status) throw new SfxError("SFX_USAGE", "--json goes with --status (sfx serve --status --json)");
      if (flags.stop) result.status = await stop(flags);
      else if (flags.status) result.status = status(flags);
      else if (flags.daemon) result.status = await daemonize(flags);
      else result.status = await foreground(flags);
    });
}

async function stop(flags: ServeFlags): Promise<number> {
  const pidFile = resolve(flags.pidFile ?? defaultPidFile());
  const pid = await stopDaemon(pidFile, STOP_TIMEOUT_MS);
  process.stdout.write(`sfx serve (pid ${pid}) stopped\n`);
  return 0;
}

/**
 * `--status`: whether the server named by the pid file lives (for scripts and monitoring: exit 0
 * or 11), and its figures from the status file beside the pid file.
 */
function status(flags: ServeFlags): number {
  const pidFile = resolve(flags.pidFile ?? defaultPidFile());
  const pid = runningPid(pidFile);
  if (pid === undefined) {
    const message = `No sfx server is running (pid file ${pidFile} ${describeStalePidFile(pidFile)})`;
    if (!flags.json) throw new SfxError("SFX_NOT_RUNNING", message);
    process.stdout.write(`${JSON.stringify({ running: false, pidFile, message })}\n`);
    return ERROR_CODES.SFX_NOT_RUNNING;
  }
  const figures = readStatusFile(statusFileFor(pidFile), pid);
  if (flags.json) {
    const more = "record" in figures ? { status: figures.record } : { status: null, why: figures.why };
    process.stdout.write(`${JSON.stringify({ running: true, pid, pidFile, ...more })}\n`);
    return 0;
  }
  process.stdout.write(`sfx serve runs, pid ${pid} (pid file ${pidFile})\n`);
  process.stdout.write("record" in figures ? describeStatus(figures.record) : `  (no figures: ${figures.why})\n`);
  return 0;
}

/** A status record as lines for the admin. */
export function describeStatus(r: StatusRecord, now = Date.now()): string {
  if (r.state === "starting") {
    return `  starting, for ${formatUptime(now - Date.parse(r.since))} (sfx ${r.version}): opening its share store and taking its port; its figures come once it runs\n`;
  }
  const x = r.exchanges;
  const s = r.shares;
  const ended = `${x.done} done, ${x.rejected} refused, ${x.cancelled} cancelled, ${x.failed} failed`;
  const age = Math.max(0, Math.round((now - Date.parse(r.updatedAt)) / 1000));
  return [
    ...(r.state === "stopping" ? ["  stopping (a graceful shutdown takes up to 10 s); the figures are from when it began"] : []),
    `  sfx ${r.version} on ${formatAddress(r.host, r.port)} as ${r.name}, up ${formatUptime(now - Date.parse(r.startedAt))}`,
    `  clients:   ${r.clients} connected`,
    `  exchanges: ${x.active} under way; since the start ${ended}; ${formatBytes(x.relayedBytes)} relayed`,
    s === null
      ? "  shares:    none served: the share store could not be opened (its disk was full when the server started)"
      : `  shares:    ${s.count}, ${formatBytes(s.usedBytes)} of the ${formatBytes(s.quotaBytes)} quota; ${s.requests} upload(s) or download(s) under way`,
    `  (figures from ${age} s ago)`,
  ].join("\n") + "\n";
}

/** A duration as an admin reads it: `45 s`, `12 min`, `3 h 12 min`, `2 d 4 h`. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** The launcher: checks, relaunches detached, waits for the daemon's report. */
async function daemonize(flags: ServeFlags): Promise<number> {
  shareServerOptions(flags); // bad values fail here, not in the detached daemon
  const choice = chooseLogDir(flags.logDir);
  if (choice.fellBack) process.stderr.write(`${fallbackNotice(choice)}\n`);
  const pidFile = resolve(flags.pidFile ?? defaultPidFile());
  const other = runningPid(pidFile);
  if (other !== undefined) throw new SfxError("SFX_ALREADY_RUNNING", `A server already runs with pid ${other} (pid file ${pidFile})`);
  const args = [
    "serve", "--daemon-child",
    "--port", String(flags.port),
    "--host", flags.host,
    "--log-dir", choice.dir,
    "--log-level", flags.logLevel,
    "--pid-file", pidFile,
    ...(flags.name !== undefined ? ["--name", flags.name] : []),
    ...(flags.discoveryInterface ?? []).flatMap((a) => ["--discovery-interface", a]),
    ...shareServeArgs(flags),
    ...pairingArgs(flags),
  ];
  const started = await startDaemon({ args, logDir: choice.dir });
  process.stdout.write(
    `sfx serve running as a daemon, pid ${started.pid}, port ${started.port}\n` +
      `  log:      ${join(choice.dir, SERVER_LOG_FILE)}\n` +
      `  output:   ${started.stdoutLog}, ${started.stderrLog}\n` +
      `  pid file: ${pidFile} (stop it with: ${sfxCommandLine()} serve --stop${flags.pidFile ? ` --pid-file ${shellWord(pidFile)}` : ""})\n`,
  );
  return 0;
}

/** How this sfx is run, as a user would type it: `sfx`, `node …/cli.ts`, `deno run -A --unstable-net …/cli.ts`. */
function sfxCommandLine(): string {
  if (isSingleExecutable()) return "sfx";
  const self = selfCommand();
  return [self.command, ...self.prefix].map(shellWord).join(" ");
}

/** The server itself: in the terminal, under systemd, or as the daemon. */
async function foreground(flags: ServeFlags): Promise<number> {
  const child = Boolean(flags.daemonChild);
  if (child) leaveWorkingDirectory();
  let status: number;
  try {
    status = await runServer({
      host: flags.host,
      port: flags.port,
      name: flags.name,
      logDir: flags.logDir,
      logLevel: flags.logLevel,
      console: !child && !flags.quiet,
      discoveryInterfaces: flags.discoveryInterface,
      ...shareServerOptions(flags),
      pairing: pairingLimits(flags),
      pidFile: child ? flags.pidFile ?? defaultPidFile() : flags.pidFile,
      onReady: async (server) => {
        if (!child) {
          // Its log line (INFO) is how one tells it is up: above that level, say it on stderr all the same.
          if (!flags.quiet && LOG_LEVELS.indexOf(flags.logLevel) > LOG_LEVELS.indexOf("info")) {
            process.stderr.write(`sfx ${VERSION} ready on ${formatAddress(server.host, server.port)} as ${server.name} (log level ${flags.logLevel}: only such lines follow)\n`);
          }
          return;
        }
        process.stdout.write(`${new Date().toISOString()} sfx ${VERSION} daemon ready, pid ${process.pid}, port ${server.port}\n`);
        await reportToLauncher({ type: "sfx-daemon-ready", pid: process.pid, port: server.port, addresses: server.addresses, logDir: server.logDir });
      },
    });
  } catch (err) {
    if (child) {
      const code = isSfxError(err) ? err.code : "SFX_INTERNAL";
      await reportToLauncher({ type: "sfx-daemon-failed", code, message: err instanceof Error ? err.message : String(err) });
    }
    throw err;
  }
  // Graceful shutdown is done. Should anything still hold the event loop
  // open (a timer someone forgot), do not hang: exit shortly.
  setTimeout(() => process.exit(status), 2000).unref();
  return status;
}

/** The exchange limits given on the command line (the rest keep their defaults). */
function pairingLimits(flags: ServeFlags): Partial<PairingLimits> {
  const limits: Partial<PairingLimits> = {};
  if (flags.maxClients !== undefined) limits.maxClients = flags.maxClients;
  if (flags.maxClientsPerAddress !== undefined) limits.maxClientsPerAddress = flags.maxClientsPerAddress;
  if (flags.maxFileSize !== undefined) limits.maxFileSize = flags.maxFileSize;
  if (flags.idleTimeout !== undefined) limits.idleTimeoutMs = flags.idleTimeout;
  if (flags.offerTimeout !== undefined) limits.offerTimeoutMs = flags.offerTimeout;
  return limits;
}

/** The exchange limits again, as arguments for the daemon (durations in ms, sizes in bytes). */
function pairingArgs(flags: ServeFlags): string[] {
  const out: string[] = [];
  if (flags.maxClients !== undefined) out.push("--max-clients", String(flags.maxClients));
  if (flags.maxClientsPerAddress !== undefined) out.push("--max-clients-per-address", String(flags.maxClientsPerAddress));
  if (flags.maxFileSize !== undefined) out.push("--max-file-size", String(flags.maxFileSize));
  if (flags.idleTimeout !== undefined) out.push("--idle-timeout", `${flags.idleTimeout}ms`);
  if (flags.offerTimeout !== undefined) out.push("--offer-timeout", `${flags.offerTimeout}ms`);
  return out;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A server name as discovery carries it: printable, at most {@link MAX_NAME_BYTES} bytes (never cut silently). */
function parseServerName(text: string): string {
  // What discovery would refuse from a server is refused here: a name shown differently, or not at all.
  if (text.trim() === "" || UNPRINTABLE_CHARS.test(text) || !text.isWellFormed()) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --name ${JSON.stringify(text)}: use printable characters`);
  }
  if (PADDED.test(text)) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --name ${JSON.stringify(text)}: no spaces around it, nor two in a row`);
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_NAME_BYTES) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --name: ${bytes} bytes, discovery carries at most ${MAX_NAME_BYTES}`);
  return text;
}

/**
 * The daemon holds no directory busy (an unmount would fail): it runs in `/`,
 * where the binary and Node start it. Deno starts it where the launcher ran,
 * to find its configuration the same way; a Deno allowed to read only some
 * paths may refuse `/`, and the daemon then stays where it is.
 */
function leaveWorkingDirectory(): void {
  try {
    process.chdir("/");
  } catch {
    // Not allowed to: harmless.
  }
}
