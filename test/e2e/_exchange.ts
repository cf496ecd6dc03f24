/**
 * Helpers for exchange end-to-end tests: `build/sfx serve`, `receive` and
 * `send` as separate processes on loopback, driven as a user would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { bareEnv, SFX } from "../cli/_sfx.ts";

export { ensureBinary, SFX } from "../cli/_sfx.ts";

const cleanups: Array<() => void | Promise<void>> = [];

/** Runs every registered cleanup (kill processes, remove dirs). */
export async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}

/** A temporary directory removed by cleanupAll(). */
export function tmp(prefix = "sfx-e2e-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A spawned sfx with its output. */
export interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the first match in stdout+stderr; rejects after `ms` or at exit. */
  waitFor(re: RegExp, ms?: number, stream?: "out" | "err" | "both"): Promise<RegExpMatchArray>;
  /** Resolves with the exit status (or signal) within `ms`, else kills and rejects. */
  exit(ms?: number): Promise<{ status: number | null; signal: string | null; seconds: number }>;
}

/** Starts `sfx …args`; stdin is a pipe when `stdin` is true; `env` adds to the bare environment. Killed by cleanupAll(). */
export function sfx(args: string[], opts: { stdin?: boolean; home?: string; env?: Record<string, string> } = {}): Proc {
  const home = opts.home ?? tmp("sfx-home-");
  const child = spawn(SFX, args, { env: { ...bareEnv(home), ...opts.env }, stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const started = Date.now();
  let endedAt = 0;
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err += c));
  // Writing to a process that already exited is EPIPE: the test's assertions say what matters, not a crash.
  child.stdin?.on("error", () => {});
  const ended = new Promise<{ status: number | null; signal: string | null }>((resolve) => {
    child.on("close", (status, signal) => {
      endedAt = Date.now();
      resolve({ status, signal });
    });
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return {
    child,
    out: () => out,
    err: () => err,
    waitFor(re, ms = 15_000, stream = "both") {
      const text = () => (stream === "out" ? out : stream === "err" ? err : out + err);
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text().match(re);
          if (m) {
            done();
            resolve(m);
          }
        };
        const onEnd = () => {
          // Output may still be in flight at 'exit': check once more at 'close'.
          check();
          done();
          reject(new Error(`sfx ${args[0]} ended before matching ${re}\nstdout: ${out}\nstderr: ${err}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`sfx ${args[0]} did not print ${re} within ${ms} ms\nstdout: ${out}\nstderr: ${err}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          child.stdout!.off("data", check);
          child.stderr!.off("data", check);
          child.off("close", onEnd);
        };
        child.stdout!.on("data", check);
        child.stderr!.on("data", check);
        child.on("close", onEnd);
        check();
      });
    },
    async exit(ms = 30_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const r = await Promise.race([
          ended,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              child.kill("SIGKILL");
              reject(new Error(`sfx ${args.join(" ")} did not exit within ${ms} ms\nstdout: ${out}\nstderr: ${err}`));
            }, ms);
          }),
        ]);
        return { ...r, seconds: ((endedAt || Date.now()) - started) / 1000 };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A running `sfx serve` on 127.0.0.1 and a free port. */
export interface Server {
  proc: Proc;
  port: number;
  address: string;
  logDir: string;
}

/** Starts `sfx serve` on 127.0.0.1, port 0, logs in a temp dir; resolves once it is ready. */
export async function startServe(extra: string[] = []): Promise<Server> {
  const logDir = tmp("sfx-logs-");
  // Never the default store: two servers on one store are refused.
  const storage = extra.includes("--storage") ? [] : ["--storage", tmp("sfx-store-")];
  const proc = sfx(["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", logDir, "--name", "e2e", ...storage, ...extra]);
  const m = await proc.waitFor(/ ready on 127\.0\.0\.1:(\d+)/, 20_000, "err");
  const port = Number(m[1]);
  return { proc, port, address: `127.0.0.1:${port}`, logDir };
}

/** Starts `sfx receive --json` and resolves with its ID once connected. */
export async function startReceive(server: Server, dir: string, extra: string[] = []): Promise<Proc & { id: string; code: string }> {
  const proc = sfx(["receive", "--server", server.address, "--dir", dir, "--json", ...extra]);
  const m = await proc.waitFor(/"event":"connected","id":"(\d+)","code":"([\d-]+)"/, 15_000, "out");
  return Object.assign(proc, { id: m[1], code: m[2] });
}

/** Every JSON event line a --json process printed. */
export function events(p: Proc): Array<Record<string, unknown>> {
  return p.out().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Relative path → SHA-256 of every file under `dir`. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = sha256(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Resolves when `cond()` holds; rejects after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
