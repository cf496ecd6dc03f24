/**
 * One exchange between a sender and a receiver, as the server sees it: a
 * state machine with one `#setState` that logs every transition.
 *
 * ```
 * offered ──accept──► accepted ──start──► streaming ──receiver done──► done
 *    │ reject / timeout / cancel / gone        │ cancel / error / gone
 *    ▼                                         ▼
 * rejected | cancelled | failed           cancelled | failed
 * ```
 *
 * @module
 */
import type { AssociationLike } from "../protocol/association.ts";
import type { PairingLog } from "./log.ts";
import type { Relay } from "./relay.ts";

/** The states of an exchange. */
export type ExchangeState = "offered" | "accepted" | "streaming" | "done" | "rejected" | "cancelled" | "failed";

/** States an exchange never leaves. */
export const FINAL_STATES: ReadonlySet<ExchangeState> = new Set(["done", "rejected", "cancelled", "failed"]);

const TRANSITIONS: Record<ExchangeState, readonly ExchangeState[]> = {
  offered: ["accepted", "rejected", "cancelled", "failed"],
  accepted: ["streaming", "cancelled", "failed"],
  streaming: ["done", "cancelled", "failed"],
  done: [],
  rejected: [],
  cancelled: [],
  failed: [],
};

/** A client as an exchange needs it (the server session implements it). */
export interface ExchangePeer {
  /** Its client ID. */
  readonly id: string;
  readonly association: AssociationLike;
  /** Sends one encoded control message on stream 0. */
  sendControl(bytes: Uint8Array): void;
  /** The exchange it is in, if any: a client is in at most one. */
  exchange: Exchange | null;
  /** It sends by its own code (it said `pullable`): a receiver that typed the code may pull its files. */
  pullable?: boolean;
  /** It starts (true) or stops (false) sending an exchange's files: the server sizes its receive window by that. */
  sending?(on: boolean): void;
  /** It starts (true) or stops (false) receiving an exchange's files: the server sizes its send buffer towards it by that. */
  receiving?(on: boolean): void;
  /** What log budgets count the lines this peer causes by: one object for all connections from its address (default: the peer). */
  readonly logKey?: object;
  /** Its ID and address for the log (`482 913 (192.0.2.7:50000)`); its ID alone when absent. */
  readonly label?: string;
}

/** One side of an exchange: the peer and the exchange id on its association. */
export interface Party {
  peer: ExchangePeer;
  xid: number;
}

/** A file as offered. */
export interface ExchangeFile {
  path: string;
  size: number | null;
}

/** An exchange and its bookkeeping. */
export class Exchange {
  /** Server-wide serial, for logs. */
  readonly serial: number;
  readonly sender: Party;
  readonly receiver: Party;
  readonly files: readonly ExchangeFile[];
  /** Bytes relayed so far, per file. */
  readonly fileBytes: number[];
  readonly offeredAt: number;
  streamingAt = 0;
  /** Files the receiver resumes (from its accept): the only ones either side may say 'resuming' of. */
  resumed: ReadonlySet<number> = new Set();
  /** Until when 'resuming' counts as movement (the receiver hashes all its kept parts at once). */
  resumingUntil = 0;
  /** When a byte or a control message of the exchange last moved (stall detection). */
  movedAt = 0;
  /**
   * What the server has relayed of the sender's closing messages: each file's
   * one 'end' (file → the size it gives), then one 'done'. Nothing more is
   * relayed (a flood of them would count against a receiver that reads only
   * its control stream), and the receiver's 'done' is taken only after the
   * sender's.
   */
  readonly ended = new Map<number, number>();
  senderDone = false;
  /** The sender has sent its key (once, after 'start'). */
  keyed = false;
  /**
   * The sender's own failure (a file it could not read), held until the bytes
   * of the files it ended before it are relayed: sent at once, it would
   * overtake them (control and data are different streams), and the receiver
   * would keep a whole file as a part.
   */
  failing: { code: string; message: string } | undefined;
  /** When each side's last 'resuming' was relayed: at most one per half period is. */
  readonly resumingRelayedAt = { sender: -Infinity, receiver: -Infinity };
  endedAt = 0;
  /** Whether its lines (offer, accept, end) are in the log: an exchange's are all there or none (see Pairing's exchange-line budget). */
  logged = true;
  bytes = 0;
  relay: Relay | null = null;
  offerTimer: ReturnType<typeof setTimeout> | undefined;
  /** While `failing` waits for bytes: ends the wait once they stop coming. */
  failingTimer: ReturnType<typeof setInterval> | undefined;
  /** Why it ended (a code), once final. */
  outcome: string | undefined;
  #state: ExchangeState = "offered";
  #log: PairingLog;

  constructor(serial: number, sender: Party, receiver: Party, files: readonly ExchangeFile[], now: number, log: PairingLog) {
    this.serial = serial;
    this.sender = sender;
    this.receiver = receiver;
    this.files = files;
    this.fileBytes = new Array(files.length).fill(0);
    this.offeredAt = now;
    this.#log = log;
  }

  get state(): ExchangeState {
    return this.#state;
  }

  /** True once done, rejected, cancelled or failed. */
  get finished(): boolean {
    return FINAL_STATES.has(this.#state);
  }

  /** True while a file the sender ended (each file's 'end' gives its size) has bytes not yet relayed. */
  owesBytes(): boolean {
    for (const [file, size] of this.ended) if (this.fileBytes[file] < size) return true;
    return false;
  }

  /** Total announced bytes (files of unknown size count 0). */
  get announcedBytes(): number {
    return this.files.reduce((n, f) => n + (f.size ?? 0), 0);
  }

  /** Moves to `next`, logging `from => to`; refuses a transition the diagram does not have. */
  setState(next: ExchangeState, why = ""): boolean {
    const from = this.#state;
    if (!TRANSITIONS[from].includes(next)) {
      this.#log.debug("Exchange #{serial}: ignored {from} => {to}", { serial: this.serial, from, to: next });
      return false;
    }
    this.#state = next;
    this.#log.debug("Exchange #{serial}: {from} => {to}{why}", { serial: this.serial, from, to: next, why: why ? ` (${why})` : "" });
    return true;
  }

  /** The other side of `peer`'s. */
  other(peer: ExchangePeer): Party {
    return peer === this.sender.peer ? this.receiver : this.sender;
  }

  /** The side `peer` is on. */
  partyOf(peer: ExchangePeer): Party | undefined {
    return peer === this.sender.peer ? this.sender : peer === this.receiver.peer ? this.receiver : undefined;
  }
}
