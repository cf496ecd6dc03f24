/**
 * An in-memory connection between a {@link ShareClient} and a
 * {@link ShareService}: control messages are encoded and decoded through the
 * protocol registry and travel apart from data (as on SCTP stream 0 vs the
 * data streams, so an `end` can overtake the last bytes of its file); data
 * has a bounded window (sendData returns false beyond it) and each side's
 * data handler gets backpressure by returning a promise.
 */
import { rmSync } from "node:fs";
import { SfxError } from "../../src/errors.ts";
import { type AnyMessage, CONTROL_STREAM, decodeMessage } from "../../src/protocol/index.ts";
import "../../src/protocol/share.ts";
import type { ShareLink } from "../../src/client/share.ts";
import type { SharePeer, ShareService } from "../../src/share/service.ts";

type Item = { data: Uint8Array; stream: number; ppid: number };

class Lane<T> {
  readonly #queue: T[] = [];
  #bytes = 0;
  #pumping = false;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  closed: Error | undefined;
  readonly limit: number;
  readonly deliver: (item: T) => void | Promise<void>;
  readonly size: (item: T) => number;
  /** Most bytes ever queued (to check that backpressure bounds memory). */
  peak = 0;

  /** drained() resolves once fewer than this many bytes are queued (an SCTP association: half its high-water mark). */
  readonly drainBelow: number;

  constructor(limit: number, size: (item: T) => number, deliver: (item: T) => void | Promise<void>, drainBelow = limit) {
    this.limit = limit;
    this.size = size;
    this.deliver = deliver;
    this.drainBelow = drainBelow;
  }

  /** Bytes queued, not yet delivered. */
  get bytes(): number {
    return this.#bytes;
  }

  push(item: T): boolean {
    if (this.closed) throw this.closed;
    this.#queue.push(item);
    this.#bytes += this.size(item);
    this.peak = Math.max(this.peak, this.#bytes);
    if (!this.#pumping) {
      this.#pumping = true;
      setImmediate(() => void this.#pump());
    }
    return this.#bytes < this.limit;
  }

  /** Callers waiting in drained(). */
  get waiting(): number {
    return this.#waiters.length;
  }

  drained(): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    if (this.#bytes < this.drainBelow) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async #pump(): Promise<void> {
    while (this.#queue.length > 0 && !this.closed) {
      const item = this.#queue.shift()!;
      const size = this.size(item); // before delivery: the service frees upload bytes once written
      try {
        await this.deliver(item);
      } catch {
        // a handler failure is the receiver's business
      }
      this.#bytes -= size;
      if (this.#bytes < this.drainBelow) for (const w of this.#waiters.splice(0)) w.resolve();
    }
    this.#pumping = false;
  }

  close(err: Error): void {
    this.closed = err;
    this.#queue.length = 0;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}

/** One client ↔ server connection in memory. */
export class Loop {
  readonly link: ShareLink;
  readonly peer: SharePeer;
  readonly toServerData: Lane<Item>;
  readonly toClientData: Lane<Item>;
  readonly #toServerCtl: Lane<Uint8Array>;
  readonly #toClientCtl: Lane<Uint8Array>;
  readonly #msgHandlers = new Set<(m: AnyMessage) => void>();
  readonly #dataHandlers = new Set<(s: number, d: Uint8Array, p: number) => void | Promise<void>>();
  readonly #closeHandlers = new Set<(e: SfxError) => void>();
  readonly #service: ShareService;
  /** Control messages the client received, by type (for tests). */
  readonly seen: string[] = [];
  /** Set by a test: the client answers no SharePeer.checkPeer() (a killed sfx nobody has noticed yet). */
  deaf = false;
  /** Set by a test: how long since the server last heard this client (SharePeer.silentForMs). */
  silentForMs = 0;
  /** The time each SharePeer.checkPeer() call gave the client. */
  checkWindows: number[] = [];
  /** Set by a test: SharePeer.checkPeer() answers only once this resolves. */
  checkGate: Promise<void> | undefined;
  /** Set by a test: the client takes no more data until this resolves (its window fills; the service waits in drained()). */
  clientDataGate: Promise<void> | undefined;
  /** SharePeer.checkPeer() calls made. */
  checksAsked = 0;
  /** The reason the service aborted this client with (SharePeer.abort), if it did. */
  abortedWith: string | undefined;
  /** What the service said of this peer's sending (SharePeer.sending), in order. */
  readonly sending: boolean[] = [];
  /** What the service said of this peer's receiving (SharePeer.receiving), in order. */
  readonly receiving: boolean[] = [];
  #closed = false;
  /** Data messages given to the client, and handled by it, per stream. */
  readonly #given = new Map<number, number>();
  readonly #acknowledged = new Map<number, number>();

  /** `drainBelow`: the client-bound lane says "drained" only below this (default: as soon as it is under the window). */
  constructor(service: ShareService, address = "127.0.0.1", windowBytes = 256 * 1024, drainBelow = windowBytes) {
    this.#service = service;
    const size = (i: Item) => i.data.byteLength;
    this.toServerData = new Lane<Item>(windowBytes, size, (i) => service.handleData(this.peer, i.stream, i.data, i.ppid));
    this.toClientData = new Lane<Item>(windowBytes, size, async (i) => {
      await this.clientDataGate;
      for (const h of [...this.#dataHandlers]) await h(i.stream, i.data, i.ppid);
      // Handled: what SCTP calls acknowledged, as far as the service can tell.
      this.#acknowledged.set(i.stream, (this.#acknowledged.get(i.stream) ?? 0) + 1);
    }, drainBelow);
    this.#toServerCtl = new Lane<Uint8Array>(Infinity, () => 0, (bytes) => {
      void service.handleMessage(this.peer, decodeMessage(bytes));
    });
    this.#toClientCtl = new Lane<Uint8Array>(Infinity, () => 0, (bytes) => {
      const msg = decodeMessage(bytes);
      this.seen.push(msg.type);
      for (const h of [...this.#msgHandlers]) h(msg);
      this.#acknowledged.set(CONTROL_STREAM, (this.#acknowledged.get(CONTROL_STREAM) ?? 0) + 1);
    });
    this.peer = {
      address,
      send: (bytes) => {
        this.#given.set(CONTROL_STREAM, (this.#given.get(CONTROL_STREAM) ?? 0) + 1);
        this.#toClientCtl.push(bytes);
      },
      sendData: (stream, data, ppid) => {
        this.#given.set(stream, (this.#given.get(stream) ?? 0) + 1);
        return this.toClientData.push({ stream, data: Uint8Array.from(data), ppid });
      },
      acknowledged: (stream) => ({ given: this.#given.get(stream) ?? 0, acknowledged: this.#acknowledged.get(stream) ?? 0 }),
      drained: () => this.toClientData.drained(),
      buffered: () => this.toClientData.bytes,
      sending: (on) => void this.sending.push(on),
      receiving: (on) => void this.receiving.push(on),
      checkPeer: async (ms) => {
        this.checksAsked++;
        this.checkWindows.push(ms);
        await this.checkGate;
        return !this.deaf && !this.#closed;
      },
      abort: (reason) => {
        this.abortedWith = reason;
        void this.close();
      },
    };
    // The service reads it as the association's property: a getter, so a test's later value counts.
    Object.defineProperty(this.peer, "silentForMs", { get: () => this.silentForMs });
    this.link = {
      send: (bytes) => void this.#toServerCtl.push(bytes),
      sendData: (stream, data, ppid) => this.toServerData.push({ stream, data: Uint8Array.from(data), ppid }),
      drained: () => this.toServerData.drained(),
      unsent: () => this.toServerData.bytes,
      onMessage: (h) => (this.#msgHandlers.add(h), () => this.#msgHandlers.delete(h)),
      onData: (h) => (this.#dataHandlers.add(h), () => this.#dataHandlers.delete(h)),
      onClose: (h) => (this.#closeHandlers.add(h), () => this.#closeHandlers.delete(h)),
    };
  }

  /** Drops the connection: both sides learn at once; queued bytes are lost. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new SfxError("SFX_CONNECTION_LOST", "Connection lost");
    for (const lane of [this.toServerData, this.#toServerCtl, this.#toClientCtl]) (lane as Lane<unknown>).close(err);
    // What the service's own sends and drains see, as src/share/attach.ts gives them: a plain Error.
    this.toClientData.close(new Error("connection closed"));
    for (const h of [...this.#closeHandlers]) h(err);
    await this.#service.peerClosed(this.peer);
  }
}

/** What a test's store and its loops leave to clean up: the loops, the store, and the folder holding both. */
export interface LoopWorld {
  base: string;
  store: { close(): Promise<void> };
  loops: Loop[];
}

/** Closes each world's loops and store and removes its folder, emptying `worlds` (a test's `after.each`). */
export async function closeWorlds(worlds: LoopWorld[]): Promise<void> {
  for (const w of worlds.splice(0)) {
    for (const l of w.loops) await l.close();
    await w.store.close();
    rmSync(w.base, { recursive: true, force: true });
  }
}
