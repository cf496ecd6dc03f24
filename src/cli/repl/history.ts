/**
 * The prompt's history across sessions: one command per line in
 * `$XDG_STATE_HOME/sfx/client_history` (or `~/.local/state/sfx/…`), mode
 * 0600 since lines may hold share codes (capabilities). Failures to read or
 * write it never disturb the session: history is a convenience.
 *
 * @module
 */
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureDirSync } from "../../ensure_dir.ts";
import { userStateDir } from "../../log/dirs.ts";

/** Lines kept. */
export const HISTORY_SIZE = 500;

/** Where the history lives. */
export function historyFile(): string {
  return join(userStateDir(), "client_history");
}

/** The saved lines, newest first (readline's order); trims the file when it has grown past twice the size. */
export function loadHistory(file: string, size = HISTORY_SIZE): string[] {
  let lines: string[];
  try {
    lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  } catch {
    return [];
  }
  if (lines.length > 2 * size) {
    lines = lines.slice(-size);
    try {
      writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
    } catch {
      // read-only: keep reading it
    }
  }
  return lines.slice(-size).reverse();
}

/** Appends one typed line (not blank ones, nor lines starting with a space: a way to keep one out). */
export function appendHistory(file: string, line: string): void {
  if (line.trim() === "" || line.startsWith(" ") || line.includes("\n")) return;
  try {
    ensureDirSync(dirname(file), 0o700);
    appendFileSync(file, `${line}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch {
    // no writable state directory: history stays in memory
  }
}
