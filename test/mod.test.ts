/**
 * The library API as mod.ts documents it: the module example, run for real
 * on loopback (server, two clients, one file), so the example cannot rot.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sfx from "../mod.ts";

test("mod.ts example: startServer, connect twice, Receiver + sendFiles move one file intact", async () => {
  const tmp = await mkdtemp(join(tmpdir(), "sfx-mod-"));
  const server = await sfx.startServer({
    host: "127.0.0.1",
    port: 0,
    logDir: join(tmp, "logs"),
    storage: join(tmp, "shares"),
  });
  try {
    const at = { host: "127.0.0.1", port: server.port };
    const bob = await sfx.connect({ server: at });
    const alice = await sfx.connect({ server: at });
    try {
      assert.match(bob.id, /^\d+$/);
      assert.is.not(bob.id, alice.id);
      const bytes = randomBytes(300_000);
      const src = join(tmp, "report.pdf");
      await writeFile(src, bytes);
      const inbox = join(tmp, "inbox");
      await mkdir(inbox);
      const receiving = new sfx.Receiver(bob, { dir: inbox, decide: async () => true }).receiveOne();
      const sent = await sfx.sendFiles(alice, { to: bob.id, files: await sfx.collectFiles([src]) });
      const got = await receiving;
      assert.is(sent.bytes, bytes.length);
      assert.ok(got.accepted);
      assert.is(got.from, alice.id);
      const written = await readFile(join(inbox, "report.pdf"));
      assert.is(createHash("sha256").update(written).digest("hex"), createHash("sha256").update(bytes).digest("hex"));
    } finally {
      await Promise.all([bob.close(), alice.close()]);
    }
  } finally {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
});

test("mod.ts exports the error codes the CLI documents", () => {
  assert.is(sfx.exitStatusFor(new sfx.SfxError("SFX_UNKNOWN_ID", "x")), 5);
  assert.type(sfx.SctpEndpoint.listen, "function");
  assert.type(sfx.discoverServers, "function");
});

test.run();
