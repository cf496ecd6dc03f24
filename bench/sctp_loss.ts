/**
 * SCTP under delay and loss vs Linux TCP, in the same run: two network
 * namespaces of its own (`sfxtp1` sender 10.197.7.1, `sfxtp2` receiver
 * 10.197.7.2, veth `sfxtpv1`/`sfxtpv2`, NFQUEUE 17 — distinct from
 * bench/netns.ts so both can run), a one-way delay on the receiver's ingress
 * by bench/nfq_delay.c, random loss in both directions by iptables'
 * `statistic` match, and a tbf rate on the sender. Everything lives inside
 * the namespaces, which are deleted on exit, on SIGINT/SIGTERM and before a
 * run (leftovers). Root, iproute2, iptables, cc and libnetfilter-queue-dev.
 *
 *   node bench/sctp_loss.ts [--bytes N] [--scenarios rtt,loss1,loss5,loss05] [--variants tcp,tcp-cubic,tcp-cubic-nogso,reno,cubic,bbr] [--rate MBIT]
 *
 * Variants: `tcp` (Linux TCP with the machine's default congestion control
 * — BBR on the benchmark machine, which does not treat random loss as
 * congestion), `tcp-cubic` (CUBIC set in both namespaces), `…-nogso` (the
 * veth's gso_max_segs set to 1, so TCP loses single 1448-byte segments as
 * sfx loses single datagrams, not GSO super-packets), and sfx
 * SCTP with `congestionControl` "reno", "cubic" or "bbr" (PLPMTUD up to the veth's
 * 1472-byte UDP payload). Each SCTP transfer is SHA-256 checked.
 *
 * `reno-frag` / `cubic-frag` send 64 KB datagrams and let IP fragment them
 * (node:dgram cannot set DF, so PLPMTUD would "confirm" such sizes; udp.ts
 * caps the ceiling at the interface MTU − 28 for that reason). Here the
 * iptables loss acts after reassembly, on whole datagrams, as it acts on
 * TCP's GSO super-packets; on a real lossy path every fragment can be lost
 * and one lost fragment loses the datagram (45× the loss rate at 64 KB), so
 * these variants only show what the emulation rewards, never a setting to use.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Association, SctpEndpoint } from "../src/transport/sctp/index.ts";
import { openUdpSocket } from "../src/transport/udp.ts";

const NS1 = "sfxtp1";
const NS2 = "sfxtp2";
const IF1 = "sfxtpv1";
const IF2 = "sfxtpv2";
const A1 = "10.197.7.1";
const A2 = "10.197.7.2";
const QUEUE = 17;
const SELF = fileURLToPath(import.meta.url);

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Deterministic payload: byte i of the stream is (i * 131 + (i >>> 16)) & 255. */
function fill(pos: number, out: Uint8Array): void {
  for (let i = 0; i < out.length; i++) {
    const p = pos + i;
    out[i] = (p * 131 + (p >>> 16)) & 255;
  }
}

function expectedSha(bytes: number): string {
  const h = createHash("sha256");
  const m = new Uint8Array(1 << 20);
  for (let pos = 0; pos < bytes; pos += m.length) {
    const part = m.subarray(0, Math.min(m.length, bytes - pos));
    fill(pos, part);
    h.update(part);
  }
  return h.digest("hex");
}

// ------------------------------------------------------------------ peers

async function peer(): Promise<void> {
  const [, role, impl] = argv;
  const host = opt("host", "0.0.0.0");
  const extra = JSON.parse(opt("opts", "{}"));
  const bytes = Number(opt("bytes", "0"));
  const message = 64 * 1024;
  if (role === "recv" && impl === "sctp") {
    const socket = await openUdpSocket({ host });
    const ep = SctpEndpoint.listen({ socket, ...extra });
    ep.on("association", (a: Association) => {
      const h = createHash("sha256");
      let got = 0;
      let said = false;
      const report = () => {
        if (said) return;
        said = true;
        say({ bytes: got, sha256: h.digest("hex") });
      };
      a.on("message", (_s: number, d: Uint8Array) => {
        h.update(d);
        got += d.length;
        // Every byte is here: report now. Waiting for the close could take the failure timeout
        // when the last SHUTDOWN COMPLETE is lost and the sender's process has already exited.
        if (got === bytes) report();
      });
      a.on("close", async () => {
        report();
        await ep.close();
        await socket.close();
      });
    });
    say({ ready: true, port: socket.localAddress().port });
    return;
  }
  if (role === "recv" && impl === "tcp") {
    const server = createServer((conn: TcpSocket) => {
      const h = createHash("sha256");
      let got = 0;
      conn.on("data", (d: Buffer) => {
        h.update(d);
        got += d.length;
      });
      conn.on("end", () => {
        say({ bytes: got, sha256: h.digest("hex") });
        conn.end();
        server.close();
      });
    });
    server.listen(0, host, () => {
      const addr = server.address();
      say({ ready: true, port: typeof addr === "object" && addr ? addr.port : 0 });
    });
    return;
  }
  const to = opt("to", "");
  const i = to.lastIndexOf(":");
  const address = to.slice(0, i);
  const port = Number(to.slice(i + 1));
  if (role === "send" && impl === "sctp") {
    const socket = await openUdpSocket({ host: "0.0.0.0", connect: { address, port } });
    const ep = SctpEndpoint.listen({ socket, accept: false, ...extra });
    const a = await ep.connect({ address, port }, { streams: 1 });
    const started = performance.now();
    const trace = process.env.SCTP_TRACE
      ? setInterval(() => {
          const st = a.stats();
          process.stderr.write(`${(performance.now() - started).toFixed(0)} cwnd ${st.cwnd} ssthresh ${st.ssthresh} rwnd ${st.peerRwnd} buffered ${st.bufferedAmount} rtx ${st.retransmissions} t3 ${st.t3Expiries} srtt ${st.srttMs.toFixed(1)} rto ${st.rtoMs.toFixed(0)}\n`);
        }, Number(process.env.SCTP_TRACE))
      : undefined;
    for (let pos = 0; pos < bytes; pos += message) {
      const m = new Uint8Array(Math.min(message, bytes - pos));
      fill(pos, m);
      if (!a.send(0, m)) await new Promise<void>((r) => a.once("drain", r));
    }
    await a.close();
    clearInterval(trace);
    say({ ms: performance.now() - started, stats: a.stats() });
    await ep.close();
    await socket.close();
    return;
  }
  if (role === "send" && impl === "tcp" && extra.cc) {
    // Node cannot set TCP_CONGESTION: a small Python sender of the same bytes does.
    const py = [
      "import socket,sys,time",
      "addr,port,total,cc,msg=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),sys.argv[4].encode(),65536",
      "s=socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc); s.connect((addr,port))",
      // Message k (64 KiB, aligned) of the stream: byte i is (i·131 + k) & 255, since 65536·131 ≡ 0 mod 256.
      "base=bytes((i*131)&255 for i in range(msg)); t=time.monotonic(); pos=0",
      "while pos<total:",
      "  k=pos>>16; n=min(msg,total-pos)",
      "  s.sendall(base[:n].translate(bytes((j+k)&255 for j in range(256)))); pos+=n",
      "s.shutdown(socket.SHUT_WR); s.recv(1); s.close()",
      "print('{\"ms\": %f}' % ((time.monotonic()-t)*1000), flush=True)",
    ].join("\n");
    const child = spawn("python3", ["-c", py, address, String(port), String(bytes), String(extra.cc)], { stdio: ["ignore", "inherit", "inherit"] });
    await new Promise((r) => child.once("close", r));
    return;
  }
  if (role === "send" && impl === "tcp") {
    const conn = tcpConnect(port, address);
    await new Promise<void>((resolve, reject) => {
      conn.once("connect", resolve);
      conn.once("error", reject);
    });
    const started = performance.now();
    for (let pos = 0; pos < bytes; pos += message) {
      const m = new Uint8Array(Math.min(message, bytes - pos));
      fill(pos, m);
      if (!conn.write(m)) await new Promise((r) => conn.once("drain", r));
    }
    conn.end();
    await new Promise((r) => conn.once("close", r));
    say({ ms: performance.now() - started });
    return;
  }
  throw new Error(`bad peer arguments: ${argv.join(" ")}`);
}

// ------------------------------------------------------------------ lab

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.error}`);
  return r.stdout;
}
const inNs = (ns: string, cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];

class Lab {
  tmp = mkdtempSync(join(tmpdir(), "sfx-sctp-loss-"));
  nfq = join(this.tmp, "nfq_delay");
  delayer: ChildProcess | undefined;
  done = false;

  setup(): void {
    sh("cc", ["-O2", "-o", this.nfq, fileURLToPath(new URL("./nfq_delay.c", import.meta.url)), "-lnetfilter_queue"]);
    this.removeNs();
    sh("ip", ["netns", "add", NS1]);
    sh("ip", ["netns", "add", NS2]);
    sh("ip", ["link", "add", IF1, "netns", NS1, "type", "veth", "peer", "name", IF2, "netns", NS2]);
    sh("ip", ["-n", NS1, "addr", "add", `${A1}/24`, "dev", IF1]);
    sh("ip", ["-n", NS2, "addr", "add", `${A2}/24`, "dev", IF2]);
    for (const [ns, dev] of [[NS1, IF1], [NS2, IF2]]) {
      sh("ip", ["-n", ns, "link", "set", dev, "up"]);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
  }

  removeNs(): void {
    sh("ip", ["netns", "del", NS1], true);
    sh("ip", ["netns", "del", NS2], true);
  }

  async apply(delayMs: number, lossPct: number, rateMbit: number, gso: boolean): Promise<void> {
    await this.stopDelayer();
    for (const ns of [NS1, NS2]) {
      sh("ip", ["netns", "exec", ns, "iptables", "-F"], true);
      sh("ip", ["netns", "exec", ns, "iptables", "-t", "raw", "-F"], true);
    }
    // gso_max_segs 1: the stack must hand the veth single segments, as sfx hands it single datagrams.
    sh("ip", ["-n", NS1, "link", "set", "dev", IF1, "gso_max_segs", gso ? "65535" : "1"]);
    sh("ip", ["-n", NS2, "link", "set", "dev", IF2, "gso_max_segs", gso ? "65535" : "1"]);
    sh("tc", ["-n", NS1, "qdisc", "del", "dev", IF1, "root"], true);
    if (rateMbit > 0) sh("tc", ["-n", NS1, "qdisc", "add", "dev", IF1, "root", "tbf", "rate", `${rateMbit}mbit`, "burst", "256kb", "latency", "100ms"]);
    if (lossPct > 0) {
      const p = String(lossPct / 100);
      for (const [ns, dev] of [[NS1, IF1], [NS2, IF2]]) {
        sh("ip", ["netns", "exec", ns, "iptables", "-A", "INPUT", "-i", dev, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"]);
      }
    }
    if (delayMs > 0) {
      const d = spawn("ip", inNs(NS2, [this.nfq, String(QUEUE), String(delayMs)]).slice(1), { stdio: ["ignore", "pipe", "inherit"] });
      this.delayer = d;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("nfq_delay did not start")), 5000);
        d.stdout!.once("data", () => (clearTimeout(t), resolve()));
        d.once("exit", (c) => (clearTimeout(t), reject(new Error(`nfq_delay exited ${c}`))));
      });
      sh("ip", ["netns", "exec", NS2, "iptables", "-t", "raw", "-A", "PREROUTING", "-i", IF2, "-j", "NFQUEUE", "--queue-num", String(QUEUE)]);
    }
  }

  async stopDelayer(): Promise<void> {
    const d = this.delayer;
    this.delayer = undefined;
    if (!d || d.exitCode !== null) return;
    sh("ip", ["netns", "exec", NS2, "iptables", "-t", "raw", "-F"], true);
    const exited = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    const t = setTimeout(() => d.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  }

  destroySync(): void {
    if (this.done) return;
    this.done = true;
    if (this.delayer && this.delayer.exitCode === null) this.delayer.kill("SIGKILL");
    this.removeNs();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

class Lines {
  child: ChildProcess;
  lines: Array<Record<string, unknown>> = [];
  wake: (() => void) | undefined;
  err = "";
  constructor(cmd: string[]) {
    this.child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      try {
        this.lines.push(JSON.parse(l));
      } catch {
        this.err += l;
      }
      this.wake?.();
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.err += d.toString()));
  }
  async next(ms: number): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    while (this.lines.length === 0) {
      if (Date.now() > end) throw new Error(`timeout; ${this.err.slice(-300)}`);
      if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode}; ${this.err.slice(-300)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.wake = () => (clearTimeout(t), r());
      });
    }
    return this.lines.shift()!;
  }
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("close", r));
      this.child.kill("SIGKILL");
      await exited;
    }
  }
}

async function run(impl: "sctp" | "tcp", bytes: number, opts: object): Promise<{ mbps: number; ok: boolean; note: string }> {
  const o = JSON.stringify(opts);
  const tcpCounters = () => {
    const out = sh("ip", ["netns", "exec", NS1, "nstat", "-az", "TcpOutSegs", "TcpRetransSegs"], true);
    const v = (k: string) => Number(new RegExp(`${k}\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
    return { out: v("TcpOutSegs"), rtx: v("TcpRetransSegs") };
  };
  const before = impl === "tcp" ? tcpCounters() : undefined;
  const recv = new Lines(inNs(NS2, [process.execPath, SELF, "--peer", "recv", impl, "--host", A2, "--bytes", String(bytes), "--opts", o]));
  let send: Lines | undefined;
  try {
    const ready = await recv.next(15_000);
    send = new Lines(inNs(NS1, [process.execPath, SELF, "--peer", "send", impl, "--to", `${A2}:${ready.port}`, "--bytes", String(bytes), "--opts", o]));
    if (process.env.SCTP_TRACE) send.child.stderr!.pipe(process.stderr);
    const ssTrace = impl === "tcp" && process.env.SCTP_TRACE
      ? setInterval(() => {
          const r = spawnSync("ip", ["netns", "exec", NS1, "ss", "-tin", "dst", A2], { encoding: "utf8" });
          const m = /cwnd:(\d+).*?(ssthresh:\d+)?.*?(lost:\d+)?/.exec(r.stdout);
          process.stderr.write(`ss: ${r.stdout.split("\n").slice(2).join(" ").replace(/\s+/g, " ").slice(0, 400)}\n`);
          void m;
        }, Number(process.env.SCTP_TRACE))
      : undefined;
    const sent = await send.next(300_000);
    clearInterval(ssTrace);
    const got = await recv.next(15_000);
    const st = sent.stats as Record<string, number> | undefined;
    const after = before ? tcpCounters() : undefined;
    const tcpNote = before && after ? `segments ${after.out - before.out} rtx ${after.rtx - before.rtx}` : "";
    const note = !st ? tcpNote : `pmtu ${st.pmtu} rtx ${st.retransmissions} fast ${st.fastRetransmits} tlp ${st.tailLossProbes} t3 ${st.t3Expiries} srtt ${st.srttMs.toFixed(0)}`;
    return { mbps: bytes / 1e6 / ((sent.ms as number) / 1000), ok: got.bytes === bytes && got.sha256 === expectedSha(bytes), note };
  } finally {
    await send?.kill();
    await recv.kill();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
  const bytes = Number(opt("bytes", String(16 << 20)));
  const rate = Number(opt("rate", "250"));
  const all: Record<string, { name: string; delay: number; loss: number }> = {
    rtt: { name: "50 ms RTT", delay: 50, loss: 0 },
    loss1: { name: "50 ms RTT + 1% loss", delay: 50, loss: 1 },
    loss5: { name: "5% loss", delay: 0, loss: 5 },
    loss05: { name: "50 ms RTT + 0.5% loss", delay: 50, loss: 0.5 },
  };
  const scenarios = opt("scenarios", "rtt,loss1,loss5").split(",").map((k) => all[k]);
  const variants = opt("variants", "tcp,tcp-cubic,reno,cubic,bbr").split(",");
  const lab = new Lab();
  const cleanup = () => lab.destroySync();
  process.once("exit", cleanup);
  const onSignal = () => (cleanup(), process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    lab.setup();
    console.log(`# sfx SCTP vs Linux TCP, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${rate} Mbit/s tbf, ${new Date().toISOString()}`);
    for (const s of scenarios) {
      const results: Record<string, number> = {};
      for (const v of variants) {
        const gso = !v.endsWith("-nogso");
        await lab.apply(s.delay, s.loss, rate, gso);
        // "tcp": the machine's default congestion control (inherited by new namespaces); "tcp-cubic…": CUBIC
        // through the TCP_CONGESTION socket option (the namespaces' sysctl is read-only here).
        const tcpCc = v.startsWith("tcp-cubic") ? "cubic" : sh("sysctl", ["-n", "net.ipv4.tcp_congestion_control"]).trim();
        // "…-frag": 64 KB datagrams left to IP fragmentation — NOT a fair setting (see the module doc), only to show its effect.
        const sctpOpts = v.endsWith("-frag")
          ? { congestionControl: v.slice(0, -5), maxPacketSize: 65504, initialPacketSize: 65504, pmtud: false }
          : { congestionControl: v, ...JSON.parse(process.env.SFX_SCTP_OPTS ?? "{}") };
        const r = await (v.startsWith("tcp") ? run("tcp", bytes, { cc: tcpCc }) : run("sctp", bytes, sctpOpts)).catch((e: Error) => ({
          mbps: NaN,
          ok: false,
          note: e.message.slice(0, 160),
        }));
        results[v] = r.mbps;
        const vs = v.startsWith("tcp") ? `  (${tcpCc})` : ["tcp", "tcp-cubic", "tcp-nogso"].filter((t) => t in results).map((t) => `  ÷${t} ${(r.mbps / results[t]).toFixed(2)}`).join("");
        console.log(`${s.name.padEnd(20)} ${v.padEnd(10)} ${r.mbps.toFixed(2).padStart(8)} MB/s${r.ok ? "" : " (NOT VERIFIED)"}${vs}  ${r.note}`);
      }
    }
  } finally {
    await lab.stopDelayer();
    lab.destroySync();
  }
}

if (argv[0] === "--peer") {
  peer().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
