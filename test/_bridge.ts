/**
 * A deterministic in-memory lossy link between two datagram sockets, for
 * testing the SCTP stack without a network: drop, reorder, duplicate or
 * delay the next N datagrams on purpose, or at seeded random rates, limit
 * the rate, cap the datagram size (a path MTU), and filter specific packets
 * (e.g. drop the COOKIE ECHO). Everything is driven by one seeded PRNG and
 * either real timers or an injected clock, so a seed replays the same run.
 *
 * @example
 * ```ts
 * const bridge = createBridge({ seed: 1, lossRate: 0.01, delayMs: 5 });
 * bridge.dropNext(1, "a->b"); // lose the INIT
 * const server = SctpEndpoint.listen({ socket: bridge.b });
 * const client = SctpEndpoint.listen({ socket: bridge.a });
 * const assoc = await client.connect(bridge.addressOf("b"));
 * ```
 *
 * @module
 */
import type { DatagramHandler, DatagramSocket, LocalAddress, RemoteAddress } from "../src/transport/datagram.ts";

/** Which way a datagram travels. */
export type Direction = "a->b" | "b->a";

/**
 * A clock the bridge schedules deliveries on: the SCTP stack's `Clock` shape,
 * so one `ManualClock` can drive both the link and the associations.
 */
export interface BridgeClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Decides the fate of one datagram: return false to drop it. */
export type BridgeFilter = (data: Uint8Array, dir: Direction) => boolean;

/** Options for {@link createBridge}. Rates are per direction, 0 … 1. */
export interface BridgeOptions {
  /** PRNG seed; the same seed and the same sends give the same run. Default 1. */
  seed?: number;
  /** Probability a datagram is lost. */
  lossRate?: number;
  /** One-way delay in ms; default 0 (delivered on the next turn of the event loop). */
  delayMs?: number;
  /** Extra uniform random delay 0 … jitterMs (reorders datagrams naturally). */
  jitterMs?: number;
  /** Probability a datagram is held back and delivered after the next one. */
  reorderRate?: number;
  /** Probability a datagram is delivered twice. */
  duplicateRate?: number;
  /** Datagrams longer than this are dropped (the path MTU, as with DF set). */
  mtu?: number;
  /** What the sockets report from maxDatagramSize(); default `mtu`, else 65507. */
  maxDatagramSize?: number;
  /** Link rate in bytes/s (serialisation delay); default unlimited. */
  rateBytesPerSec?: number;
  /** With a rate: bytes the link queue holds before it drops (tail drop); default 256 KiB. */
  queueBytes?: number;
  /** How long a reordered datagram waits for a successor before it goes anyway; default delayMs + 10 ms. */
  reorderHoldMs?: number;
  /** Clock for delays; default real timers (setImmediate for zero delay). */
  clock?: BridgeClock;
  /** Drop hook, consulted for every datagram after dropNext(). */
  filter?: BridgeFilter;
  /** The sockets' addresses; default 10.0.0.1:5000 and 10.0.0.2:5000 (never touch the network). */
  addressA?: RemoteAddress;
  addressB?: RemoteAddress;
}

/** What happened on one direction of the link. */
export interface LinkCounters {
  sent: number;
  delivered: number;
  bytesSent: number;
  bytesDelivered: number;
  /** Dropped by dropNext(). */
  droppedOnPurpose: number;
  /** Dropped by the filter hook. */
  filtered: number;
  /** Dropped by the random loss rate. */
  lost: number;
  /** Longer than the mtu. */
  tooBig: number;
  /** Link queue full (rate limit). */
  queueDrops: number;
  /** Addressed to neither end, or the receiving socket was closed. */
  misrouted: number;
  duplicated: number;
  reordered: number;
}

/** The two ends and the controls. */
export interface Bridge {
  readonly a: BridgeSocket;
  readonly b: BridgeSocket;
  /** Drops the next `n` datagrams in `dir` (either direction when omitted). */
  dropNext(n: number, dir?: Direction): void;
  /** Holds each of the next `n` datagrams in `dir` back until the one after it has been delivered. */
  reorderNext(n: number, dir?: Direction): void;
  /** Delivers each of the next `n` datagrams in `dir` twice. */
  duplicateNext(n: number, dir?: Direction): void;
  /** Changes the random loss rate (both directions when `dir` is omitted). */
  setLossRate(rate: number, dir?: Direction): void;
  /** The drop hook: return false to drop a datagram. */
  filter: BridgeFilter | undefined;
  /** Delivers `data` to `to` as if it came from `from` (spoofed or stray datagrams). */
  inject(to: "a" | "b", data: Uint8Array, from: RemoteAddress): void;
  /** Counters per direction. */
  readonly counters: Record<Direction, LinkCounters>;
  /** Datagrams sent but not yet delivered. */
  inFlight(): number;
  /** Resolves once `count` datagrams in all have been delivered in `dir` (counters[dir].delivered), checked as each is. */
  whenDelivered(dir: Direction, count: number): Promise<void>;
  /** Address of one end. */
  addressOf(end: "a" | "b"): RemoteAddress;
  /** Closes both sockets and cancels pending deliveries. */
  close(): Promise<void>;
}

interface Pending {
  at: number;
  seq: number;
  data: Uint8Array;
  from: RemoteAddress;
  to: BridgeSocket;
  held: boolean;
}

/** Seeded PRNG (mulberry32): uniform in [0, 1). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function newCounters(): LinkCounters {
  return {
    sent: 0,
    delivered: 0,
    bytesSent: 0,
    bytesDelivered: 0,
    droppedOnPurpose: 0,
    filtered: 0,
    lost: 0,
    tooBig: 0,
    queueDrops: 0,
    misrouted: 0,
    duplicated: 0,
    reordered: 0,
  };
}

const realClock: BridgeClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** One direction of the link: a time-ordered queue with one timer. */
class Link {
  readonly dir: Direction;
  readonly counters = newCounters();
  lossRate: number;
  dropNext = 0;
  reorderNext = 0;
  duplicateNext = 0;
  queue: Pending[] = [];
  held: Pending[] = [];
  queuedBytes = 0;
  freeAt = 0;
  timer: unknown = undefined;
  timerAt = Infinity;
  immediate: ReturnType<typeof setImmediate> | undefined;

  constructor(dir: Direction, lossRate: number) {
    this.dir = dir;
    this.lossRate = lossRate;
  }
}

/**
 * Creates a link between two in-memory datagram sockets `a` and `b`.
 * With no options it is a perfect link delivering on the next event-loop turn.
 */
export function createBridge(opts: BridgeOptions = {}): Bridge {
  const random = prng(opts.seed ?? 1);
  const clock = opts.clock ?? realClock;
  const useImmediate = opts.clock === undefined;
  const delayMs = opts.delayMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;
  const reorderRate = opts.reorderRate ?? 0;
  const duplicateRate = opts.duplicateRate ?? 0;
  const reorderHoldMs = opts.reorderHoldMs ?? delayMs + 10;
  const queueBytes = opts.queueBytes ?? 256 * 1024;
  const reportedMax = opts.maxDatagramSize ?? opts.mtu ?? 65507;
  const links: Record<Direction, Link> = { "a->b": new Link("a->b", opts.lossRate ?? 0), "b->a": new Link("b->a", opts.lossRate ?? 0) };
  const anyDir = { dropNext: 0, reorderNext: 0, duplicateNext: 0 };
  let seq = 0;
  let closed = false;
  /** whenDelivered() callers, checked after every delivery. */
  const deliveryWaiters = new Set<() => void>();

  const bridge = {} as Bridge & { filter: BridgeFilter | undefined };
  const a: BridgeSocket = new BridgeSocket(opts.addressA ?? { address: "10.0.0.1", port: 5000 }, reportedMax, (data, to) => transmit(a, data, to));
  const b: BridgeSocket = new BridgeSocket(opts.addressB ?? { address: "10.0.0.2", port: 5000 }, reportedMax, (data, to) => transmit(b, data, to));
  a.onClosed = b.onClosed = () => {
    if (a.closed && b.closed) stop();
  };

  function take(link: Link, key: "dropNext" | "reorderNext" | "duplicateNext"): boolean {
    if (link[key] > 0) {
      link[key]--;
      return true;
    }
    if (anyDir[key] > 0) {
      anyDir[key]--;
      return true;
    }
    return false;
  }

  function transmit(from: BridgeSocket, data: Uint8Array, to: RemoteAddress): void {
    if (closed) return;
    const link = from === a ? links["a->b"] : links["b->a"];
    const peer = from === a ? b : a;
    const c = link.counters;
    c.sent++;
    c.bytesSent += data.length;
    // Draw the same number of random values for every datagram, so changing one
    // rate does not shift the others' decisions.
    const rLoss = random();
    const rReorder = random();
    const rDup = random();
    const rJitter = random();
    if (take(link, "dropNext")) return void c.droppedOnPurpose++;
    const filter = bridge.filter;
    if (filter !== undefined && !filter(data, link.dir)) return void c.filtered++;
    if (opts.mtu !== undefined && data.length > opts.mtu) return void c.tooBig++;
    if (rLoss < link.lossRate) return void c.lost++;
    if (to.port !== peer.address.port || to.address !== peer.address.address) return void c.misrouted++;
    const now = clock.now();
    let at = now + delayMs + rJitter * jitterMs;
    if (opts.rateBytesPerSec !== undefined) {
      if (link.queuedBytes + data.length > queueBytes) return void c.queueDrops++;
      const start = Math.max(now, link.freeAt);
      link.freeAt = start + (data.length * 1000) / opts.rateBytesPerSec;
      at = link.freeAt + delayMs + rJitter * jitterMs;
    }
    const copy = data.slice();
    const p: Pending = { at, seq: seq++, data: copy, from: from.address, to: peer, held: false };
    if (take(link, "reorderNext") || rReorder < reorderRate) {
      // Held: goes right after the next datagram, or after reorderHoldMs if none follows.
      c.reordered++;
      p.held = true;
      p.at = at + reorderHoldMs;
      link.held.push(p);
      enqueue(link, p);
    } else {
      enqueue(link, p);
      if (link.held.length > 0) {
        for (const h of link.held.splice(0)) {
          if (h.at > at) {
            remove(link, h);
            h.at = at;
            h.seq = seq++;
            enqueue(link, h);
          }
        }
      }
    }
    if (take(link, "duplicateNext") || rDup < duplicateRate) {
      c.duplicated++;
      enqueue(link, { at: p.at, seq: seq++, data: copy.slice(), from: from.address, to: peer, held: false });
    }
  }

  function enqueue(link: Link, p: Pending): void {
    const q = link.queue;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > p.at || (q[i - 1].at === p.at && q[i - 1].seq > p.seq))) i--;
    q.splice(i, 0, p);
    link.queuedBytes += p.data.length;
    schedule(link);
  }

  function remove(link: Link, p: Pending): void {
    const i = link.queue.indexOf(p);
    if (i >= 0) {
      link.queue.splice(i, 1);
      link.queuedBytes -= p.data.length;
    }
  }

  function schedule(link: Link): void {
    if (closed || link.queue.length === 0) return;
    const first = link.queue[0].at;
    if (useImmediate && first <= clock.now()) {
      if (link.immediate === undefined) link.immediate = setImmediate(() => fire(link));
      return;
    }
    if (link.timer !== undefined && link.timerAt <= first) return;
    if (link.timer !== undefined) clock.clearTimer(link.timer);
    link.timerAt = first;
    link.timer = clock.setTimer(() => fire(link), Math.max(0, first - clock.now()));
  }

  function fire(link: Link): void {
    link.immediate = undefined;
    link.timer = undefined;
    link.timerAt = Infinity;
    if (closed) return;
    const now = clock.now();
    // Deliver what is due now; datagrams sent by the handlers wait for the next round.
    let n = 0;
    while (n < link.queue.length && link.queue[n].at <= now) n++;
    const due = link.queue.splice(0, n);
    for (const p of due) {
      link.queuedBytes -= p.data.length;
      const h = link.held.indexOf(p);
      if (h >= 0) link.held.splice(h, 1);
    }
    for (const p of due) {
      if (closed) return;
      if (p.to.closed) {
        link.counters.misrouted++;
        continue;
      }
      link.counters.delivered++;
      link.counters.bytesDelivered += p.data.length;
      p.to.deliver(p.data, p.from);
    }
    for (const w of [...deliveryWaiters]) w();
    schedule(link);
  }

  function stop(): void {
    closed = true;
    for (const link of Object.values(links)) {
      if (link.timer !== undefined) clock.clearTimer(link.timer);
      if (link.immediate !== undefined) clearImmediate(link.immediate);
      link.timer = link.immediate = undefined;
      link.queue = [];
      link.held = [];
    }
  }

  const pick = (dir: Direction | undefined): Link[] => (dir === undefined ? [links["a->b"], links["b->a"]] : [links[dir]]);
  Object.assign(bridge, {
    a,
    b,
    filter: opts.filter,
    counters: { "a->b": links["a->b"].counters, "b->a": links["b->a"].counters },
    dropNext(n: number, dir?: Direction) {
      if (dir === undefined) anyDir.dropNext += n;
      else links[dir].dropNext += n;
    },
    reorderNext(n: number, dir?: Direction) {
      if (dir === undefined) anyDir.reorderNext += n;
      else links[dir].reorderNext += n;
    },
    duplicateNext(n: number, dir?: Direction) {
      if (dir === undefined) anyDir.duplicateNext += n;
      else links[dir].duplicateNext += n;
    },
    setLossRate(rate: number, dir?: Direction) {
      for (const l of pick(dir)) l.lossRate = rate;
    },
    inject(to: "a" | "b", data: Uint8Array, from: RemoteAddress) {
      const target = to === "a" ? a : b;
      const link = to === "a" ? links["b->a"] : links["a->b"];
      enqueue(link, { at: clock.now(), seq: seq++, data: data.slice(), from: { ...from }, to: target, held: false });
    },
    inFlight: () => links["a->b"].queue.length + links["b->a"].queue.length,
    whenDelivered: (dir: Direction, count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (links[dir].counters.delivered < count) return;
          deliveryWaiters.delete(check);
          resolve();
        };
        deliveryWaiters.add(check);
        check();
      }),
    addressOf: (end: "a" | "b") => ({ ...(end === "a" ? a : b).address }),
    async close() {
      await Promise.all([a.close(), b.close()]);
      stop();
    },
  });
  return bridge;
}

/** One end of a {@link Bridge}: a {@link DatagramSocket} that never touches the network. */
export class BridgeSocket implements DatagramSocket {
  readonly address: RemoteAddress;
  closed = false;
  onClosed: () => void = () => {};
  #max: number;
  readonly #transmit: (data: Uint8Array, to: RemoteAddress) => void;
  #handler: DatagramHandler = () => {};
  #errorHandler: (err: Error) => void = () => {};

  constructor(address: RemoteAddress, max: number, transmit: (data: Uint8Array, to: RemoteAddress) => void) {
    this.address = { ...address };
    this.#max = max;
    this.#transmit = transmit;
  }

  send(data: Uint8Array, to: RemoteAddress): void {
    if (!this.closed) this.#transmit(data, to);
  }

  onMessage(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  onError(handler: (err: Error) => void): void {
    this.#errorHandler = handler;
  }

  /** Called by the bridge. A throwing handler is not caught: like a real socket's, it crashes the test. */
  deliver(data: Uint8Array, from: RemoteAddress): void {
    this.#handler(data, { address: from.address, port: from.port });
  }

  localAddress(): LocalAddress {
    return { ...this.address, family: "IPv4" };
  }

  maxDatagramSize(): number {
    return this.#max;
  }

  /** What maxDatagramSize() reports from now on (an interface whose MTU changed). */
  setMaxDatagramSize(max: number): void {
    this.#max = max;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onClosed();
    }
    return Promise.resolve();
  }
}
