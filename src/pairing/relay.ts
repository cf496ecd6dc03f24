/**
 * The relay pump: data-stream messages from the sender's association go to
 * the receiver's, and when the receiver's side is full the sender's
 * association is paused (its advertised window closes, so the sender's stack
 * stops sending) until the receiver's side drains. Server memory per
 * exchange is thus bounded by the receiver association's send buffer plus
 * one receive window, whatever the file size.
 *
 * @module
 */
import type { AssociationLike } from "../protocol/association.ts";
import { CONTROL_STREAM, FIRST_DATA_STREAM } from "../protocol/defaults.ts";
import { relayedBytes } from "./memory.ts";

/** Counters of one relay. */
export interface RelayStats {
  messages: number;
  bytes: number;
  /** Times the sender was paused because the receiver was full. */
  pauses: number;
  /** Most bytes seen queued towards the receiver. */
  peakBuffered: number;
}

/** Forwards data messages from one association to another, with backpressure. */
export class Relay {
  readonly stats: RelayStats = { messages: 0, bytes: 0, pauses: 0, peakBuffered: 0 };
  #from: AssociationLike;
  #to: AssociationLike;
  #paused = false;
  #stopped = false;
  #onDrain = () => {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#stopped) this.#from.resume();
  };

  constructor(from: AssociationLike, to: AssociationLike) {
    this.#from = from;
    this.#to = to;
  }

  /** True while the sender is paused waiting for the receiver. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Forwards one message; pauses the sender when the receiver's side is full. */
  forward(streamId: number, data: Uint8Array, ppid: number): void {
    if (this.#stopped) return;
    const streams = this.#to.outboundStreams;
    // The receiver may have negotiated fewer streams: fold onto its data streams (files are told apart by PPID).
    const out = streamId < streams ? streamId : FIRST_DATA_STREAM + ((streamId - FIRST_DATA_STREAM) % Math.max(1, streams - FIRST_DATA_STREAM));
    let ok: boolean;
    try {
      // release: the relay owns the received message; the receiver's association frees its buffer once acknowledged.
      ok = this.#to.send(out, data, { ppid, release: true });
    } catch {
      // The receiver's association is closing or closed: its "close" ends the exchange; relay no more.
      this.stop();
      return;
    }
    this.stats.messages++;
    this.stats.bytes += data.length;
    relayedBytes(data.length);
    const buffered = this.#to.bufferedAmount;
    if (buffered > this.stats.peakBuffered) this.stats.peakBuffered = buffered;
    // send() says false at the receiver side's high-water mark in bytes, or in messages (many small ones
    // cost memory beyond their bytes), and "drain" comes once both are low again. A pause of our own by
    // message count, on a true from send(), waited for a "drain" that never came: the exchange stalled.
    if (!ok && !this.#paused) {
      this.#paused = true;
      this.stats.pauses++;
      // Data waits; the sender's control messages (a file's end, a cancel) are the session's, not
      // relayed data, and keep coming: an end held here could be what the receiver waits for.
      this.#from.pause({ except: [CONTROL_STREAM] });
      this.#to.once("drain", this.#onDrain);
    }
  }

  /** Stops relaying; a paused sender is resumed (its association lives on for the next exchange). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#to.off("drain", this.#onDrain);
    if (this.#paused) {
      this.#paused = false;
      this.#from.resume();
    }
  }
}
