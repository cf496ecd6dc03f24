/**
 * Test helpers for the association tests: two endpoints joined by the
 * in-memory lossy bridge, and bounded waits for events.
 */
import { setImmediate as tick } from "node:timers/promises";
import { createBridge, type Bridge, type BridgeOptions } from "../../_bridge.ts";
import { type Association, type CloseReason, ManualClock, SctpEndpoint, type SctpOptions } from "../../../src/transport/sctp/index.ts";

export interface Pair {
  bridge: Bridge;
  server: SctpEndpoint;
  client: SctpEndpoint;
  /** Resolves with the server side of the next association. */
  nextAccepted(): Promise<Association>;
  close(): Promise<void>;
}

/** Two endpoints over a bridge. `a` is the client, `b` the server. */
export function makePair(link: BridgeOptions = {}, server: SctpOptions = {}, client: SctpOptions = {}): Pair {
  const bridge = createBridge(link);
  const srv = SctpEndpoint.listen({ socket: bridge.b, ...server });
  const cli = SctpEndpoint.listen({ socket: bridge.a, ...client });
  const accepted: Association[] = [];
  const waiters: Array<(a: Association) => void> = [];
  srv.on("association", (a: Association) => {
    const w = waiters.shift();
    if (w) w(a);
    else accepted.push(a);
  });
  return {
    bridge,
    server: srv,
    client: cli,
    nextAccepted: () => {
      const a = accepted.shift();
      return a ? Promise.resolve(a) : new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const a of [...cli.associations(), ...srv.associations()]) a.abort("test over");
      await Promise.all([cli.close(), srv.close()]);
      await bridge.close();
    },
  };
}

/** Two endpoints over a bridge on a manual clock: timers and delays run in manual time, nothing waits in real time. */
export interface ManualPair {
  clock: ManualClock;
  bridge: Bridge;
  server: SctpEndpoint;
  client: SctpEndpoint;
  /** Handshakes in 5 ms steps; throws if not established within 1 s of manual time. */
  connect(): Promise<{ c: Association; s: Association }>;
  /** Advances `ms` of manual time in steps of `step` ms, letting each step's I/O run; stops early once `until()` holds. */
  run(ms: number, step?: number, until?: () => boolean): Promise<void>;
  /** Aborts what is left, closes both endpoints (advancing time so they can) and the bridge. */
  close(): Promise<void>;
}

/** A {@link ManualPair}: `a` is the client, `b` the server; both get `clock`. */
export function makeManualPair(link: Omit<BridgeOptions, "clock"> = {}, server: SctpOptions = {}, client: SctpOptions = {}): ManualPair {
  const clock = new ManualClock();
  const bridge = createBridge({ ...link, clock });
  const srv = SctpEndpoint.listen({ socket: bridge.b, clock, ...server });
  const cli = SctpEndpoint.listen({ socket: bridge.a, clock, ...client });
  const run = async (ms: number, step = 1, until?: () => boolean) => {
    for (let t = 0; t < ms && !until?.(); t += step) {
      clock.advance(step);
      await tick();
    }
  };
  return {
    clock,
    bridge,
    server: srv,
    client: cli,
    async connect() {
      let c: Association | undefined;
      let s: Association | undefined;
      srv.once("association", (a: Association) => (s = a));
      void cli.connect(bridge.addressOf("b")).then((a) => (c = a));
      await run(1000, 5, () => c !== undefined && s !== undefined);
      if (!c || !s) throw new Error("not established on the manual clock");
      return { c, s };
    },
    run,
    async close() {
      for (const a of [...cli.associations(), ...srv.associations()]) a.abort("test over");
      const closing = Promise.all([cli.close(), srv.close()]);
      await run(30_000, 100);
      await closing;
      await bridge.close();
    },
  };
}

/** Connects the client to the server; returns both sides. */
export async function connectPair(p: Pair, streams = 16): Promise<{ c: Association; s: Association }> {
  const [c, s] = await within(10_000, Promise.all([p.client.connect(p.bridge.addressOf("b"), { streams }), p.nextAccepted()]), "handshake");
  return { c, s };
}

/** Rejects when `promise` does not settle within `ms`. */
export function within<T>(ms: number, promise: Promise<T>, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with the close reason of `a`. */
export function closed(a: Association): Promise<CloseReason> {
  if (a.closeReason) return Promise.resolve(a.closeReason);
  return new Promise((resolve) => a.once("close", resolve));
}

/** Deterministic bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Sends `data` in messages of `size` bytes on `stream`, honouring backpressure. */
export async function sendAll(a: Association, stream: number, data: Uint8Array, size: number): Promise<void> {
  for (let off = 0; off < data.length; off += size) {
    const ok = a.send(stream, data.subarray(off, Math.min(data.length, off + size)));
    if (!ok) await new Promise<void>((resolve, reject) => {
      const onDrain = () => { a.off("close", onClose); resolve(); };
      const onClose = (r: CloseReason) => { a.off("drain", onDrain); reject(new Error(`closed while waiting for drain: ${r.kind} ${r.message}`)); };
      a.once("drain", onDrain);
      a.once("close", onClose);
    });
  }
}

/** Collects `total` bytes of messages on `a` (any stream) and resolves with them concatenated. */
export function receiveBytes(a: Association, total: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const out = new Uint8Array(total);
    let got = 0;
    const onClose = (r: CloseReason) => { if (got < total) reject(new Error(`closed after ${got} of ${total} bytes: ${r.kind} ${r.message}`)); };
    a.on("message", (_s: number, d: Uint8Array) => {
      if (got + d.length > total) return reject(new Error("received more than expected"));
      out.set(d, got);
      got += d.length;
      if (got === total) {
        a.off("close", onClose);
        resolve(out);
      }
    });
    a.on("close", onClose);
  });
}
