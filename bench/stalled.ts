/**
 * `node bench/stalled.ts [--pairs 120] [--repeat 1] [--root .[,other/checkout]]`
 *
 * What receivers that stop reading make a server hold. A server (the
 * library's `startServer`, in a process of its own) relays --pairs
 * exchanges of a 256 MiB sparse file; each receiver accepts and, 50 ms
 * later, stops reading (it pauses its association but for the control
 * stream, so it still acknowledges and answers heartbeats: the server sees a
 * live client with a closed window, until its 5-minute idle timeout). After
 * 6 s the server's resident size and external (ArrayBuffer) memory, after a
 * full collection, are printed, in total and per pair.
 *
 * What the server holds per pair is the sender's receive window (from the
 * senders' pool, 512 MiB in all) and what it queued for the receiver (from
 * the receivers' pool, 256 MiB in all). With two checkouts after --root
 * (comma-separated; each needs its own node_modules or a link to one) the
 * runs alternate between them, so a change is compared within the same
 * minutes. Clients all connect from 127.0.0.1, so the server is told to take
 * its 1,000 clients from one address: at most 500 pairs.
 *
 * @module
 */
import { fork } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
function flag(name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}

const MiB = 2 ** 20;

interface Usage { rss: number; arrayBuffers: number }

if (args[0] === "--server") {
  const { startServer } = await import(join(args[1], "mod.ts"));
  // Every client comes from 127.0.0.1: as many as the server takes in all, as if from many addresses.
  const server = await startServer({ host: "127.0.0.1", port: 0, logging: false, discovery: false, storage: args[2], pairing: { maxClientsPerAddress: 1000 } });
  const usage = (): Usage => {
    (globalThis as { gc?: () => void }).gc?.();
    const u = process.memoryUsage();
    return { rss: u.rss, arrayBuffers: u.arrayBuffers };
  };
  process.send!({ port: server.port, usage: usage() });
  process.on("message", (m) => {
    if (m === "usage") process.send!({ usage: usage() });
    if (m === "exit") void server.close().then(() => process.exit(0));
  });
} else if (args[0] === "--clients") {
  const [root, port, pairs, dir] = [args[1], Number(args[2]), Number(args[3]), args[4]];
  const { connect, Receiver, sendFiles, collectFiles } = await import(join(root, "mod.ts"));
  const big = join(dir, "big.bin");
  closeSync(openSync(big, "w"));
  truncateSync(big, 256 * MiB);
  const server = { host: "127.0.0.1", port };
  const conns: Array<{ abort(reason?: string): Promise<void> }> = [];
  for (let i = 0; i < pairs; i++) {
    const r = await connect({ server });
    const s = await connect({ server });
    conns.push(r, s);
    const into = join(dir, `in${i}`);
    mkdirSync(into);
    const decide = () => {
      setTimeout(() => r.pause({ keepControl: true }), 50);
      return Promise.resolve(true);
    };
    new Receiver(r, { dir: into, decide }).receiveOne().catch(() => {});
    sendFiles(s, { to: r.id, files: await collectFiles([big]) }).catch(() => {});
  }
  process.send!("started");
  process.on("message", async (m) => {
    if (m !== "exit") return;
    await Promise.all(conns.map((c) => c.abort("benchmark over").catch(() => {})));
    process.exit(0);
  });
} else {
  const pairs = Number(flag("--pairs", "120"));
  const repeat = Number(flag("--repeat", "1"));
  const roots = flag("--root", ".").split(",").map((r) => resolve(r));
  const self = new URL(import.meta.url).pathname;
  const next = <T>(p: ReturnType<typeof fork>) => new Promise<T>((r) => p.once("message", (m) => r(m as T)));
  for (let run = 0; run < repeat; run++) {
    for (const root of roots) {
      const dir = mkdtempSync(join(tmpdir(), "sfx-stalled-"));
      try {
        const server = fork(self, ["--server", root, join(dir, "store")], { execArgv: ["--expose-gc"], stdio: "inherit" });
        const first = await next<{ port: number; usage: Usage }>(server);
        const clients = fork(self, ["--clients", root, String(first.port), String(pairs), dir], { stdio: "inherit" });
        await next(clients);
        await new Promise((r) => setTimeout(r, 6000));
        server.send("usage");
        const { usage } = await next<{ usage: Usage }>(server);
        const rss = (usage.rss - first.usage.rss) / MiB;
        const ab = (usage.arrayBuffers - first.usage.arrayBuffers) / MiB;
        console.log(`${root}: ${pairs} stalled pairs: server RSS +${rss.toFixed(0)} MiB (${(rss / pairs).toFixed(1)} per pair), ArrayBuffers +${ab.toFixed(0)} MiB (${(ab / pairs).toFixed(1)} per pair)`);
        clients.send("exit");
        await new Promise((r) => clients.once("exit", r));
        server.send("exit");
        await new Promise((r) => server.once("exit", r));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
