/**
 * `node bench/crowd.ts [--exchanges 20] [--size 32M] [--repeat 1] [--sfx build/sfx[,other/sfx]] [--dir /dev/shm]`
 *
 * Many relayed exchanges at once through one `sfx serve` on loopback: the
 * case where the server, short of CPU, cannot read its UDP socket as fast as
 * the senders fill it. Each of --exchanges receivers (`sfx receive --once`)
 * gets the same --size file from its own sender, all started together. Every
 * 200 ms the benchmark sums what each receiver's directory holds (the
 * temporary file grows as bytes arrive) and reads the drop counters of the
 * server's and the clients' sockets from /proc/net/udp (the clients' count
 * includes anything else on the machine that drops meanwhile).
 *
 * Per run it prints the wall time, the aggregate goodput, the sockets'
 * drops, the longest time any exchange went without a byte once its first
 * had come (a "stall" is 3 s or more) and how many exchanges stalled. With
 * two binaries after --sfx (comma-separated) the runs alternate between
 * them, so a change is compared within the same minutes.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseSize, waitFor } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const STALL_MS = 3_000;
const args = process.argv.slice(2);

function flag(name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}


interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function start(cmd: string, argv: string[]): Proc {
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err += c));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}


/**
 * The kernel's drop counters of the IPv4 UDP sockets (/proc/net/udp): the one bound to
 * `port`, and every other socket's highest count seen, by inode, in `others` (the
 * clients' sockets; their lines go when they close).
 */
function socketDrops(port: number, others?: Map<string, number>): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let server = NaN;
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    if (f[1].endsWith(`:${hexPort}`)) server = Number(f[12]);
    else if (others) others.set(f[9], Math.max(others.get(f[9]) ?? 0, Number(f[12])));
  }
  return server;
}

function bytesIn(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    try {
      n += statSync(join(dir, name)).size;
    } catch { /* renamed between the listing and the stat */ }
  }
  return n;
}

interface Run {
  seconds: number;
  drops: number;
  clientDrops: number;
  maxGapMs: number;
  stalled: number;
}

async function once(sfx: string, work: string, src: string, want: string, exchanges: number, size: number): Promise<Run> {
  // Every client comes from 127.0.0.1: room for them all (the default is 64 from one address).
  const server = start(sfx, ["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", join(work, "logs"), "--storage", join(work, "shares"), "--name", "crowd", "--max-clients-per-address", "1000"]);
  const procs: Proc[] = [server];
  try {
    const port = Number((await waitFor(server.err, / ready on [\d.]+:(\d+)/, 20_000, "sfx serve"))[1]);
    const dirs = Array.from({ length: exchanges }, (_, i) => join(work, `in${i}`));
    for (const d of dirs) rmSync(d, { recursive: true, force: true }), mkdirSync(d);
    const receivers = dirs.map((d) => start(sfx, ["receive", "--server", `127.0.0.1:${port}`, "--dir", d, "--yes", "--once", "--json"]));
    procs.push(...receivers);
    const ids = await Promise.all(receivers.map(async (r) => (await waitFor(r.out, /"event":"connected","id":"(\d+)"/, 30_000, "sfx receive"))[1]));
    const others = new Map<string, number>();
    const drops0 = socketDrops(port, others);
    const others0 = new Map(others);
    const t0 = Date.now();
    const senders = ids.map((id) => start(sfx, ["send", "--to", id, "--server", `127.0.0.1:${port}`, src]));
    procs.push(...senders);
    const last = dirs.map(() => ({ bytes: 0, at: t0, maxGap: 0, done: false }));
    const doneAll = Promise.all(receivers.map((r, i) => r.exit.then((code) => {
      last[i].done = true;
      if (code !== 0) throw new Error(`receiver ${i} exited ${code}: ${r.err().slice(-1000)}`);
    })));
    let drops = 0;
    const sample = setInterval(() => {
      const now = Date.now();
      drops = socketDrops(port, others) - drops0;
      dirs.forEach((d, i) => {
        const s = last[i];
        if (s.done) return;
        const b = bytesIn(d);
        if (b !== s.bytes) (s.bytes = b), (s.at = now);
        if (s.bytes > 0) s.maxGap = Math.max(s.maxGap, now - s.at); // from the first byte: start-up is not a stall
      });
    }, 200);
    try {
      await Promise.race([doneAll, new Promise((_, reject) => setTimeout(() => reject(new Error("a run took over 10 minutes")), 600_000).unref())]);
    } finally {
      clearInterval(sample);
    }
    const seconds = (Date.now() - t0) / 1000;
    drops = socketDrops(port) - drops0;
    for (const [i, d] of dirs.entries()) {
      const got = createHash("sha256").update(readFileSync(join(d, "crowd.bin"))).digest("hex");
      if (got !== want) throw new Error(`exchange ${i}: the file's hash differs`);
    }
    const gaps = last.map((s) => s.maxGap);
    let clientDrops = 0;
    for (const [inode, n] of others) clientDrops += n - (others0.get(inode) ?? 0);
    return { seconds, drops, clientDrops, maxGapMs: Math.max(...gaps), stalled: gaps.filter((g) => g >= STALL_MS).length };
  } finally {
    for (const p of procs) p.child.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.exit));
  }
}

async function main(): Promise<void> {
  const exchanges = Number(flag("--exchanges", "20"));
  const size = parseSize(flag("--size", "32M"));
  const repeat = Number(flag("--repeat", "1"));
  const builds = flag("--sfx", join(ROOT, "build/sfx")).split(",");
  const work = mkdtempSync(join(flag("--dir", "/dev/shm"), "sfx-crowd-"));
  try {
    const src = join(work, "crowd.bin");
    const bytes = randomBytes(size);
    writeFileSync(src, bytes);
    const want = createHash("sha256").update(bytes).digest("hex");
    console.log(`${exchanges} relayed exchanges of ${(size / 2 ** 20).toFixed(0)} MiB at once, one server, loopback`);
    for (let r = 0; r < repeat; r++) {
      for (const sfx of builds) {
        const run = await once(sfx, work, src, want, exchanges, size);
        console.log(
          `${sfx}: ${run.seconds.toFixed(1)} s, ${((exchanges * size) / run.seconds / 1e6).toFixed(1)} MB/s in all; ` +
            `server socket drops ${run.drops}, clients' ${run.clientDrops}; longest gap ${(run.maxGapMs / 1000).toFixed(1)} s; ${run.stalled} of ${exchanges} stalled ≥ ${STALL_MS / 1000} s`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
