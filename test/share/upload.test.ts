import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRITE_BATCH_BYTES } from "../../src/share/defaults.ts";
import { FileSink, openSink } from "../../src/share/upload.ts";
import { rejects } from "../_refused.ts";

const dirs: string[] = [];
test.after.each(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function uploadDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sfx-share-upload-"));
  mkdirSync(join(d, "files"));
  dirs.push(d);
  return d;
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}


/**
 * A FileHandle whose writes complete only when the test says so; it records
 * each call's chunks (copied) and can accept fewer bytes than asked or fail.
 */
class GatedFile {
  readonly calls: Uint8Array[][] = [];
  readonly bytes: number[] = [];
  #gates: Array<() => void> = [];
  shortBy = 0;
  failNext: Error | undefined;
  closed = false;

  get waiting(): number {
    return this.#gates.length;
  }

  /** Lets the oldest pending write complete. */
  open(): void {
    this.#gates.shift()?.();
  }

  async #take(chunks: Uint8Array[]): Promise<{ bytesWritten: number }> {
    this.calls.push(chunks.map((c) => c.slice()));
    await new Promise<void>((resolve) => this.#gates.push(resolve));
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    let n = chunks.reduce((a, c) => a + c.byteLength, 0);
    n = Math.max(1, n - this.shortBy);
    this.shortBy = 0;
    let left = n;
    for (const c of chunks) {
      for (const b of c.subarray(0, Math.min(left, c.byteLength))) this.bytes.push(b);
      left -= Math.min(left, c.byteLength);
    }
    return { bytesWritten: n };
  }

  write(buf: Uint8Array, off: number, len: number): Promise<{ bytesWritten: number }> {
    return this.#take([buf.subarray(off, off + len)]);
  }

  writev(chunks: Uint8Array[]): Promise<{ bytesWritten: number }> {
    return this.#take(chunks);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Resolves once `file` has a write waiting (bounded: fails the test after 2 s). */
async function nextWrite(file: GatedFile): Promise<void> {
  const until = Date.now() + 2000;
  while (file.waiting === 0) {
    if (Date.now() > until) assert.unreachable("the sink issued no write");
    await new Promise((r) => setImmediate(r));
  }
}

const bytes = (...values: number[]) => new Uint8Array(values);

test("chunks that arrive during a write go to disk together in the next writev, in order", async () => {
  const file = new GatedFile();
  const sink = new FileSink(0, 6, file as unknown as FileHandle);
  const first = sink.write(bytes(1));
  await nextWrite(file);
  const rest = [sink.write(bytes(2, 3)), sink.write(bytes(4)), sink.write(bytes(5, 6))];
  file.open();
  await first;
  await nextWrite(file);
  file.open();
  await Promise.all(rest);
  assert.equal(file.calls.map((c) => c.map((x) => [...x])), [[[1]], [[2, 3], [4], [5, 6]]]);
  assert.equal(file.bytes, [1, 2, 3, 4, 5, 6]);
  await sink.end(sha(bytes(1, 2, 3, 4, 5, 6)));
  assert.ok(sink.verified);
});

test("a batch holds at most WRITE_BATCH_BYTES; the rest waits for the next write", async () => {
  const file = new GatedFile();
  const chunk = WRITE_BATCH_BYTES / 4;
  const sink = new FileSink(0, chunk * 7, file as unknown as FileHandle);
  const writes = [sink.write(new Uint8Array(chunk))];
  await nextWrite(file);
  for (let i = 0; i < 6; i++) writes.push(sink.write(new Uint8Array(chunk)));
  for (let i = 0; i < 3; i++) {
    await nextWrite(file);
    file.open();
  }
  await Promise.all(writes);
  assert.equal(file.calls.map((c) => c.length), [1, 4, 2]);
});

test("a short write is continued from the first byte not written", async () => {
  const file = new GatedFile();
  const sink = new FileSink(0, 6, file as unknown as FileHandle);
  const first = sink.write(bytes(1));
  await nextWrite(file);
  const rest = [sink.write(bytes(2, 3)), sink.write(bytes(4, 5, 6))];
  file.open();
  await first;
  file.shortBy = 2; // the writev takes 2, 3, 4 and stops
  await nextWrite(file);
  file.open();
  await nextWrite(file);
  file.open();
  await Promise.all(rest);
  assert.equal(file.calls.map((c) => c.map((x) => [...x])), [[[1]], [[2, 3], [4, 5, 6]], [[5, 6]]]);
  assert.equal(file.bytes, [1, 2, 3, 4, 5, 6]);
});

test("a failed write fails its chunks and those queued behind it with SFX_IO, saying a full disk is the server's; end() then refuses", async () => {
  const file = new GatedFile();
  const sink = new FileSink(0, 4, file as unknown as FileHandle);
  const first = sink.write(bytes(1));
  await nextWrite(file);
  const second = sink.write(bytes(2));
  const third = sink.write(bytes(3));
  file.failNext = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  file.open();
  // The server's limit (exit 6 at the client, as its quota), not the uploader's own I/O error (exit 8).
  await rejects(first, "SFX_LIMIT", /^Cannot store an uploaded file: the server's disk is full \(ENOSPC\)$/);
  await rejects(second, "SFX_LIMIT", /the server's disk is full/);
  await rejects(third, "SFX_LIMIT", /the server's disk is full/);
  await rejects(sink.write(bytes(4)), "SFX_PROTOCOL", /already failed/);
  await rejects(sink.end(sha(bytes(1, 2, 3, 4))), "SFX_PROTOCOL", /already failed/);
  assert.is(file.calls.length, 1);
  await sink.discard();
  assert.ok(file.closed);
});

test("discard() during a write writes nothing more: the queued chunks fail and the file closes", async () => {
  const file = new GatedFile();
  const sink = new FileSink(0, 3, file as unknown as FileHandle);
  const first = sink.write(bytes(1));
  await nextWrite(file);
  const queued = sink.write(bytes(2, 3));
  const discarded = sink.discard();
  file.open();
  await first;
  await rejects(queued, "SFX_PROTOCOL", /abandoned/);
  await discarded;
  assert.is(file.calls.length, 1);
  assert.ok(file.closed);
});

test("write({ release: true }) frees a chunk that owns its buffer once it is on disk; a plain write leaves it", async () => {
  const dir = uploadDir();
  const owned = new Uint8Array(64 * 1024).fill(1);
  const kept = new Uint8Array(64 * 1024).fill(2);
  const pooled = Buffer.from("pool"); // a view into Node's shared pool: never freed
  const sink = await openSink(dir, 0, owned.byteLength + kept.byteLength + pooled.byteLength);
  const expected = sha(Buffer.concat([owned, kept, pooled]));
  const written = sink.write(owned, { release: true });
  assert.is(owned.byteLength, 64 * 1024, "freed before it was written");
  await written;
  assert.is(owned.byteLength, 0);
  await sink.write(kept);
  assert.is(kept.byteLength, 64 * 1024);
  await sink.write(pooled, { release: true });
  assert.is(pooled.toString(), "pool");
  await sink.end(expected);
  assert.is(sha(readFileSync(join(dir, "files", "0"))), expected);
});

test.run();
