/**
 * `sfx demo` (what `npm start` runs): the main job end to end on this machine
 * in a few seconds — a server on 127.0.0.1, a sender and a receiver, one file
 * exchanged by the sender's code and a share put and fetched, every byte hash-checked — printing
 * the commands a user would type on real machines. Everything lives in a
 * temporary directory that is removed afterwards (unless --keep).
 *
 * @module
 */
import { type Command, Option } from "commander";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandResult } from "./context.ts";
import { parseCount } from "./options.ts";
import { formatRate } from "./progress.ts";
import { SfxError } from "../errors.ts";
import { ExchangeCode } from "../protocol/exchange_code.ts";

/** Registers `sfx demo`. */
export function registerDemo(program: Command, result: CommandResult): void {
  program
    .command("demo")
    .description("run a server, a receiver and a sender on this machine and move a file (what `npm start` does)")
    .addOption(new Option("--size <bytes>", "size of the demo file (e.g. 64M, 1G)").argParser(parseCount).default(64 * 2 ** 20, "64M"))
    .option("--keep", "keep the temporary directory (files, logs, share store)")
    .action(async (flags: { size: number; keep?: boolean }) => {
      result.status = await runDemo(flags.size, Boolean(flags.keep));
    });
}

async function runDemo(size: number, keep: boolean): Promise<number> {
  // Loaded here so `sfx --help` stays fast.
  const { startServer } = await import("../server/server.ts");
  const { connect } = await import("../client/connection.ts");
  const { receiveByCode } = await import("../client/receive.ts");
  const { sendByCode } = await import("../client/send.ts");
  const { collectFiles } = await import("../client/walk.ts");
  const { shareGet, sharePut } = await import("../client/share.ts");
  const { formatId } = await import("../pairing/id_registry.ts");

  const tmp = await mkdtemp(join(tmpdir(), "sfx-demo-"));
  const say = (line: string) => console.log(line);
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    name: "demo",
    logDir: join(tmp, "logs"),
    storage: join(tmp, "shares"),
  });
  const at = { host: "127.0.0.1", port: server.port };
  try {
    say(`sfx serve           → server on 127.0.0.1:${server.port} (logs in ${join(tmp, "logs")})`);
    const bob = await connect({ server: at });
    const alice = await connect({ server: at });
    try {
      const inbox = join(tmp, "inbox");
      await mkdir(inbox);
      const file = join(tmp, "demo.bin");
      const bytes = randomBytes(size);
      const sha = createHash("sha256").update(bytes).digest("hex");
      await writeFile(file, bytes);
      // The sender's code: its ID and six secret digits, which the server never sees; the receiver types it.
      const code = new ExchangeCode();
      say(`sfx send demo.bin   → sender connected, its ID is ${formatId(alice.id)}, its code ${code.format(alice.id)}`);
      // Keyed with the sender's code, each end proves it holds it: nothing is left for the users to compare.
      const byCode: { sender?: boolean; receiver?: boolean } = {};
      let shown!: () => void;
      const pullable = new Promise<void>((resolve) => (shown = resolve));
      const sending = sendByCode(alice, {
        code,
        files: await collectFiles([file]),
        onEvent: (e) => {
          if (e.event === "code") shown();
          if (e.event === "verify") byCode.sender = e.byCode;
        },
      });
      // The code is typed once it is shown: once the server knows the sender takes pulls.
      await Promise.race([pullable, sending]);
      const got = await receiveByCode(bob, code.format(alice.id), { dir: inbox, decide: async () => true, onEvent: (e) => void (e.event === "verify" && (byCode.receiver = e.byCode)) });
      const sent = await sending;
      const copy = createHash("sha256").update(await readFile(join(inbox, "demo.bin"))).digest("hex");
      if (!got.accepted || copy !== sha) throw new SfxError("SFX_INTEGRITY", "The demo file arrived changed");
      if (!byCode.sender || !byCode.receiver) throw new SfxError("SFX_PROTOCOL", "The two ends of the demo did not key the exchange with the sender's code");
      say(`sfx receive ${code.format(alice.id)} → ${mib(sent.bytes)} relayed in ${sent.seconds.toFixed(2)} s ` +
        `(${formatRate(sent.bytes / Math.max(sent.seconds, 1e-3) / 1e6)}), enciphered end to end under keys made with the sender's code, ` +
        `SHA-256 ${sha.slice(0, 16)}… verified`);

      const share = await sharePut([file], { server: at, expiresInMs: 3_600_000 });
      say(`sfx share put demo.bin --expires 1h → code ${share.code} (the key too: the server stores bytes it cannot read, and never saw it)`);
      const fetched = join(tmp, "fetched");
      await mkdir(fetched);
      await shareGet(share.code, { server: at, dir: fetched });
      const again = createHash("sha256").update(await readFile(join(fetched, "demo.bin"))).digest("hex");
      if (again !== sha) throw new SfxError("SFX_INTEGRITY", "The shared file came back changed");
      say(`sfx share get ${share.code} → ${mib(size)} downloaded, SHA-256 verified`);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  } finally {
    await server.close("demo finished");
    if (keep) say(`Kept ${tmp}`);
    else {
      await rm(tmp, { recursive: true, force: true });
      say("Its files and logs are removed (--keep keeps them).");
    }
  }
  say("Demo complete. On real machines: `sfx serve` on the server, `sfx send <files>` on one client and `sfx receive <code>` on the other (or `sfx receive`, then `sfx send --to <code> <files>`).");
  return 0;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
