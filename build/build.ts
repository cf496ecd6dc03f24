/**
 * `npm run build`: cli.ts → one executable, `build/sfx`, fully offline.
 *
 * 1. esbuild bundles cli.ts and its dependencies into one CommonJS file
 *    (single-executable applications start a CommonJS main script).
 * 2. The pinned Node 24 (node_modules/node, the binary running this script)
 *    turns it into a SEA preparation blob (`--experimental-sea-config`).
 * 3. A copy of that same Node binary loses its debug symbols (`strip`,
 *    when binutils is installed: 121 → 104 MiB), and postject injects the
 *    blob into it.
 *
 * Tools' chatter is hidden unless they fail; the one output line gives the
 * size and the time.
 *
 * @module
 */
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const ROOT = new URL("..", import.meta.url).pathname;
const OUT = join(ROOT, "build/out");
const TARGET = join(ROOT, "build/sfx");
const SENTINEL = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Builds build/sfx; returns its size in bytes and whether strip(1) shrank it. */
export async function buildBinary(): Promise<{ size: number; stripped: boolean }> {
  // The binary is a copy of the Node running this: it must be the pinned one, which `npm ci` puts in
  // node_modules/.bin (its install script fetches it: not with --ignore-scripts).
  const pinned = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node as string;
  if (process.version !== `v${pinned}`) {
    throw new Error(`The build runs on Node ${process.version}, not the pinned ${pinned} it copies into the binary: run it with 'npm run build' after 'npm ci' (install scripts on: the npm package 'node' fetches its binary in one)`);
  }
  mkdirSync(OUT, { recursive: true });
  const bundle = join(OUT, "sfx.cjs");
  await build({
    entryPoints: [join(ROOT, "cli.ts")],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    outfile: bundle,
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    // import.meta.url has no meaning in a CommonJS bundle; code that needs its
    // own location uses process.execPath / __filename through this define.
    define: { "import.meta.url": "__sfx_import_meta_url" },
    banner: { js: "var __sfx_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  const blob = join(OUT, "sfx.blob");
  const seaConfig = join(OUT, "sea-config.json");
  writeFileSync(seaConfig, JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: true,
    // No debugger on SIGUSR1 (see cli.ts), from the first instruction on.
    execArgv: ["--disable-sigusr1"],
    // NODE_OPTIONS is not the single executable's to heed: `--require` would run foreign code in it
    // and `--inspect` open a debugger, for anyone who can set a variable in its environment (a
    // profile, a unit's Environment=). sfx takes none of Node's options.
    execArgvExtension: "none",
  }));
  quiet(process.execPath, ["--experimental-sea-config", seaConfig]);
  const tmp = `${TARGET}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  // The pinned Node binary carries its debug symbols (~18 MiB); drop them
  // before the blob goes in. Without binutils' strip the build goes on.
  let stripped = true;
  try {
    quiet("strip", ["--strip-all", tmp]);
  } catch {
    stripped = false;
  }
  const require = createRequire(import.meta.url);
  const postject = require.resolve("postject/dist/cli.js");
  quiet(process.execPath, [postject, tmp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SENTINEL]);
  renameSync(tmp, TARGET);
  return { size: statSync(TARGET).size, stripped };
}

/** Runs a build tool, showing its output only when it fails (postject warns about notes on every run). */
function quiet(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.error || r.status !== 0) {
    if (cmd !== "strip") process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`);
    throw r.error ?? new Error(`${cmd} exited with status ${r.status}`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
  const started = Date.now();
  const { size, stripped } = await buildBinary();
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`built build/sfx ${version}: ${(size / 2 ** 20).toFixed(1)} MiB${stripped ? "" : " (not stripped: no strip(1))"} in ${secs} s`);
}
