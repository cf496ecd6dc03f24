/**
 * The status file: a running server's figures (clients, exchanges, bytes
 * relayed, shares), written beside its pid file every few seconds, for
 * `sfx serve --status` to show. A file, not a question to the server: no
 * port or socket to guard, and a hung server shows as figures that have
 * stopped coming.
 *
 * @example
 * ```ts
 * const writer = startStatusFile(statusFileFor("/run/sfx.pid"), () => server.status());
 * // … /run/sfx.status.json is rewritten every 5 s …
 * await writer.stopping(); // a last record, saying the server is stopping
 * await server.close();
 * await writer.remove();
 * ```
 *
 * @module
 */
import { readFileSync, unlinkSync } from "node:fs";
import { rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { ServerStatus } from "./server.ts";

/** How often the figures are written. */
export const STATUS_EVERY_MS = 5000;

/** Figures older than this are said to be stale: the server no longer writes them (hung, or its disk full). */
export const STATUS_STALE_MS = 3 * STATUS_EVERY_MS;

/** A status file's content: the server's figures, when they were written, and whether it is stopping. */
export interface RunningRecord extends ServerStatus {
  /** When the figures were taken (ISO 8601). */
  updatedAt: string;
  /** `stopping`: it is shutting down (asked to, or after a crash; up to 10 s); the figures are those it had then. */
  state: "running" | "stopping";
}

/** A status file's content while the server starts (opening its share store, taking its port): no figures yet. */
export interface StartingRecord {
  state: "starting";
  version: string;
  pid: number;
  /** When the start began (ISO 8601). */
  since: string;
  updatedAt: string;
}

/** What a status file holds. */
export type StatusRecord = RunningRecord | StartingRecord;

/** Where the server with pid file `pidFile` writes its figures: beside it, `sfx.pid` → `sfx.status.json`. */
export function statusFileFor(pidFile: string): string {
  const name = basename(pidFile).replace(/\.pid$/, "");
  return join(dirname(pidFile), `${name}.status.json`);
}

/**
 * Writes `status()` to `path` now and every {@link STATUS_EVERY_MS}, each
 * time whole (a temporary file renamed over it: a reader never sees half);
 * while `status()` gives nothing (the server starting), a record that says
 * it is starting. A write that fails (or a `status()` that throws) is told
 * to `onError` once, until one succeeds again. `update()` writes at once
 * (the server has started). `stopping()` ends the writes with a last record
 * that says so; `remove()` then removes the file (`removeNow()` at once, for
 * a process exiting without waiting).
 */
export function startStatusFile(
  path: string,
  status: () => ServerStatus | undefined,
  onError?: (err: unknown) => void,
  version = "",
): { update(): void; stopping(): Promise<void>; remove(): Promise<void>; removeNow(): void } {
  const since = new Date().toISOString();
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let writing: Promise<void> = Promise.resolve();
  let failing = false;
  let state: RunningRecord["state"] = "running";
  let ended = false;
  const write = () => {
    writing = writing.then(async () => {
      try {
        const figures = status();
        const updatedAt = new Date().toISOString();
        const record: StatusRecord = figures ? { ...figures, updatedAt, state } : { state: "starting", version, pid: process.pid, since, updatedAt };
        await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
        await rename(temporary, path);
        failing = false;
      } catch (err) {
        await unlink(temporary).catch(() => {});
        if (!failing) onError?.(err);
        failing = true;
      }
    });
  };
  write();
  const timer = setInterval(() => !ended && write(), STATUS_EVERY_MS);
  (timer as { unref?: () => void }).unref?.();
  return {
    update() {
      if (!ended) write();
    },
    stopping() {
      if (!ended) {
        ended = true;
        clearInterval(timer);
        state = "stopping";
        write();
      }
      return writing;
    },
    async remove() {
      ended = true;
      clearInterval(timer);
      await writing;
      await unlink(path).catch(() => {});
    },
    /** At once, for a process about to exit without waiting (a write still under way may leave its temporary file). */
    removeNow() {
      ended = true;
      clearInterval(timer);
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    },
  };
}

/**
 * The figures in `path` if they are those of the server `pid` and fresh,
 * else why there are none, in words for the admin.
 */
export function readStatusFile(path: string, pid: number, now = Date.now()): { record: StatusRecord } | { why: string } {
  let record: StatusRecord;
  try {
    record = JSON.parse(readFileSync(path, "utf8")) as StatusRecord;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { why: `${path} is missing (the server is starting, or it is older than this sfx, or runs without a pid file)` };
    return { why: `${path} cannot be read: ${code ?? (err as Error).message}` };
  }
  if (record?.pid !== pid) return { why: `${path} is another process's (pid ${record?.pid}), not pid ${pid}'s` };
  const age = now - Date.parse(record.updatedAt);
  if (!(age < STATUS_STALE_MS)) {
    return { why: `the figures in ${path} are ${Number.isFinite(age) ? `${Math.round(age / 1000)} s` : "of an unknown"} old: the server has stopped writing them (hung, or its disk is full?)` };
  }
  return { record };
}
