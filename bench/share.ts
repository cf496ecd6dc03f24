/**
 * Share benchmark: upload then download of one file (default 1 GiB) through
 * `build/sfx serve` on loopback, SHA-256 verified, with the server's peak
 * RSS; in the same run, a plain TCP copy of the same bytes between two
 * processes (the ceiling), and — when `sfx send`/`receive` work — the
 * exchange relay (sender → server → receiver) for the issue's bar. Prints
 * MB/s (10^6 bytes/s) and every ratio.
 *
 * Usage: node bench/share.ts [--mib 1024] [--keep]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const ROOT = new URL("..", import.meta.url).pathname;
const SFX = join(ROOT, "build/sfx");
const args = process.argv.slice(2);
const MIB = Number(args[args.indexOf("--mib") + 1] ?? 1024) || 1024;
const SIZE = MIB * 2 ** 20;
const work = mkdtempSync(join(tmpdir(), "sfx-bench-share-"));
const env = { PATH: "/nonexistent", HOME: join(work, "home"), XDG_STATE_HOME: join(work, "home", "state") };
const children = new Set<ChildProcess>();

function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest("hex");
}

function makeFile(path: string): void {
  // 16 MiB of random bytes repeated: incompressible enough, quick to make.
  const block = randomBytes(16 * 2 ** 20);
  const fd = openSync(path, "w");
  for (let left = SIZE; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(block.length, left));
  closeSync(fd);
}

function run(argv: string[], timeoutMs = 600_000): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(SFX, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ status, stdout, stderr, ms: performance.now() - started });
    });
  });
}

function start(argv: string[], ready: RegExp, stream: "stdout" | "stderr" = "stderr"): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(SFX, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${argv.join(" ")} not ready: ${text}`)), 20_000);
    child[stream]!.on("data", (c) => {
      text += c;
      const m = text.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child[stream === "stdout" ? "stderr" : "stdout"]!.resume(); // never let an unread pipe stall the child
    child.on("exit", () => reject(new Error(`${argv.join(" ")} exited: ${text}`)));
  });
}

function statusMiB(pid: number, field: "VmHWM" | "VmRSS" | "RssAnon"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
}

function peakRssMiB(pid: number): number {
  return statusMiB(pid, "VmHWM");
}

function rssMiB(pid: number): number {
  return statusMiB(pid, "VmRSS");
}

/**
 * Watches a process's memory during one phase: the kernel's exact peak RSS
 * (VmHWM, reset at the start when /proc/PID/clear_refs allows it) and the
 * peak of its anonymous part (heap and buffers, without the executable's
 * pages), sampled every 20 ms.
 */
function watchMemory(pid: number): { stop(): { peak: number; anonPeak: number; reset: boolean } } {
  let reset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5"); // 5: reset the peak RSS to the current RSS
  } catch {
    reset = false;
  }
  let anonPeak = statusMiB(pid, "RssAnon");
  const timer = setInterval(() => {
    try {
      anonPeak = Math.max(anonPeak, statusMiB(pid, "RssAnon"));
    } catch {
      // the process exited
    }
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      anonPeak = Math.max(anonPeak, statusMiB(pid, "RssAnon"));
      return { peak: peakRssMiB(pid), anonPeak, reset };
    },
  };
}

/** A plain TCP copy of `file` to another process that writes it to disk. */
async function tcpCopy(file: string, out: string): Promise<number> {
  const script = `
    const net = require("node:net"); const fs = require("node:fs");
    const srv = net.createServer((s) => { const w = fs.createWriteStream(process.argv[1]); s.pipe(w); w.on("finish", () => { process.stdout.write("done\\n"); srv.close(); }); });
    srv.listen(0, "127.0.0.1", () => process.stdout.write("port " + srv.address().port + "\\n"));`;
  const child = spawn(process.execPath, ["-e", script, out], { stdio: ["ignore", "pipe", "inherit"] });
  children.add(child);
  let text = "";
  const port = await new Promise<number>((resolve) => {
    child.stdout.on("data", (c) => {
      text += c;
      const m = /port (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
  });
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const started = performance.now();
  const sock = tcpConnect(port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), sock);
  await done;
  children.delete(child);
  return performance.now() - started;
}

async function main(): Promise<void> {
  if (!existsSync(SFX)) throw new Error(`${SFX} is missing: run 'node build/build.ts'`);
  mkdirSync(env.HOME, { recursive: true });
  const file = join(work, "payload.bin");
  makeFile(file);
  const want = await sha256File(file);
  console.log(`share benchmark: ${MIB} MiB, loopback, ${new Date().toISOString()}`);

  const tcpMs = await tcpCopy(file, join(work, "tcp-copy.bin"));
  const tcp = mbps(SIZE, tcpMs);
  console.log(`plain TCP copy (two processes):  ${tcp.toFixed(0)} MB/s`);
  rmSync(join(work, "tcp-copy.bin"), { force: true });

  const storage = join(work, "storage");
  const { child: server, match } = await start(
    ["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", join(work, "logs"), "--storage", storage, "--max-share-bytes", "64G", "--store-quota", "128G"],
    /ready on [^\s]*:(\d+)/,
  );
  const port = match[1];
  const baseRss = rssMiB(server.pid!);
  const baseAnon = statusMiB(server.pid!, "RssAnon");
  const putWatch = watchMemory(server.pid!);
  const put = await run(["share", "put", file, "--json", "--server", `127.0.0.1:${port}`]);
  if (put.status !== 0) throw new Error(`share put failed: ${put.stderr}`);
  const { code } = JSON.parse(put.stdout);
  const up = mbps(SIZE, put.ms);
  const putMem = putWatch.stop();
  console.log(`sfx share put:                   ${up.toFixed(0)} MB/s (${(put.ms / 1000).toFixed(1)} s, process start included)`);
  const out = join(work, "out");
  mkdirSync(out);
  const getWatch = watchMemory(server.pid!);
  const get = await run(["share", "get", code, "--dir", out, "--server", `127.0.0.1:${port}`]);
  if (get.status !== 0) throw new Error(`share get failed: ${get.stderr}`);
  const down = mbps(SIZE, get.ms);
  const ok = (await sha256File(join(out, "payload.bin"))) === want;
  console.log(`sfx share get:                   ${down.toFixed(0)} MB/s (${(get.ms / 1000).toFixed(1)} s), SHA-256 ${ok ? "verified" : "MISMATCH"}`);
  const getMem = getWatch.stop();
  const growth = (m: { peak: number; anonPeak: number }) => `+${(m.peak - baseRss).toFixed(0)} MiB (anonymous +${(m.anonPeak - baseAnon).toFixed(0)})`;
  console.log(`server RSS: ${baseRss.toFixed(0)} MiB at start (${baseAnon.toFixed(0)} anonymous); peak during put ${growth(putMem)}, during get ${growth(getMem)}${getMem.reset ? "" : " (peak not reset: get includes put)"}  (bar: ≤ +64 MiB)`);
  rmSync(out, { recursive: true, force: true });

  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));

  // The exchange relay on a fresh server, so its peak RSS is its own.
  let relay: number | undefined;
  const { child: relayServer, match: relayMatch } = await start(
    ["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", join(work, "logs"), "--storage", join(work, "storage2")],
    /ready on [^\s]*:(\d+)/,
  );
  const relayPort = relayMatch[1];
  const relayBase = rssMiB(relayServer.pid!);
  try {
    const recvDir = join(work, "recv");
    mkdirSync(recvDir);
    const { child: receiver, match: idMatch } = await start(
      ["receive", "--yes", "--once", "--json", "--dir", recvDir, "--server", `127.0.0.1:${relayPort}`],
      /"id":"(\d+)"/,
      "stdout",
    );
    const send = await run(["send", "--to", idMatch[1], file, "--server", `127.0.0.1:${relayPort}`]);
    if (receiver.exitCode === null) await new Promise((r) => receiver.once("exit", r));
    if (send.status === 0) relay = mbps(SIZE, send.ms);
    console.log(`sfx send → relay → receive:      ${relay === undefined ? `failed (${send.stderr.trim()})` : `${relay.toFixed(0)} MB/s`}`);
    const relayPeak = peakRssMiB(relayServer.pid!);
    console.log(`relay server RSS: ${relayBase.toFixed(0)} MiB at start, peak ${relayPeak.toFixed(0)} MiB (+${(relayPeak - relayBase).toFixed(0)} MiB)`);
  } catch (err) {
    console.log(`sfx send → relay → receive:      n/a (${(err as Error).message.split("\n")[0]})`);
  }
  relayServer.kill("SIGTERM");
  await new Promise((r) => relayServer.once("exit", r));

  console.log("ratios:");
  console.log(`  share put / TCP copy:  ${(up / tcp).toFixed(3)}`);
  console.log(`  share get / TCP copy:  ${(down / tcp).toFixed(3)}`);
  if (relay !== undefined) {
    console.log(`  share put / relay:     ${(up / relay).toFixed(3)}  (bar: ≥ 1.0)`);
    console.log(`  share get / relay:     ${(down / relay).toFixed(3)}  (bar: ≥ 1.0)`);
  }
  if (!ok) process.exitCode = 1;
}

try {
  await main();
} finally {
  for (const c of children) c.kill("SIGKILL");
  if (!args.includes("--keep")) rmSync(work, { recursive: true, force: true });
}


