import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { READ_BATCH, readFileMessages } from "../../src/protocol/file_messages.ts";

const root = mkdtempSync(join(tmpdir(), "sfx-filemsg-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

const data = new Uint8Array(5 * READ_BATCH * 1000 + 777);
for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >>> 9)) & 0xff;
const path = join(root, "f.bin");
writeFileSync(path, data);

async function read(start: number, end: number, size: number): Promise<Uint8Array[]> {
  const fh = await open(path, "r");
  try {
    const out: Uint8Array[] = [];
    for await (const m of readFileMessages(fh, start, end, size)) out.push(m);
    return out;
  } finally {
    await fh.close();
  }
}

test("readFileMessages() yields [start, end) in messages of at most the size, each a whole fresh buffer", async () => {
  for (const [start, end] of [[0, data.length], [1, data.length], [12_345, 12_346], [999, 3 * READ_BATCH * 1000 + 1]]) {
    const msgs = await read(start, end, 1000);
    const joined = Buffer.concat(msgs);
    assert.ok(joined.equals(Buffer.from(data.subarray(start, end))), `bytes of [${start}, ${end})`);
    assert.ok(msgs.every((m) => m.length > 0 && m.length <= 1000), "message sizes");
    assert.ok(msgs.slice(0, -1).every((m) => m.length === 1000), "full messages but the last");
    assert.ok(msgs.every((m) => m.byteOffset === 0 && m.buffer.byteLength === m.length), "whole buffers");
    assert.is(new Set(msgs.map((m) => m.buffer)).size, msgs.length, "never a buffer twice");
  }
});

test("readFileMessages() stops at the end of a file shorter than asked", async () => {
  const msgs = await read(data.length - 2500, data.length + 10_000, 1000);
  assert.is(msgs.reduce((n, m) => n + m.length, 0), 2500);
  assert.ok(Buffer.concat(msgs).equals(Buffer.from(data.subarray(data.length - 2500))));
  assert.equal(await read(data.length, data.length + 10, 1000), []);
});

test.run();
