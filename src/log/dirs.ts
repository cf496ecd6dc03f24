/**
 * Choosing the log directory: the one asked for (default /var/log) when this
 * process can write there, otherwise the per-user state directory
 * (`$XDG_STATE_HOME/sfx`, or `~/.local/state/sfx`).
 *
 * "Can write" is tested by really opening the log file for appending, so a
 * read-only mount, a missing permission or a path through a regular file are
 * all caught the same way, as root too.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ensureDirSync } from "../ensure_dir.ts";
import { SfxError } from "../errors.ts";
import { DEFAULT_LOG_DIR, SERVER_LOG_FILE } from "./defaults.ts";

/** The per-user state directory of sfx: `$XDG_STATE_HOME/sfx`, or `~/.local/state/sfx`. */
export function userStateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  // XDG: a relative value is invalid and must be ignored.
  const base = xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "state");
  return join(base, "sfx");
}

/**
 * Creates `dir` if needed and opens `dir/probe` for appending (creating it).
 * Returns undefined when that works, else the error.
 */
export function probeWritable(dir: string, probe: string): Error | undefined {
  try {
    ensureDirSync(dir);
    closeSync(openSync(join(dir, probe), "a"));
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

/** The chosen log directory. */
export interface LogDirChoice {
  /** Absolute path of the directory the logs go to. */
  dir: string;
  /** True when `requested` was not writable and {@link userStateDir} is used instead. */
  fellBack: boolean;
  /** When it fell back: the directory asked for and why it could not be used. */
  reason?: { requested: string; error: Error };
}

/**
 * Resolves where the logs go; throws SfxError `SFX_IO` when neither the
 * requested directory nor the fallback is writable.
 */
export function chooseLogDir(requested: string = DEFAULT_LOG_DIR): LogDirChoice {
  const wanted = resolve(requested);
  const error = probeWritable(wanted, SERVER_LOG_FILE);
  if (!error) return { dir: wanted, fellBack: false };
  const fallback = userStateDir();
  const again = probeWritable(fallback, SERVER_LOG_FILE);
  if (again) {
    throw new SfxError("SFX_IO", `Cannot write logs to ${wanted} nor to ${fallback}: ${again.message}`, { cause: again });
  }
  return { dir: fallback, fellBack: true, reason: { requested: wanted, error } };
}

/** The one stderr line that says the logs went elsewhere. */
export function fallbackNotice(choice: LogDirChoice): string {
  const why = choice.reason ? ` (${(choice.reason.error as NodeJS.ErrnoException).code ?? choice.reason.error.message})` : "";
  return `sfx: cannot write logs to ${choice.reason?.requested}${why}; logging to ${choice.dir} instead`;
}
