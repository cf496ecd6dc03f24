/** A slow disk for tests: reads of kept temporary files take longer. */
import { open } from "node:fs/promises";
import { OpenFile } from "../src/fs_calls.ts";

/**
 * Makes every read into a 1 MiB buffer (how a kept part is hashed; the share
 * store and senders read in smaller pieces), through a FileHandle or one of
 * sfx's OpenFiles, take `ms` longer, until the returned function is called.
 * `onSlowRead` hears of each such read as it starts.
 */
export async function slowReads(ms: number, onSlowRead?: () => void): Promise<() => void> {
  const h = await open(new URL(import.meta.url).pathname);
  const protos = [Object.getPrototypeOf(h), OpenFile.prototype] as { read: (...args: unknown[]) => Promise<unknown> }[];
  await h.close();
  const reads = protos.map((proto) => proto.read);
  protos.forEach((proto, i) => {
    const read = reads[i];
    proto.read = async function (this: unknown, ...args: unknown[]) {
      if ((args[0] as Uint8Array | undefined)?.byteLength === 1024 * 1024) {
        onSlowRead?.();
        await new Promise((r) => setTimeout(r, ms));
      }
      return read.apply(this, args);
    };
  });
  return () => protos.forEach((proto, i) => void (proto.read = reads[i]));
}
