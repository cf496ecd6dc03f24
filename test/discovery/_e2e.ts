/**
 * Helpers for the end-to-end discovery tests: spawn the built binary
 * (`build/sfx`, with no node on PATH) as a user would, optionally inside a
 * network namespace this test creates, and clean everything up.
 */
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const SFX = join(ROOT, "build/sfx");

/** Fails loudly when the binary has not been built (npm test builds it first). */
export function requireBinary(): void {
  if (!existsSync(SFX)) throw new Error(`${SFX} is missing: run 'node build/build.ts' (npm test builds it first)`);
}

/** The environment the binary runs in: no node on PATH, a throwaway HOME. */
export function sfxEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: "/nonexistent", HOME: home, XDG_STATE_HOME: join(home, "state") };
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `ip` with its full path, found once. */
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p));

/** The command that runs `argv` (starting with build/sfx) inside `ns`, or directly. */
function command(argv: string[], ns: string | undefined): [string, string[]] {
  return ns ? [IP!, ["netns", "exec", ns, ...argv]] : [argv[0], argv.slice(1)];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `sfx …args` to completion (killed after `timeoutMs`). */
export function runSfx(args: string[], opts: { env: NodeJS.ProcessEnv; ns?: string; timeoutMs?: number }): Promise<RunResult> {
  const [cmd, cmdArgs] = command([SFX, ...args], opts.ns);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, cmdArgs, { env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 15_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A long-running `sfx serve`. */
export interface Server {
  output(): string;
  exited(): boolean;
  /** SIGTERM, then waits (SIGKILL after `graceMs`); resolves with the exit code, or null when it had to be killed. */
  stop(graceMs?: number): Promise<number | null>;
}

export function startServe(args: string[], opts: { env: NodeJS.ProcessEnv; ns?: string }): Server {
  // Never the default store (two servers on one store are refused): beside the logs.
  const logDir = args[args.indexOf("--log-dir") + 1];
  if (!args.includes("--storage")) {
    if (!args.includes("--log-dir")) throw new Error("startServe needs --log-dir or --storage");
    args = [...args, "--storage", join(logDir, "shares")];
  }
  const [cmd, cmdArgs] = command([SFX, "serve", ...args], opts.ns);
  const child = spawn(cmd, cmdArgs, { env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exitCode: number | null | undefined;
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const closed = new Promise<number | null>((resolve) => {
    child.on("close", (code) => {
      exitCode = code;
      resolve(code);
    });
    child.on("error", (err) => {
      output += String(err);
      exitCode = null;
      resolve(null);
    });
  });
  return {
    output: () => output,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 5000) {
      if (exitCode !== undefined) return exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await closed;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Waits until `sfx discover --to <address>:<port>` run inside `ns` (or here) finds
 * the server: the readiness check, bounded in attempts and time.
 */
export async function waitUntilAnswering(server: Server, to: string, opts: { env: NodeJS.ProcessEnv; ns?: string }): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (let attempt = 0; attempt < 40 && performance.now() < deadline; attempt++) {
    if (server.exited()) throw new Error(`sfx serve exited early:\n${server.output()}`);
    const r = await runSfx(["discover", "--to", to, "--timeout", "300ms"], opts);
    if (r.code === 0) return;
  }
  throw new Error(`sfx serve never answered a unicast query at ${to}:\n${server.output()}`);
}

/** A UDP port that was free a moment ago on this host. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return "not root";
  if (!IP) return "no 'ip' command (package iproute2)";
  const probe = uniqueName("probe");
  const add = spawnSync(IP, ["netns", "add", probe], { encoding: "utf8" });
  if (add.status !== 0) return `'ip netns add' failed: ${add.stderr.trim()}`;
  spawnSync(IP, ["netns", "del", probe]);
  return undefined;
}

/** A namespace name unique to this run (≤ 15 chars is not required for netns names, but keep them short). */
export function uniqueName(tag: string): string {
  return `sfxd-${process.pid}-${Math.random().toString(36).slice(2, 6)}-${tag}`;
}

/** Runs `ip …args`; throws with its stderr on failure. */
export function ip(...args: string[]): void {
  const r = spawnSync(IP!, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
}

/** Deletes namespaces (and with them their interfaces); never throws. */
export function deleteNamespaces(names: Iterable<string>): void {
  for (const ns of names) spawnSync(IP!, ["netns", "del", ns]);
}

/** Deletes `names` at exit too, in case a test throws before its own cleanup. */
export function deleteAtExit(names: Set<string>): void {
  process.once("exit", () => deleteNamespaces(names));
}

/** Prints a banner nobody can miss. */
export function loudSkip(what: string, why: string): void {
  const line = "!".repeat(78);
  console.warn(`\n${line}\n!!! SKIPPED: ${what}\n!!! because: ${why}\n!!! (needs root and iproute2 on Linux)\n${line}\n`);
}
