/** A slow disk for tests: reads of kept temporary files take longer. */
import { open } from "node:fs/promises";

/**
 * Makes every FileHandle.read into a 1 MiB buffer (how a kept part is hashed;
 * the share store and senders read in smaller pieces) take `ms` longer, until
 * the returned function is called. `onSlowRead` hears of each such read as it
 * starts.
 */
export async function slowReads(ms: number, onSlowRead?: () => void): Promise<() => void> {
  const h = await open(new URL(import.meta.url).pathname);
  const proto = Object.getPrototypeOf(h) as { read: (...args: unknown[]) => Promise<unknown> };
  await h.close();
  const read = proto.read;
  proto.read = async function (this: unknown, ...args: unknown[]) {
    if ((args[0] as Uint8Array | undefined)?.byteLength === 1024 * 1024) {
      onSlowRead?.();
      await new Promise((r) => setTimeout(r, ms));
    }
    return read.apply(this, args);
  };
  return () => void (proto.read = read);
}
