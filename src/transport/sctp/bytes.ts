/**
 * Big-endian (network order) reads and writes on a `Uint8Array`, shared by
 * the SCTP codecs. Plain byte operations: on V8 they inline and beat a
 * `DataView` created per call. Callers check bounds first.
 *
 * @module
 */

/** Reads an unsigned 16-bit big-endian integer at `off`. */
export function readU16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** Reads an unsigned 32-bit big-endian integer at `off`. */
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** Writes the low 16 bits of `v` big-endian at `off`. */
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

/** Writes `v` as an unsigned 32-bit big-endian integer at `off`. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** `n` rounded up to a multiple of 4 (RFC 9260 §3.2: chunks and parameters are padded to 32 bits). */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Zeroes `out[from, to)` — padding must be zero bytes (RFC 9260 §3.2). */
export function zero(out: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) out[i] = 0;
}
