/**
 * `node bench/relay.ts [--size 1G] [--no-sfx] [--no-tcp] [--no-wormhole] [--dir /dev/shm]`
 *
 * Issue 4's relay benchmark, on loopback: one file of --size bytes relayed
 * sender → server → receiver, SHA-256 verified, three ways in the same run:
 *
 * 1. sfx: `build/sfx serve`, `build/sfx receive --yes --once`, `build/sfx send --to <id>`,
 *    three processes; server peak RSS growth (VmHWM − RSS when ready) and CPU time;
 * 2. a plain TCP relay of the same bytes (a few lines of node:net: two listening ports piped);
 * 3. magic-wormhole 0.12 through a local mailbox server and transit relay on 127.0.0.1
 *    (`--no-listen` on both clients, so the bytes go through the relay), if installed.
 *
 * Throughput is the file size over the wall time from starting the sender to the
 * receiver having the whole, verified file (process start-up included for all).
 * Files are written under --dir (default /dev/shm, so the disk does not decide).
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { once } from "node:events";

const ROOT = new URL("..", import.meta.url).pathname;
const SFX = join(ROOT, "build/sfx");
const args = process.argv.slice(2);
const role = flag("--role");

if (role === "tcp-relay") await tcpRelay();
else if (role === "tcp-send") await tcpSend(flag("--port")!, flag("--file")!);
else if (role === "tcp-recv") await tcpRecv(flag("--port")!, flag("--file")!);
else await main();

function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Math.round(Number(m[1]) * { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as ""]!);
}

interface Result {
  name: string;
  seconds: number;
  mbps: number;
  ok: boolean;
  note?: string;
}

async function main(): Promise<void> {
  const size = parseSize(flag("--size") ?? "1G");
  const base = flag("--dir") ?? (existsSync("/dev/shm") ? "/dev/shm" : "/tmp");
  const work = mkdtempSync(join(base, "sfx-bench-relay-"));
  const results: Result[] = [];
  try {
    if (!existsSync(SFX)) throw new Error("build/sfx is missing: run `node build/build.ts` first");
    const src = join(work, "source.bin");
    const want = makeFile(src, size);
    console.log(`relay benchmark: ${(size / 2 ** 20).toFixed(0)} MiB on loopback, files under ${work}`);

    if (!args.includes("--no-sfx")) results.push(await benchSfx(work, src, size, want));
    if (!args.includes("--no-tcp")) results.push(await benchTcp(work, src, size, want));
    if (!args.includes("--no-wormhole")) {
      const r = await benchWormhole(work, src, size, want);
      if (r) results.push(r);
    }
    console.log("");
    console.log("| relay | MB/s | seconds | verified |");
    console.log("|---|---|---|---|");
    for (const r of results) console.log(`| ${r.name} | ${r.mbps.toFixed(1)} | ${r.seconds.toFixed(2)} | ${r.ok ? "yes" : "NO"} |`);
    const sfx = results[0];
    if (!args.includes("--no-sfx")) for (const r of results.slice(1)) console.log(`ratio sfx / ${r.name}: ${(sfx.mbps / r.mbps).toFixed(2)}×`);
    for (const r of results) if (r.note) console.log(`${r.name}: ${r.note}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes `size` pseudo-random bytes (a 16 MiB random block varied per copy) and returns their SHA-256. */
function makeFile(path: string, size: number): string {
  const block = new Uint8Array(16 * 2 ** 20);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let o = 65536; o < block.length; o += 65536) block.set(block.subarray(0, 65536), o);
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  let written = 0;
  for (let i = 0; written < size; i++) {
    const n = Math.min(block.length, size - written);
    const chunk = block.subarray(0, n);
    new DataView(chunk.buffer, chunk.byteOffset).setUint32(0, i); // vary each copy
    hash.update(chunk);
    writeSync(fd, chunk);
    written += n;
  }
  closeSync(fd);
  return hash.digest("hex");
}

function fileHash(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path, { highWaterMark: 4 * 2 ** 20 }).on("data", (c) => h.update(c)).on("end", () => resolve(h.digest("hex"))).on("error", reject);
  });
}

function start(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err += c));
  return { child, out: () => out, err: () => err };
}

async function waitFor(get: () => string, re: RegExp, ms: number, what: string): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = get().match(re);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}: ${get().slice(-2000)}`);
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`process did not exit in ${ms} ms`));
    }, ms);
    child.on("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

function procStatus(pid: number): { rss: number; hwm: number; cpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), cpu: ticks / 100 };
}

async function benchSfx(work: string, src: string, size: number, want: string): Promise<Result> {
  const logs = join(work, "logs");
  const out = join(work, "sfx-out");
  spawnSync("mkdir", ["-p", logs, out]);
  const server = start(SFX, ["serve", "--host", "127.0.0.1", "--port", "0", "--log-dir", logs, "--name", "bench"]);
  try {
    const port = Number((await waitFor(server.err, / ready on 127\.0\.0\.1:(\d+)/, 20_000, "sfx serve"))[1]);
    const addr = `127.0.0.1:${port}`;
    const receiver = start(SFX, ["receive", "--server", addr, "--dir", out, "--yes", "--once", "--json"]);
    const id = (await waitFor(receiver.out, /"event":"connected","id":"(\d+)"/, 15_000, "sfx receive"))[1];
    const before = procStatus(server.child.pid!);
    const t0 = performance.now();
    const sender = start(SFX, ["send", "--to", id, "--server", addr, src]);
    let peak = before.hwm;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, procStatus(server.child.pid!).hwm);
      } catch { /* gone */ }
    }, 100);
    const [rc, sc] = await Promise.all([exited(receiver.child, 600_000), exited(sender.child, 600_000)]);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const after = procStatus(server.child.pid!);
    peak = Math.max(peak, after.hwm);
    if (rc !== 0 || sc !== 0) throw new Error(`sfx failed: receiver ${rc} ${receiver.err()} sender ${sc} ${sender.err()}`);
    const ok = (await fileHash(join(out, "source.bin"))) === want;
    const cpu = after.cpu - before.cpu;
    const growth = (peak - before.rss) / 2 ** 20;
    console.log(`sfx: ${(size / seconds / 1e6).toFixed(1)} MB/s; server RSS ${(before.rss / 2 ** 20).toFixed(0)} MiB when ready, peak ${(peak / 2 ** 20).toFixed(0)} MiB (growth ${growth.toFixed(1)} MiB); server CPU ${cpu.toFixed(2)} s (${((cpu / seconds) * 100).toFixed(0)}% of one core)`);
    return { name: "sfx (SCTP over UDP)", seconds, mbps: size / seconds / 1e6, ok, note: `server peak RSS growth ${growth.toFixed(1)} MiB, server CPU ${((cpu / seconds) * 100).toFixed(0)}% of a core` };
  } finally {
    server.child.kill("SIGTERM");
    await exited(server.child, 10_000).catch(() => {});
  }
}

async function benchTcp(work: string, src: string, size: number, want: string): Promise<Result> {
  const out = join(work, "tcp-out.bin");
  const relay = start(process.execPath, [new URL(import.meta.url).pathname, "--role", "tcp-relay"]);
  try {
    const m = await waitFor(relay.out, /ports (\d+) (\d+)/, 10_000, "tcp relay");
    const recv = start(process.execPath, [new URL(import.meta.url).pathname, "--role", "tcp-recv", "--port", m[2], "--file", out]);
    await waitFor(relay.out, /receiver connected/, 10_000, "tcp receiver");
    const t0 = performance.now();
    const send = start(process.execPath, [new URL(import.meta.url).pathname, "--role", "tcp-send", "--port", m[1], "--file", src]);
    await Promise.all([exited(recv.child, 600_000), exited(send.child, 600_000)]);
    const seconds = (performance.now() - t0) / 1000;
    const got = recv.out().trim();
    const ok = got === want;
    console.log(`tcp relay (node:net): ${(size / seconds / 1e6).toFixed(1)} MB/s`);
    return { name: "TCP relay (node:net)", seconds, mbps: size / seconds / 1e6, ok };
  } finally {
    relay.child.kill("SIGTERM");
  }
}

/** Two listening ports on 127.0.0.1; the first connection on A is piped to the first on B. */
async function tcpRelay(): Promise<void> {
  let receiver: Socket | undefined;
  let pendingSender: Socket | undefined;
  const pipe = () => {
    if (receiver && pendingSender) pendingSender.pipe(receiver);
  };
  const a: Server = createServer((s) => {
    pendingSender = s;
    pipe();
  });
  const b: Server = createServer((s) => {
    receiver = s;
    console.log("receiver connected");
    pipe();
  });
  a.listen(0, "127.0.0.1");
  b.listen(0, "127.0.0.1");
  await Promise.all([once(a, "listening"), once(b, "listening")]);
  console.log(`ports ${(a.address() as { port: number }).port} ${(b.address() as { port: number }).port}`);
}

async function tcpSend(port: string, file: string): Promise<void> {
  const s = tcpConnect(Number(port), "127.0.0.1");
  await once(s, "connect");
  createReadStream(file, { highWaterMark: 1 << 20 }).pipe(s);
  await once(s, "close");
}

async function tcpRecv(port: string, file: string): Promise<void> {
  const s = tcpConnect(Number(port), "127.0.0.1");
  const h = createHash("sha256");
  const w = createWriteStream(file);
  s.on("data", (c) => h.update(c));
  s.pipe(w);
  await once(w, "finish");
  console.log(h.digest("hex"));
}

async function benchWormhole(work: string, src: string, size: number, want: string): Promise<Result | undefined> {
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
  if (!has("wormhole") || !has("twistd3")) {
    console.log("magic-wormhole: not installed (apt-get install magic-wormhole magic-wormhole-transit-relay python3-magic-wormhole-mailbox-server); skipped");
    return undefined;
  }
  const mailboxPort = 20000 + Math.floor(Math.random() * 20000);
  const transitPort = mailboxPort + 1;
  const env = { ...process.env, HOME: work };
  const mailbox = start("twistd3", ["-n", "--pidfile=", `--logfile=${join(work, "mailbox.log")}`, "wormhole-mailbox", `--port=tcp:${mailboxPort}:interface=127.0.0.1`, `--channel-db=${join(work, "mb.sqlite")}`, `--usage-db=${join(work, "usage.sqlite")}`], env);
  const transit = start("twistd3", ["-n", "--pidfile=", `--logfile=${join(work, "transit.log")}`, "transitrelay", `--port=tcp:${transitPort}:interface=127.0.0.1`], env);
  try {
    await waitForPort(mailboxPort, 20_000);
    await waitForPort(transitPort, 20_000);
    const common = ["--relay-url", `ws://127.0.0.1:${mailboxPort}/v1`, "--transit-helper", `tcp:127.0.0.1:${transitPort}`];
    const code = `7-sfx-bench-${Math.floor(Math.random() * 1e6)}`;
    const outDir = join(work, "wh-out");
    spawnSync("mkdir", ["-p", outDir]);
    const t0 = performance.now();
    const sender = start("wormhole", [...common, "send", "--no-listen", "--code", code, src], env);
    const receiver = spawn("wormhole", [...common, "receive", "--no-listen", "--accept-file", "-o", join(outDir, "source.bin"), code], { stdio: ["ignore", "pipe", "pipe"], env });
    let rerr = "";
    receiver.stderr!.on("data", (c) => (rerr += c));
    receiver.stdout!.on("data", (c) => (rerr += c));
    const [rc] = await Promise.all([exited(receiver, 600_000), exited(sender.child, 600_000)]);
    const seconds = (performance.now() - t0) / 1000;
    if (rc !== 0) throw new Error(`wormhole receive failed (${rc}): ${rerr.slice(-1000)} / ${sender.err().slice(-1000)}`);
    const ok = (await fileHash(join(outDir, "source.bin"))) === want;
    const relayed = /relay/i.test(rerr + sender.err());
    console.log(`magic-wormhole (local mailbox + transit relay, --no-listen): ${(size / seconds / 1e6).toFixed(1)} MB/s${relayed ? " (through the relay)" : ""}`);
    return { name: "magic-wormhole 0.12 via transit relay", seconds, mbps: size / seconds / 1e6, ok };
  } finally {
    mailbox.child.kill("SIGTERM");
    transit.child.kill("SIGTERM");
    await Promise.all([exited(mailbox.child, 10_000).catch(() => {}), exited(transit.child, 10_000).catch(() => {})]);
  }
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1");
      s.on("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}
