/**
 * Creating a directory and its missing parents, as `mkdir -p` does.
 *
 * Node's `mkdir(dir, { recursive: true })` never returns when a parent exists
 * but refuses children with ENOENT, as /proc does: it creates the parent
 * ("exists"), retries the child (ENOENT) and goes round again, at 100 % CPU.
 * These walk the path themselves, one `mkdir` per missing component, so a
 * directory that cannot be made is an error, never a hang.
 *
 * @module
 */
import { mkdirSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

function notADirectory(dir: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: "ENOTDIR", syscall: "mkdir", path: dir });
}

/** Creates `dir` and any missing parents (each with `mode`); fine if it already is a directory. */
export function ensureDirSync(dir: string, mode?: number): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { mode });
    return;
  } catch (err) {
    if (code(err) === "EEXIST") {
      if (!statSync(path).isDirectory()) throw notADirectory(path);
      return;
    }
    const parent = dirname(path);
    if (code(err) !== "ENOENT" || parent === path) throw err;
  }
  ensureDirSync(dirname(path), mode);
  // Once: if the parent now exists and this still fails, that is the answer.
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if (code(err) !== "EEXIST" || !statSync(path).isDirectory()) throw err;
  }
}

/**
 * {@link ensureDirSync}, without blocking the event loop. `made`, when given,
 * gets each directory this call created (parents first).
 */
export async function ensureDir(dir: string, mode?: number, made?: string[]): Promise<void> {
  const path = resolve(dir);
  try {
    await mkdir(path, { mode });
    made?.push(path);
    return;
  } catch (err) {
    if (code(err) === "EEXIST") {
      if (!(await stat(path)).isDirectory()) throw notADirectory(path);
      return;
    }
    const parent = dirname(path);
    if (code(err) !== "ENOENT" || parent === path) throw err;
  }
  await ensureDir(dirname(path), mode, made);
  try {
    await mkdir(path, { mode });
    made?.push(path);
  } catch (err) {
    if (code(err) !== "EEXIST" || !(await stat(path)).isDirectory()) throw err;
  }
}
