/**
 * `npm test`: type-checks (tsc and deno check), builds the single binary
 * (end-to-end tests spawn it), then runs every `test/**\/*.test.ts` file in its
 * own process — under Node, and the files listed in DENO_FILES under Deno too
 * — and ends with the line `N passed, N failed, N skipped`.
 *
 * A test file that has not exited 10 s after uvu printed its totals has
 * leaked a socket or timer: that counts as a failure.
 *
 * Usage: node test/run.ts [--no-check] [--no-build] [--no-deno] [filter…]
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
// Deno checks for upgrades over the network unless told not to: tests send
// nothing off this machine, so every child (and its children) inherits this.
process.env.DENO_NO_UPDATE_CHECK = "1";
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
const filters = args.filter((a) => !a.startsWith("--"));
const FILE_TIMEOUT_MS = 240_000;
const EXIT_GRACE_MS = 10_000;
/** Files that run under Deno as well as Node: the CLI, the Deno datagram seam, and reading files (Deno's readv differs). */
const DENO_FILES = [/^test\/cli\//, /^test\/transport\/deno/, /^test\/protocol\/file_messages/, /^test\/share\/share_crypto/, /^test\/protocol\/cpace/];

function step(name: string, cmd: string, cmdArgs: string[]): boolean {
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: ROOT, stdio: "inherit" });
  const ok = r.status === 0;
  console.log(`${ok ? "ok" : "FAILED"}: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return ok;
}

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(relative(ROOT, path));
  }
  return out;
}

interface FileResult {
  file: string;
  runtime: "node" | "deno";
  passed: number;
  failed: number;
  skipped: number;
  problem?: string;
}

const ANSI = /\u001b\[[0-9;]*m/g;

function runFile(file: string, runtime: "node" | "deno"): Promise<FileResult> {
  const cmd = runtime === "node" ? process.execPath : join(ROOT, "node_modules/.bin/deno");
  const cmdArgs = runtime === "node" ? [file] : ["run", "-A", "--unstable-net", file];
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SFX_TEST_RUNTIME: runtime } });
    let output = "";
    let totalsAt = 0;
    let problem: string | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!totalsAt && /Duration:/.test(output)) {
        totalsAt = Date.now();
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) {
            problem = `did not exit ${EXIT_GRACE_MS / 1000} s after its tests finished: a socket or timer leaked`;
            child.kill("SIGKILL");
          }
        }, EXIT_GRACE_MS).unref();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => {
      problem = `timed out after ${FILE_TIMEOUT_MS / 1000} s`;
      child.kill("SIGKILL");
    }, FILE_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const text = output.replace(ANSI, "");
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
      const total = num("Total");
      const passed = num("Passed");
      const skipped = num("Skipped");
      let failed = Math.max(0, total - passed - skipped);
      if (!problem && !/Total:/.test(text)) problem = `ended (${signal ?? code}) before uvu printed its totals`;
      if (!problem && code !== 0 && failed === 0) problem = `exited with status ${code}`;
      if (problem) failed += 1;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const tag = `${runtime === "deno" ? "[deno] " : ""}${file}`;
      if (failed > 0) {
        console.log(`\n----- ${tag} -----\n${text.trimEnd()}\n${problem ? `!!! ${tag}: ${problem}\n` : ""}`);
      }
      console.log(`${failed ? "FAIL" : "ok  "} ${tag}: ${passed} passed, ${failed} failed, ${skipped} skipped (${secs} s)`);
      resolve({ file, runtime, passed, failed, skipped, problem });
    });
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  let stepFailures = 0;
  if (!flags.has("--no-check")) {
    if (!step("tsc --noEmit", process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", ROOT])) stepFailures++;
    if (!step("deno check", join(ROOT, "node_modules/.bin/deno"), ["check", "--quiet", "cli.ts", "mod.ts"])) stepFailures++;
  }
  if (!flags.has("--no-build")) {
    if (!step("build (single executable)", process.execPath, [join(ROOT, "build/build.ts")])) stepFailures++;
  }
  let files = findTests(join(ROOT, "test"));
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
  const jobs: Array<[string, "node" | "deno"]> = files.map((f) => [f, "node"]);
  if (!flags.has("--no-deno")) {
    for (const f of files) if (DENO_FILES.some((re) => re.test(f))) jobs.push([f, "deno"]);
  }
  const results: FileResult[] = [];
  const workers = Math.max(2, Math.min(4, availableParallelism()));
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < jobs.length) {
      const [file, runtime] = jobs[next++];
      results.push(await runFile(file, runtime));
    }
  }));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0) + stepFailures;
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  console.log(`\n${results.length} test files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const r of results) if (r.failed) console.log(`  failed: ${r.runtime === "deno" ? "[deno] " : ""}${r.file}${r.problem ? ` (${r.problem})` : ""}`);
  if (stepFailures) console.log(`  ${stepFailures} check/build step(s) failed (counted as failures)`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}

process.exitCode = await main();
