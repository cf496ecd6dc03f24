/**
 * Every default of the SCTP association and endpoint, in one place. Where
 * RFC 9260 §16 names a protocol parameter the constant says so, and where
 * sfx departs from the RFC's suggested value the comment says why.
 *
 * @module
 */

/** Defaults for {@link SctpOptions} and the protocol constants the stack uses. */
export const SCTP_DEFAULTS = {
  /** SCTP port used inside the UDP encapsulation when none is given (RFC 6951 §5). */
  sctpPort: 6969,
  /** Packet size assumed safe on any path before PLPMTUD confirms more (RFC 8899 §5.1.2 BASE_PLPMTU). */
  initialPacketSize: 1200,
  /**
   * Ceiling for PLPMTUD when the socket cannot tell (largest IPv4 UDP payload,
   * rounded down to a multiple of 4 so every chunk stays 32-bit aligned).
   */
  maxPacketSize: 65504,
  /** Smallest packet size we ever use (RFC 8899 MIN_PLPMTU for UDP options-free paths). */
  minPacketSize: 1200,
  /** RTO.Initial (RFC 9260 §16: 1 s). */
  rtoInitial: 1000,
  /**
   * RTO.Min. RFC 9260 suggests 1 s; like Linux TCP we use 200 ms so that a
   * tail loss on a fast path is repaired in a fraction of a second.
   */
  rtoMin: 200,
  /**
   * RTO.Max. RFC 9260 suggests 60 s; 10 s keeps a retransmission inside the
   * failure timeout so a live but lossy peer is not declared dead. Backoff
   * stops sooner, at a fifth of `failureTimeoutMs` (4 s by default): probes
   * then keep coming until the deadline, so a path back within it is found.
   */
  rtoMax: 10_000,
  /** Max.Init.Retransmits (RFC 9260 §16). */
  maxInitRetransmits: 8,
  /** Association.Max.Retrans (RFC 9260 §16). */
  associationMaxRetrans: 10,
  /**
   * A peer not heard from for this long is reported dead (kind "timeout").
   * 20 s: counted from the last packet heard, so a peer killed at any moment
   * is reported well inside the 30 s sfx promises, timer lateness included.
   */
  failureTimeoutMs: 20_000,
  /**
   * HB.interval. RFC 9260 suggests 30 s; sfx needs a dead idle peer noticed
   * within `failureTimeoutMs`, so the interval is at most a quarter of it.
   */
  heartbeatIntervalMs: 5_000,
  /**
   * Bytes we advertise as a_rwnd (RFC 9260 §6.2): our receive buffer. It
   * must hold what arrives above a hole while the hole is repaired (about
   * two round trips of data): 8 MiB, like Linux's tcp_rmem ceiling (6 MiB),
   * keeps 25 MB/s at 50–60 ms RTT with loss; 4 MiB capped it near 18 MB/s.
   * Memory is only used by data actually held.
   */
  receiveBufferSize: 8 * 1024 * 1024,
  /** send() returns false once this many bytes are queued or unacknowledged. */
  sendHighWaterMark: 4 * 1024 * 1024,
  /** …or once this many messages are queued and not yet sent (each costs ~200 bytes of bookkeeping beyond its data). */
  sendHighWaterMessages: 1024,
  /** Outbound streams we ask for (RFC 9260 §5.1 OS). */
  streams: 1024,
  /** MIS: the most inbound streams we accept (RFC 9260 §3.3.2). */
  maxInboundStreams: 65535,
  /** Valid.Cookie.Life (RFC 9260 §16: 60 s). */
  cookieLifetimeMs: 60_000,
  /** Delayed SACK: the most we wait before acknowledging (RFC 9260 §6.2: at most 500 ms, SHOULD be 200 ms). */
  sackDelayMs: 200,
  /** Delayed SACK: acknowledge at least every this many packets carrying DATA (RFC 9260 §6.2). */
  sackEveryPackets: 2,
  /** The most gap-ack blocks reported in one SACK. */
  maxGapBlocks: 256,
  /** The most duplicate TSNs reported in one SACK. */
  maxDuplicateTsns: 32,
  /** Largest user message accepted by send() and by reassembly. */
  maxMessageSize: 16 * 1024 * 1024,
  /** PLPMTUD: probes sent for one size before it is deemed too big (RFC 8899 MAX_PROBES). */
  pmtuMaxProbes: 3,
  /** PLPMTUD: stop searching when the unconfirmed range is this small. */
  pmtuSearchGranularity: 32,
  /** PLPMTUD: re-search upward after this long (RFC 8899 PMTU_RAISE_TIMER: 600 s). */
  pmtuRaiseIntervalMs: 600_000,
  /** PLPMTUD: T3-rtx expiries in a row (without progress) taken as a black hole above the base size. */
  pmtuBlackHoleT3: 2,
  /** OOTB ABORT replies the endpoint sends per second at most (RFC 9260 §8.4 rate limiting). */
  ootbRepliesPerSecond: 100,
  /** INIT ACKs per second at most, a hundredth of them to one address or IPv6 /64 (see SctpOptions.initAcksPerSecond and init_budget.ts). */
  initAcksPerSecond: 5000,
  /**
   * Congestion control (see congestion.ts): the model-based "bbr", which
   * random loss does not slow down, like this machine's Linux TCP default.
   * Measured (bench/sctp_loss.ts, 50 ms RTT + 1% loss): CUBIC 0.08–0.10× TCP,
   * BBR 0.93–1.62×; clean paths and 5% loss at least as fast as CUBIC.
   */
  congestionControl: "bbr" as "reno" | "cubic" | "bbr",
  /** How long endpoint.close() waits for graceful shutdowns before aborting what is left. */
  closeTimeoutMs: 10_000,
} as const;

/** Fixed protocol sizes (RFC 9260 §3). */
export const SCTP_SIZES = {
  /** Common header (§3.1). */
  commonHeader: 12,
  /** DATA chunk header (§3.3.1). */
  dataHeader: 16,
  /** I-DATA chunk header (RFC 8260 §2.1). */
  idataHeader: 20,
} as const;
