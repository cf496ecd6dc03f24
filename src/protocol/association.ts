/**
 * The part of an SCTP association that sfx's protocol code uses, as an
 * interface: `src/transport/sctp`'s `Association` fits it, and so does the
 * in-memory fake in `test/_fake_association.ts`, which lets the pairing and
 * session logic be tested without a network.
 *
 * @module
 */

/** Why an association closed (as the SCTP stack reports it). */
export interface CloseReason {
  kind: "shutdown" | "abort" | "peer-abort" | "timeout" | "error" | string;
  message?: string;
  /** "peer-abort": the reason the peer's application gave, when it gave one. */
  peerReason?: string;
  /** "peer-abort": the peer has no association with us any more (it restarted, or our address changed). */
  unknownToPeer?: boolean;
  /** "timeout" from the peer's silence: for how long nothing was heard from it, in ms. */
  silentMs?: number;
}

/** An association as the protocol layer sees it. */
export interface AssociationLike {
  /** The peer's UDP address. */
  readonly remote: { address: string; port: number };
  /** Streams we may send on (0 … outboundStreams − 1). */
  readonly outboundStreams: number;
  /** Bytes queued to send and not yet acknowledged. */
  readonly bufferedAmount: number;
  /** Messages queued and not yet sent, when the transport tells (the SCTP association does). */
  readonly queuedMessages?: number;
  /**
   * Queues one message; false means "wait for 'drain' before sending more" (the message is still queued).
   * `release`: the association owns `data` and frees its buffer once the peer has it.
   */
  send(streamId: number, data: Uint8Array, opts?: { unordered?: boolean; ppid?: number; release?: boolean }): boolean;
  /** Drops queued messages `match` picks that have not started on the wire; returns the bytes dropped. */
  discardQueued(match: (streamId: number, ppid: number) => boolean): number;
  /**
   * Messages given to send() on `streamId` (less those discarded) and how many the peer has
   * acknowledged, which it does in the order they were given.
   */
  messagesAcknowledged(streamId: number): { given: number; acknowledged: number };
  /** User data the peer has reported receiving since the start, in bytes: it grows with every new acknowledgement. */
  readonly acknowledgedBytes: number;
  /** Stops delivering messages; our advertised window closes, so the peer stops sending. */
  pause(opts?: { except?: readonly number[] }): void;
  /** Delivers again. */
  resume(): void;
  /** Graceful close: everything queued is delivered first. */
  close(): Promise<void>;
  /** Immediate close (ABORT). */
  abort(reason?: string): void;
  /** Sets the receive window (see the SCTP association's); absent on stand-ins without one. */
  setReceiveBufferSize?(bytes: number): void;
  /** Sets where send() starts saying false (see the SCTP association's); absent on stand-ins without one. */
  setSendHighWaterMark?(bytes: number): void;
  /** Whether the peer says anything within `withinMs` when asked now (see the SCTP association's); absent on stand-ins. */
  checkPeer?(withinMs: number): Promise<boolean>;
  /** Milliseconds since anything came from the peer; absent on stand-ins. */
  readonly silentForMs?: number;
  /** Received data held for want of other data (incomplete, or behind a gap); absent on stand-ins. */
  readonly heldAboveGapBytes?: number;
  /** The cumulative TSN received: it stands still while a gap is not filled; absent on stand-ins. */
  readonly cumulativeTsnReceived?: number;
  /** True while paused (see pause()); absent on stand-ins. */
  readonly isPaused?: boolean;
  on(event: "message", listener: (streamId: number, data: Uint8Array, ppid: number) => void): unknown;
  on(event: "drain", listener: () => void): unknown;
  on(event: "close", listener: (reason: CloseReason) => void): unknown;
  /** The peer now comes from another UDP port (a NAT's new mapping); `remote` says where. */
  on(event: "address", listener: (remote: { address: string; port: number }, previousPort: number) => void): unknown;
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * Closes gracefully (SHUTDOWN: everything queued is delivered), but aborts
 * if that has not finished within `graceMs` — a peer that stopped reading
 * must not hold a close open — telling the peer `abortReason`. Never rejects.
 */
export async function closeWithin(association: AssociationLike, graceMs: number, abortReason = "close timed out"): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    association.close().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        association.abort(abortReason);
        resolve();
      }, graceMs);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * A client heard from by nobody for this long, asked every second all along,
 * is taken as gone when another client waits for what it holds (a receiver
 * in an exchange, a share's last download): half the transport's own
 * failure timeout (20 s). A client killed with -9 never speaks again; one
 * stopped with Ctrl-Z, or cut off, for longer than this loses what it held.
 */
export const GONE_AFTER_SILENT_MS = 10_000;
/** {@link stillThere} asks for this long at least, however long the client has been silent already. */
export const ASK_AT_LEAST_MS = 3000;
/** The server asks one client at most this often for others who wait: requests in a loop get the last answer. */
export const ASK_AGAIN_MS = 2000;

/**
 * Asks `peer` for a word (its `checkPeer`) until nothing has been heard from
 * it for {@link GONE_AFTER_SILENT_MS} in all ({@link ASK_AT_LEAST_MS} at
 * least), and resolves whether it said anything. One that cannot be asked
 * (a stand-in without `checkPeer`) counts as there.
 */
export function stillThere(peer: Pick<AssociationLike, "checkPeer" | "silentForMs">): Promise<boolean> {
  if (!peer.checkPeer) return Promise.resolve(true);
  return peer.checkPeer(Math.max(ASK_AT_LEAST_MS, GONE_AFTER_SILENT_MS - (peer.silentForMs ?? 0)));
}
