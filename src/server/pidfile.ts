/**
 * The pid file of a running server: created exclusively, so two servers
 * never share one; a file left by a process that is gone (a crash, a
 * reboot) is taken over; removed on shutdown only by the process that owns it.
 *
 * @module
 */
import { accessSync, constants, linkSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ensureDirSync } from "../ensure_dir.ts";
import { SfxError } from "../errors.ts";
import { processAlive } from "../process_alive.ts";
import { processCheckHint } from "../deno_access.ts";
import { userStateDir } from "../log/dirs.ts";
import { isSingleExecutable } from "../single_executable.ts";
import { DEFAULT_PID_FILE, PID_FILE_NAME } from "./defaults.ts";

/** `/run/sfx.pid` when /run is writable (root, systemd's RuntimeDirectory), else `<user state dir>/sfx.pid`. */
export function defaultPidFile(): string {
  try {
    accessSync(dirname(DEFAULT_PID_FILE), constants.W_OK);
    return DEFAULT_PID_FILE;
  } catch {
    return join(userStateDir(), PID_FILE_NAME);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Why a pid file names no running server, for messages: missing, not a pid, gone, or another program. */
export function describeStalePidFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "not found" : code === "EISDIR" ? "is a directory" : `cannot be read (${code})`;
  }
  const pid = parsePid(text);
  if (pid === undefined) return `holds no process ID (${JSON.stringify(text.trim().slice(0, 20))})`;
  return processAlive(pid) ? `names pid ${pid}, which is not sfx serve` : `names pid ${pid}, which is gone`;
}

function parsePid(text: string): number | undefined {
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The pid a pid file names, or undefined when it is missing or not a pid. */
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  return parsePid(text);
}

/**
 * True when `pid` is a live sfx server: the process exists and, where
 * /proc tells, its command line is `sfx serve` ({@link isSfxServeCommand}),
 * so a pid reused by an unrelated process after a reboot does not count.
 */
export function isServerAlive(pid: number): boolean {
  if (!processAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return true; // no /proc: trust kill(0)
  }
  if (cmdline === "") return false; // a zombie: it has exited
  const args = cmdline.split("\0").filter((a) => a !== "");
  return isSfxServeCommand(args) || (runsThisExecutable(pid) && isServeCommandLine(args.slice(1)));
}

/**
 * Whether `pid` runs the very file this single executable is, whatever name either was started
 * by (a packager's `sfxd`, a link): by device and inode. Never for `node` or `deno`, which run
 * anything.
 */
function runsThisExecutable(pid: number): boolean {
  if (!isSingleExecutable()) return false;
  try {
    const theirs = statSync(`/proc/${pid}/exe`);
    const ours = statSync(process.execPath);
    return theirs.dev === ours.dev && theirs.ino === ours.ino;
  } catch {
    return false;
  }
}

/** `serve` after any global options: the sfx arguments of a server. */
function isServeCommandLine(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === "serve") return true;
    if (!a.startsWith("-")) return false; // another command
  }
  return false;
}

/**
 * Whether a command line is `sfx serve`: the sfx program (the executable
 * `sfx` or `sfx-…`, or `cli.ts` under Node or Deno), then, after any global
 * options, the word `serve`. Not just any process with a `serve` argument
 * (`jekyll serve`, `python app.py serve`): a reused pid must not be taken
 * for a server, nor signalled by `--stop`.
 */
export function isSfxServeCommand(args: readonly string[]): boolean {
  const program = args.findIndex((a) => {
    const name = basename(a);
    return name === "sfx" || name.startsWith("sfx-") || name === "cli.ts" || name === "cli.js";
  });
  return program >= 0 && isServeCommandLine(args.slice(program + 1));
}

/** The pid of the live server named by the pid file, or undefined. */
export function runningPid(path: string): number | undefined {
  const pid = readPidFile(path);
  return pid !== undefined && isServerAlive(pid) ? pid : undefined;
}

/** A pid file this process holds. */
export interface PidFile {
  /** Absolute path. */
  readonly path: string;
  /** Removes the file if it still names this process; idempotent, never throws. */
  release(): void;
  /** Set when a stale file was replaced: what it was ("names pid 4242, which is gone"). */
  readonly tookOver?: string;
}

/**
 * Writes this process's pid to `path`, creating its directory. Throws
 * SfxError `SFX_ALREADY_RUNNING` when the file names a live server, and
 * `SFX_IO` when it cannot be written. A stale file is replaced.
 */
export function acquirePidFile(path: string, pid: number = process.pid): PidFile {
  const file = resolve(path);
  if (isDirectory(file)) throw new SfxError("SFX_IO", `The pid file ${file} is a directory: give a file name`);
  try {
    ensureDirSync(dirname(file));
  } catch (err) {
    throw new SfxError("SFX_IO", `Cannot create the pid file's directory ${dirname(file)}: ${(err as Error).message}`, { cause: err });
  }
  let tookOver: string | undefined;
  // Written whole beside it, then linked into place (which fails if a file is there): the pid file
  // is never seen empty, so a server starting at the same moment never takes it for stale.
  const temp = `${file}.${pid}.${process.hrtime.bigint()}.tmp`;
  try {
    writeFileSync(temp, `${pid}\n`, { flag: "wx", mode: 0o644 });
  } catch (err) {
    throw new SfxError("SFX_IO", `Cannot write the pid file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) {
          throw new SfxError("SFX_IO", `Cannot write the pid file ${file}: ${(err as Error).message}`, { cause: err });
        }
      }
      let text: string;
      let ino: number;
      try {
        text = readFileSync(file, "utf8");
        ino = statSync(file).ino;
      } catch {
        continue; // gone meanwhile: try again
      }
      // Only a pid file (or an empty one, an older sfx's cut short) is taken over: anything else (a
      // --pid-file naming the user's notes by mistake) is not ours.
      if (!/^\s*(\d+\s*)?$/.test(text)) {
        throw new SfxError("SFX_IO", `The pid file ${file} holds something other than a process ID (${JSON.stringify(text.slice(0, 40))}): not sfx's to replace; remove it, or give another --pid-file`);
      }
      const other = parsePid(text);
      if (other !== undefined && other !== pid && isServerAlive(other)) {
        throw new SfxError("SFX_ALREADY_RUNNING", `A server already runs with pid ${other} (pid file ${file})${processCheckHint()}`);
      }
      tookOver = describeStalePidFile(file);
      // Stale (its process is gone): removed only if it is still the file judged.
      try {
        if (statSync(file).ino === ino && readFileSync(file, "utf8") === text) rmSync(file, { force: true });
      } catch {
        // gone meanwhile
      }
    }
  } finally {
    rmSync(temp, { force: true });
  }
  let released = false;
  return {
    path: file,
    ...(tookOver === undefined ? {} : { tookOver }),
    release() {
      if (released) return;
      released = true;
      try {
        if (readPidFile(file) === pid) rmSync(file, { force: true });
      } catch {
        // Shutdown goes on; a stale file is taken over next time.
      }
    },
  };
}
