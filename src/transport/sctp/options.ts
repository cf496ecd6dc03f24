/**
 * Options of the SCTP endpoint and its associations, and how defaults fill
 * them in (all defaults live in `defaults.ts`).
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { SCTP_DEFAULTS as D } from "./defaults.ts";

/** Tuning for an endpoint and every association it serves. Everything is optional. */
export interface SctpOptions {
  /** Time source and timers (inject a ManualClock in tests). */
  clock?: Clock;
  /** Ceiling for path MTU discovery, in bytes of SCTP packet (UDP payload). Default: what the socket reports, else 65504. */
  maxPacketSize?: number;
  /** Packet size used until PLPMTUD confirms a larger one. Default 1200. */
  initialPacketSize?: number;
  /** RTO.Initial in ms (default 1000). */
  rtoInitial?: number;
  /** RTO.Min in ms (default 200). */
  rtoMin?: number;
  /** RTO.Max in ms (default 10000); backoff stops at a fifth of `failureTimeoutMs` if that is less. */
  rtoMax?: number;
  /** Max.Init.Retransmits (default 8). */
  maxInitRetransmits?: number;
  /** A dead peer is reported (close kind "timeout") within this many ms. Default 20000. */
  failureTimeoutMs?: number;
  /** HB.interval in ms. Default min(5000, failureTimeoutMs / 4). */
  heartbeatIntervalMs?: number;
  /** Receive buffer: the a_rwnd we advertise (default 8 MiB). */
  receiveBufferSize?: number;
  /** send() returns false at this many buffered bytes (default 4 MiB). */
  sendHighWaterMark?: number;
  /** send() also returns false at this many messages queued and not yet sent (default 1024): small ones cost memory beyond their bytes. */
  sendHighWaterMessages?: number;
  /** Outbound streams we ask for (default 1024). */
  streams?: number;
  /** Valid.Cookie.Life in ms (default 60000). */
  cookieLifetimeMs?: number;
  /** SCTP port inside the UDP encapsulation (default 6969). A listener accepts INITs for any port unless `strictPort`. */
  port?: number;
  /** Accept INITs only for `port`. */
  strictPort?: boolean;
  /** Offer I-DATA (RFC 8260) in the handshake (default true). */
  idata?: boolean;
  /** Accept incoming associations (default true). */
  accept?: boolean;
  /**
   * Largest user message, sent or received (default 16 MiB). Not negotiated: a peer that sends a
   * larger one is aborted as a protocol violation, so both ends must agree on it.
   */
  maxMessageSize?: number;
  /** Delayed SACK timeout in ms (default 200). */
  sackDelayMs?: number;
  /** Probe the path MTU upwards after the handshake (default true). */
  pmtud?: boolean;
  /**
   * Congestion control: "bbr" (the default; model-based after
   * draft-ietf-ccwg-bbr: random loss does not cut the window), "cubic"
   * (RFC 9438) or "reno" (RFC 9260 §7.2.2; slow start and fast recovery
   * follow RFC 9260 §7.2 in both).
   */
  congestionControl?: "reno" | "cubic" | "bbr";
  /**
   * INIT ACKs the endpoint sends per second at most (default 5000, refilled
   * continuously), and to one address (IPv6: one /64) a hundredth of that,
   * at once and then a second: each carries a State Cookie, whose MAC costs
   * CPU, so a flood of INITs (anyone can send them, from any source address)
   * must not take the CPU that established associations need, and a few
   * flooding hosts must not take the whole budget. INITs over it are
   * dropped; their senders retransmit (T1-init). See `init_budget.ts`.
   */
  initAcksPerSecond?: number;
}

/** {@link SctpOptions} with every default applied. */
export interface ResolvedSctpOptions {
  clock: Clock;
  maxPacketSize: number | undefined;
  initialPacketSize: number;
  rtoInitial: number;
  rtoMin: number;
  rtoMax: number;
  maxInitRetransmits: number;
  failureTimeoutMs: number;
  heartbeatIntervalMs: number;
  receiveBufferSize: number;
  sendHighWaterMark: number;
  sendHighWaterMessages: number;
  streams: number;
  cookieLifetimeMs: number;
  port: number;
  strictPort: boolean;
  idata: boolean;
  accept: boolean;
  maxMessageSize: number;
  sackDelayMs: number;
  pmtud: boolean;
  congestionControl: "reno" | "cubic" | "bbr";
  initAcksPerSecond: number;
  associationMaxRetrans: number;
}

function num(v: number | undefined, dflt: number, min: number, max: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`SCTP option ${name} must be a number from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

function cc(v: string | undefined): "reno" | "cubic" | "bbr" {
  if (v === undefined) return D.congestionControl;
  if (v !== "reno" && v !== "cubic" && v !== "bbr") throw new RangeError(`SCTP option congestionControl must be "reno", "cubic" or "bbr", got ${String(v)}`);
  return v;
}

/** Applies defaults and checks ranges; throws RangeError on a bad value. */
export function resolveOptions(o: SctpOptions = {}): ResolvedSctpOptions {
  const failureTimeoutMs = num(o.failureTimeoutMs, D.failureTimeoutMs, 10, 3_600_000, "failureTimeoutMs");
  const rtoMin = num(o.rtoMin, D.rtoMin, 1, 600_000, "rtoMin");
  const rtoMax = num(o.rtoMax, Math.max(rtoMin, D.rtoMax), rtoMin, 600_000, "rtoMax");
  return {
    clock: o.clock ?? systemClock,
    maxPacketSize: o.maxPacketSize === undefined ? undefined : num(o.maxPacketSize, 0, 1200, 65507, "maxPacketSize"),
    initialPacketSize: num(o.initialPacketSize, D.initialPacketSize, 508, 65507, "initialPacketSize"),
    rtoInitial: num(o.rtoInitial, D.rtoInitial, 1, 600_000, "rtoInitial"),
    rtoMin,
    rtoMax,
    maxInitRetransmits: num(o.maxInitRetransmits, D.maxInitRetransmits, 0, 1000, "maxInitRetransmits"),
    failureTimeoutMs,
    heartbeatIntervalMs: num(o.heartbeatIntervalMs, Math.min(D.heartbeatIntervalMs, failureTimeoutMs / 4), 1, 3_600_000, "heartbeatIntervalMs"),
    receiveBufferSize: num(o.receiveBufferSize, D.receiveBufferSize, 1500, 0x7fffffff, "receiveBufferSize"),
    sendHighWaterMark: num(o.sendHighWaterMark, D.sendHighWaterMark, 1, 0x7fffffff, "sendHighWaterMark"),
    sendHighWaterMessages: num(o.sendHighWaterMessages, D.sendHighWaterMessages, 2, 0x7fffffff, "sendHighWaterMessages"),
    streams: num(o.streams, D.streams, 1, 65535, "streams"),
    cookieLifetimeMs: num(o.cookieLifetimeMs, D.cookieLifetimeMs, 1, 0xffffffff, "cookieLifetimeMs"),
    port: num(o.port, D.sctpPort, 1, 65535, "port"),
    strictPort: o.strictPort ?? false,
    idata: o.idata ?? true,
    accept: o.accept ?? true,
    maxMessageSize: num(o.maxMessageSize, D.maxMessageSize, 1, 0x7fffffff, "maxMessageSize"),
    sackDelayMs: num(o.sackDelayMs, D.sackDelayMs, 0, 500, "sackDelayMs"),
    pmtud: o.pmtud ?? true,
    congestionControl: cc(o.congestionControl),
    initAcksPerSecond: num(o.initAcksPerSecond, D.initAcksPerSecond, 4, 1_000_000, "initAcksPerSecond"),
    associationMaxRetrans: D.associationMaxRetrans,
  };
}
