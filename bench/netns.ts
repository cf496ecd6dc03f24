/**
 * Two network namespaces joined by a veth pair, for the transport benchmark:
 * `sfxb1` (10.199.0.1, the sender) and `sfxb2` (10.199.0.2, the receiver).
 * Nothing leaves the machine. This kernel has no netem qdisc, so a scenario
 * is built from iptables' `statistic` match (random loss, both directions),
 * `tc … tbf` (rate) and bench/nfq_delay.c (a fixed one-way delay from sfxb1
 * to sfxb2, through NFQUEUE on the receiver's ingress: held on the sender's
 * egress, packets would still count against TCP's small-queue budget and
 * throttle TCP to a few packets per round trip). Every rule lives inside the namespaces, so
 * deleting them (`destroy()`, also on exit and on SIGINT/SIGTERM) removes
 * everything. Needs root, iproute2, iptables, cc and libnetfilter-queue-dev.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const NS_SENDER = "sfxb1";
export const NS_RECEIVER = "sfxb2";
export const ADDR_SENDER = "10.199.0.1";
export const ADDR_RECEIVER = "10.199.0.2";
const IF_SENDER = "sfxv1";
const IF_RECEIVER = "sfxv2";
const QUEUE = 7;

/** The host's default TCP congestion control (namespaces inherit it). */
export function systemTcpCongestion(): string {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_congestion_control", "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** A path condition. */
export interface Scenario {
  name: string;
  /** One-way delay sender → receiver, ms (the round trip gains the same). */
  delayMs: number;
  /** Random loss in each direction, percent. */
  lossPct: number;
  /** Sender's link rate, Mbit/s (tbf); undefined = veth speed. */
  rateMbit?: number;
}

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

/** The lab: create() sets up the namespaces, apply() a scenario, destroy() removes it all. */
export class NetnsLab {
  #tmp = mkdtempSync(join(tmpdir(), "sfx-bench-"));
  #delayer: ChildProcess | undefined;
  #nfq = "";
  #destroyed = false;
  readonly #onExit = () => this.destroySync();
  readonly #onSignal = () => {
    this.destroySync();
    process.exit(130);
  };

  /** Checks the tools, compiles the delayer, and creates the namespaces and the veth pair. */
  static create(): NetnsLab {
    if (process.getuid?.() !== 0) throw new Error("network namespaces need root");
    const lab = new NetnsLab();
    process.once("exit", lab.#onExit);
    // A program that handles SIGINT/SIGTERM itself should call process.exit(): the exit hook cleans up.
    if (process.listenerCount("SIGINT") === 0) process.once("SIGINT", lab.#onSignal);
    if (process.listenerCount("SIGTERM") === 0) process.once("SIGTERM", lab.#onSignal);
    try {
      lab.#setup();
    } catch (err) {
      lab.destroySync();
      throw err;
    }
    return lab;
  }

  #setup(): void {
    const src = fileURLToPath(new URL("./nfq_delay.c", import.meta.url));
    this.#nfq = join(this.#tmp, "nfq_delay");
    sh("cc", ["-O2", "-o", this.#nfq, src, "-lnetfilter_queue"]);
    // Leftovers of an interrupted run.
    sh("ip", ["netns", "del", NS_SENDER], true);
    sh("ip", ["netns", "del", NS_RECEIVER], true);
    sh("ip", ["netns", "add", NS_SENDER]);
    sh("ip", ["netns", "add", NS_RECEIVER]);
    sh("ip", ["link", "add", IF_SENDER, "netns", NS_SENDER, "type", "veth", "peer", "name", IF_RECEIVER, "netns", NS_RECEIVER]);
    sh("ip", ["-n", NS_SENDER, "addr", "add", `${ADDR_SENDER}/24`, "dev", IF_SENDER]);
    sh("ip", ["-n", NS_RECEIVER, "addr", "add", `${ADDR_RECEIVER}/24`, "dev", IF_RECEIVER]);
    for (const [ns, dev] of [[NS_SENDER, IF_SENDER], [NS_RECEIVER, IF_RECEIVER]]) {
      // One segment per packet, like a real link: with TSO a 64 KiB TCP burst would be a
      // single "packet" to the loss rule, and TCP would see ~40× fewer loss events than UDP.
      sh("ip", ["-n", ns, "link", "set", dev, "gso_max_segs", "1"]);
      sh("ip", ["-n", ns, "link", "set", dev, "up"]);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
  }

  /** Replaces the current path condition with `s`. */
  async apply(s: Scenario): Promise<void> {
    await this.#stopDelayer();
    for (const ns of [NS_SENDER, NS_RECEIVER]) {
      sh("ip", ["netns", "exec", ns, "iptables", "-F"], true);
      sh("ip", ["netns", "exec", ns, "iptables", "-t", "raw", "-F"], true);
    }
    sh("tc", ["-n", NS_SENDER, "qdisc", "del", "dev", IF_SENDER, "root"], true);
    if (s.rateMbit !== undefined) {
      sh("tc", ["-n", NS_SENDER, "qdisc", "add", "dev", IF_SENDER, "root", "tbf", "rate", `${s.rateMbit}mbit`, "burst", "256kb", "latency", "100ms"]);
    }
    if (s.lossPct > 0) {
      const p = String(s.lossPct / 100);
      sh("ip", ["netns", "exec", NS_RECEIVER, "iptables", "-A", "INPUT", "-i", IF_RECEIVER, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"]);
      sh("ip", ["netns", "exec", NS_SENDER, "iptables", "-A", "INPUT", "-i", IF_SENDER, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"]);
    }
    if (s.delayMs > 0) {
      const d = spawn("ip", ["netns", "exec", NS_RECEIVER, this.#nfq, String(QUEUE), String(s.delayMs)], { stdio: ["ignore", "pipe", "inherit"] });
      this.#delayer = d;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("nfq_delay did not start within 5 s")), 5000);
        d.stdout!.once("data", () => {
          clearTimeout(timer);
          resolve();
        });
        d.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`nfq_delay exited (${code})`));
        });
      });
      // Only after the delayer listens: a queue without a reader drops everything.
      sh("ip", ["netns", "exec", NS_RECEIVER, "iptables", "-t", "raw", "-A", "PREROUTING", "-i", IF_RECEIVER, "-j", "NFQUEUE", "--queue-num", String(QUEUE)]);
    }
  }

  /**
   * Congestion control for TCP between the namespaces, set on the veth routes
   * (`congctl`; a namespace's sysctl may be read-only). `undefined` restores
   * the system default (see {@link systemTcpCongestion}).
   */
  setTcpCongestion(algo: string | undefined): void {
    for (const [ns, dev, src] of [[NS_SENDER, IF_SENDER, ADDR_SENDER], [NS_RECEIVER, IF_RECEIVER, ADDR_RECEIVER]]) {
      const route = ["-n", ns, "route", "replace", "10.199.0.0/24", "dev", dev, "proto", "kernel", "scope", "link", "src", src];
      sh("ip", algo ? [...route, "congctl", algo] : route);
    }
  }

  /** argv prefix that runs a command inside a namespace. */
  exec(ns: string, cmd: string[]): string[] {
    return ["ip", "netns", "exec", ns, ...cmd];
  }

  async #stopDelayer(): Promise<void> {
    const d = this.#delayer;
    this.#delayer = undefined;
    if (!d || d.exitCode !== null) return;
    sh("ip", ["netns", "exec", NS_RECEIVER, "iptables", "-t", "raw", "-F"], true);
    const exited = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    const timer = setTimeout(() => d.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  /** Removes the namespaces (and with them the veth pair and every rule), stops the delayer. */
  async destroy(): Promise<void> {
    await this.#stopDelayer();
    this.destroySync();
  }

  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#delayer && this.#delayer.exitCode === null) this.#delayer.kill("SIGKILL");
    sh("ip", ["netns", "del", NS_SENDER], true);
    sh("ip", ["netns", "del", NS_RECEIVER], true);
    rmSync(this.#tmp, { recursive: true, force: true });
    process.off("exit", this.#onExit);
    process.off("SIGINT", this.#onSignal);
    process.off("SIGTERM", this.#onSignal);
  }
}
