/**
 * Keeps the relay's memory flat. Every datagram node:dgram receives gets a
 * fresh off-heap buffer; the JavaScript wrappers are tiny, so V8 only
 * collects them when about 64 MiB of such external memory has piled up (its
 * external-allocation soft limit), and the server's resident size grows by
 * that much under load — garbage, not data. Asking for a cheap young-generation
 * collection every few MiB relayed frees those buffers early, so the server's
 * RSS stays within what it actually holds (a window per association).
 *
 * Where the runtime offers no way to request a collection, this does nothing.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type GcFunction = (opts?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

/** Bytes relayed between two collections. */
export const GC_EVERY_BYTES = 4 * 1024 * 1024;
/** Every this many collections, a full one: buffers that sat in a window long enough to be promoted go too. */
export const MAJOR_EVERY = 8;

let gc: GcFunction | null | undefined;

function getGc(): GcFunction | null {
  if (gc !== undefined) return gc;
  gc = null;
  try {
    const existing = (globalThis as { gc?: GcFunction }).gc;
    if (typeof existing === "function") return (gc = existing);
    setFlagsFromString("--expose-gc");
    const fn = runInNewContext("gc") as unknown;
    if (typeof fn === "function") gc = fn as GcFunction;
  } catch {
    gc = null;
  }
  return gc;
}

let sinceLast = 0;
let count = 0;

/** Counts relayed bytes and requests a young-generation collection every {@link GC_EVERY_BYTES} (a full one every {@link MAJOR_EVERY}). */
export function relayedBytes(n: number): void {
  sinceLast += n;
  if (sinceLast < GC_EVERY_BYTES) return;
  sinceLast = 0;
  const fn = getGc();
  if (!fn) return;
  try {
    fn({ type: ++count % MAJOR_EVERY === 0 ? "major" : "minor" });
  } catch {
    gc = null;
  }
}
