/**
 * Drives the built binary as a user would: `build/sfx` spawned with an
 * environment holding only `PATH=/nonexistent` (no node, no deno to lean
 * on) plus a throwaway HOME, exactly like `env -i PATH=/nonexistent build/sfx …`.
 * Works under Node and Deno.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const SFX = join(ROOT, "build/sfx");

/** Builds build/sfx once when it is missing (npm test builds it before any test runs). */
export async function ensureBinary(): Promise<void> {
  if (existsSync(SFX)) return;
  const { buildBinary } = await import("../../build/build.ts");
  await buildBinary();
}

/** A temporary directory, removed by `remove()`. */
export function tempDir(prefix = "sfx-cli-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `env -i PATH=/nonexistent`, plus a HOME and XDG_STATE_HOME inside `home` so fallbacks stay in the test's dir. */
export function bareEnv(home?: string): Record<string, string> {
  return home ? { PATH: "/nonexistent", HOME: home, XDG_STATE_HOME: join(home, "state") } : { PATH: "/nonexistent" };
}

export interface RunResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs `sfx …args` (or the binary under another name: `program`) to completion; a run longer than `timeoutMs` is killed and rejects. */
export function runSfx(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; program?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.program ?? SFX, args, { env: opts.env ?? bareEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sfx ${args.join(" ")} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** A long-running sfx (serve in the foreground), with its output so far. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stderr; rejects after `timeoutMs` or when the process ends first. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has ended; kills it and rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<{ status: number | null; signal: string | null }>;
}

/** Starts `sfx …args` without waiting for it. */
export function startSfx(args: string[], opts: { env?: Record<string, string> } = {}): Running {
  const child = spawn(SFX, args, { env: opts.env ?? bareEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err += c));
  const ended = new Promise<{ status: number | null; signal: string | null }>((resolve) => {
    child.on("close", (status, signal) => resolve({ status, signal }));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForStderr(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = err.match(re);
          if (!m) return;
          done();
          resolve(m);
        };
        const onEnd = () => {
          done();
          reject(new Error(`sfx ended before stderr matched ${re}; stderr: ${err}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`stderr did not match ${re} within ${timeoutMs} ms; stderr: ${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          child.stderr!.off("data", check);
          child.off("close", onEnd);
        };
        child.stderr!.on("data", check);
        child.on("close", onEnd);
        check();
      });
    },
    async exited(timeoutMs = 15_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`sfx did not exit within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([ended, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** One line of stream_server.log: ISO time, level, category, message, fields. */
export const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) [\w.]+: \S.*$/;
