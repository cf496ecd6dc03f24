/**
 * Frees the memory of a received data message as soon as its bytes are on
 * disk, instead of at V8's next garbage collection: share uploads on the
 * server, exchanges and share downloads on the client.
 *
 * Why: each UDP datagram reaches us in an ArrayBuffer of its own (~64 KiB on
 * loopback), and the SCTP association hands a data message up as a view of
 * that datagram (or of the buffer it reassembled the message into). The
 * JavaScript objects around it are tiny, so nothing prompts a scavenge; V8
 * frees those buffers only when their external size forces a full collection.
 * During a 1 GiB upload that left 30–60 MiB of dead buffers waiting at any
 * time, and the malloc heap they lived in kept the server's RSS ~80 MiB above
 * its start. Detaching a buffer frees its memory at once, so the heap reuses
 * the same few megabytes for the whole upload.
 *
 * @module
 */

/**
 * Bytes of a buffer around a data message that can only be packet headers:
 * the SCTP common header (12 bytes, RFC 9260 §3.1) and an I-DATA chunk header
 * (20 bytes, RFC 8260 §2.1; a DATA header is 16). A buffer with no more than
 * this around the message holds no other message's bytes.
 */
export const RECEIVED_HEADER_BYTES = 32;

/**
 * Frees the buffer behind `view` now, when `view` is all of it but at most
 * {@link RECEIVED_HEADER_BYTES} (so no other live data shares it). Returns
 * true when freed; afterwards every view of that buffer has length 0. Only
 * call it on a message nothing else will read again. A view into a larger
 * buffer (Node's pool, a receive slab, a datagram bundling other chunks) is
 * left alone.
 *
 * @example
 * ```ts
 * await fh.write(message);
 * releaseReceived(message); // message.byteLength === 0 from here on
 * ```
 */
export function releaseReceived(view: Uint8Array): boolean {
  const buffer = view.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached || buffer.resizable) return false;
  if (view.byteLength === 0 || buffer.byteLength - view.byteLength > RECEIVED_HEADER_BYTES) return false;
  buffer.transfer(0); // detaches `buffer`: V8 releases its backing store now
  return true;
}
