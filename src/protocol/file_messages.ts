/**
 * A file's bytes as data messages, the way `sfx send` and `sfx share put`
 * read them: one `readv` per {@link READ_BATCH} messages, fewer thread-pool
 * round trips than a read each, into a fresh buffer per message.
 *
 * Each message is all of its own ArrayBuffer (but, after a short read, the
 * last), so the sender can hand it to SCTP with `release`: the association
 * frees it the moment the peer has it, and the next read reuses that warm
 * memory instead of faulting in new pages — which was a third of a
 * sender's time when buffers waited for V8's collector.
 *
 * @module
 */
import { DATA_MESSAGE_BYTES } from "./defaults.ts";

/** What the messages are read from: a FileHandle, or sfx's OpenFile (src/fs_calls.ts). */
export interface ReadableFile {
  readv(buffers: Uint8Array[], position: number): Promise<{ bytesRead: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Data messages read from disk at once. */
export const READ_BATCH = 16;

/**
 * Yields `[start, end)` of the open file `fh` in messages of at most
 * `messageBytes`; stops early at end of file. The caller closes `fh`.
 */
export async function* readFileMessages(fh: ReadableFile, start: number, end: number, messageBytes = DATA_MESSAGE_BYTES): AsyncGenerator<Uint8Array> {
  let pos = start;
  while (pos < end) {
    const bufs: Uint8Array[] = [];
    for (let left = end - pos; left > 0 && bufs.length < READ_BATCH; left -= messageBytes) {
      bufs.push(new Uint8Array(Math.min(messageBytes, left)));
    }
    let bytesRead = await readInto(fh, bufs, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    for (const buf of bufs) {
      if (bytesRead <= 0) break;
      yield bytesRead >= buf.length ? buf : buf.subarray(0, bytesRead);
      bytesRead -= buf.length;
    }
  }
}

/**
 * Deno's `FileHandle.readv` never returns when the file ends before the
 * buffers do (it spins at 100 % CPU, measured on Deno 2): there, read one
 * buffer at a time and stop at the first short read.
 */
const READV_WAITS_FOR_FULL_BUFFERS = "Deno" in globalThis;

async function readInto(fh: ReadableFile, bufs: Uint8Array[], pos: number): Promise<number> {
  if (!READV_WAITS_FOR_FULL_BUFFERS) return (await fh.readv(bufs, pos)).bytesRead;
  let total = 0;
  for (const buf of bufs) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos + total);
    total += bytesRead;
    if (bytesRead < buf.length) break;
  }
  return total;
}
