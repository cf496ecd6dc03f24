/**
 * Where the store keeps its files: `--storage DIR` when given (it must be
 * writable), else `/var/lib/sfx/shares`, else — when that cannot be created
 * or written, as for a user without root — the per-user state directory
 * `$XDG_STATE_HOME/sfx/shares` or `~/.local/state/sfx/shares`.
 *
 * @module
 */
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ensureDirSync } from "../ensure_dir.ts";
import { SfxError } from "../errors.ts";
import { DEFAULT_STORAGE_DIR } from "./defaults.ts";

/** The chosen directory, and the reason when it is a fallback. */
export interface StorageChoice {
  dir: string;
  /** Set when the default was not usable: say so once. */
  fellBackBecause?: string;
}

function usable(dir: string): string | undefined {
  try {
    ensureDirSync(dir, 0o700);
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** The per-user fallback directory. */
export function fallbackStorageDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/")
    ? env.XDG_STATE_HOME
    : join(env.HOME || homedir(), ".local", "state");
  return join(state, "sfx", "shares");
}

/**
 * Picks and creates the storage directory. An explicit `requested` directory
 * that cannot be used is an `SFX_IO` error (the user asked for it); the
 * default falls back to {@link fallbackStorageDir}.
 */
export function chooseStorageDir(
  requested?: string,
  env: NodeJS.ProcessEnv = process.env,
  defaultDir: string = DEFAULT_STORAGE_DIR,
): StorageChoice {
  if (requested !== undefined) {
    const why = usable(requested);
    if (why) throw new SfxError("SFX_IO", `Cannot use share storage ${requested}: ${why}`);
    return { dir: requested };
  }
  const why = usable(defaultDir);
  if (!why) return { dir: defaultDir };
  const fallback = fallbackStorageDir(env);
  const why2 = usable(fallback);
  if (why2) {
    throw new SfxError("SFX_IO", `Cannot use share storage ${defaultDir} (${why}) nor ${fallback} (${why2}): pass --storage DIR`);
  }
  return { dir: fallback, fellBackBecause: `${defaultDir} is not writable (${why})` };
}
