/**
 * The server's exchange logic: offers between client IDs, the busy rule,
 * the offer timeout, the relay, and cleanup when a side leaves. It speaks
 * to clients only through {@link ExchangePeer}s, so it is tested with
 * in-memory associations.
 *
 * @module
 */
import type { ErrorCode } from "../errors.ts";
import { nextReceiverExchangeId, parseDataPpid, retagPpid, xidTag } from "../protocol/data.ts";
import {
  type Accept, Busy, Cancel, Done, End, ErrorMessage, fitText, Key, Offer, Pull, type Pullable, PullProof, type PullRefused, PullShare, Reject, Resuming, resumingEveryMs, Start,
} from "../protocol/messages.ts";
import { PULL_ANSWER_MS } from "../protocol/defaults.ts";
import { ASK_AGAIN_MS, type CloseReason, GONE_AFTER_SILENT_MS, stillThere } from "../protocol/association.ts";
import { DEFAULT_PAIRING_LIMITS, type PairingLimits, UNKNOWN_ID_BURST, UNKNOWN_IDS_PER_MINUTE } from "./defaults.ts";
import { addressKey, LookupLimiter } from "../failure_limiter.ts";
import { Exchange, type ExchangePeer, type ExchangeState } from "./exchange.ts";
import { formatId } from "./id_registry.ts";
import { LogBudget, type PairingLog, SILENT_LOG } from "./log.ts";
import { Relay } from "./relay.ts";
import { formatBytes } from "../units.ts";

type Msg<D> = D extends { validate(f: Record<string, unknown>): infer T } ? T : never;

/**
 * The slowest a side may read (hash) the kept bytes of the files it resumes,
 * all together, in bytes per ms (1 MB/s), while its 'resuming' counts as
 * movement.
 */
const MIN_RESUME_READ_BYTES_PER_MS = 1000;

/**
 * The codes a party reports its own failure with (a disk, a hash, the protocol, itself, giving
 * up): relayed as they are. Any other is relayed as SFX_TRANSFER_FAILED, the peer's words marked
 * as its report: a peer choosing the code chose the other side's exit status and message (a
 * claimed SFX_CONNECTION_LOST made a waiting sfx receive exit, SFX_USAGE read as a bad command).
 */
/**
 * How long a sender's own failure waits for the bytes of the files it ended while none come (a
 * quarter of the idle timeout at most): a sender that failed is not held to the idle timeout.
 */
const SENDER_FAILURE_GRACE_MS = 5000;
/** A busy receiver's exchange in which nothing moved for this long (seconds) is said to be still in a refusal. */
const STILL_EXCHANGE_S = 2;
/** The reason a client found gone is disconnected with (and how {@link Pairing.gone} knows it). */
const NO_ANSWER = "nothing heard from you for 10 s, while another client waited for your exchange to end";

const PEER_FAILURE_CODES = new Set(["SFX_IO", "SFX_INTEGRITY", "SFX_PROTOCOL", "SFX_INTERNAL", "SFX_TRANSFER_FAILED"]);

/** Options for {@link Pairing}. */
export interface PairingOptions {
  limits?: Partial<PairingLimits>;
  log?: PairingLog;
  /** Looks a live client up by ID. */
  lookup: (id: string) => ExchangePeer | undefined;
  now?: () => number;
}

/** Counters for tests and stats. */
export interface PairingStats {
  offers: number;
  done: number;
  rejected: number;
  cancelled: number;
  failed: number;
  /** Data messages dropped: not in a streaming exchange, or for an old one. */
  droppedData: number;
}

/** Pairs senders with receivers and relays their exchanges. */
export class Pairing {
  readonly limits: PairingLimits;
  readonly stats: PairingStats = { offers: 0, done: 0, rejected: 0, cancelled: 0, failed: 0, droppedData: 0 };
  /** Bytes relayed by the exchanges that ended. */
  #relayedEnded = 0;
  readonly #log: PairingLog;
  readonly #lookup: (id: string) => ExchangePeer | undefined;
  readonly #now: () => number;
  /** Offers to IDs nobody holds, per sender address: guessing IDs is slowed to a crawl. */
  readonly #unknownIds: LookupLimiter;
  /** Lines the refusals of {@link #unknownIds} add to the log: one a minute per client. */
  readonly #limitLogBudget: LogBudget;
  /** Lines a client's refused offers may add to the log. */
  readonly #logBudget: LogBudget;
  /**
   * Exchanges a sender's address may have logged (offer, accept and end lines): 200, then 20 a
   * second (a script running `sfx send` after `sfx send` makes about 12). Two connections offering
   * and rejecting in a loop wrote 4,400 lines a second, 2.3 KB each with the reason, and rotated the
   * log away in 11 s. What goes beyond is summed up ({@link #unlogged}).
   */
  readonly #exchangeLines: LogBudget;
  /**
   * Per sender address, the exchanges that ended unlogged since its last summary: said with its
   * next logged offer, or a minute after the first of them, whichever comes first, so that none
   * goes uncounted (the last of a burst included).
   */
  readonly #unlogged = new Map<object, { address: string; exchanges: number; done: number; bytes: number; timer: ReturnType<typeof setTimeout> }>();
  readonly #active = new Set<Exchange>();
  #serial = 0;
  /** Receiver-side exchange ids, per receiver (monotonic, so late data of an old exchange never matches). */
  #nextXid = new WeakMap<ExchangePeer, number>();
  /** Offers waiting while the client their receiver exchanges with is asked for a word: the sender's xid, by sender. */
  readonly #held = new Map<ExchangePeer, number>();
  /** Clients of an exchange being asked for a word because an offer waits for their partner (resolving whether it was let go): one check at a time each. */
  readonly #checks = new Map<ExchangePeer, Promise<boolean>>();
  /** When each such client was last asked, and answered. */
  readonly #lastCheck = new WeakMap<ExchangePeer, number>();
  /**
   * Pulls passed on to a sender that has not offered (or refused) since: by whom, under which of
   * its xids, with which session id, and when; `left` once that receiver is gone (see {@link pull}).
   */
  readonly #pulls = new Map<ExchangePeer, { by: ExchangePeer; xid: number; sid: string; at: number; left: boolean }>();
  #closed = false;

  constructor(opts: PairingOptions) {
    this.limits = { ...DEFAULT_PAIRING_LIMITS, ...opts.limits };
    this.#log = opts.log ?? SILENT_LOG;
    this.#lookup = opts.lookup;
    this.#now = opts.now ?? Date.now;
    this.#logBudget = new LogBudget({ now: this.#now });
    this.#exchangeLines = new LogBudget({ burst: 200, perMinute: 1200, now: this.#now });
    this.#limitLogBudget = new LogBudget({ burst: 1, perMinute: 1, now: this.#now });
    this.#unknownIds = new LookupLimiter({
      burst: UNKNOWN_ID_BURST,
      perMinute: UNKNOWN_IDS_PER_MINUTE,
      now: this.#now,
      refusal: "Too many offers to IDs that are not connected",
    });
  }

  /** Exchanges not yet finished. */
  get active(): number {
    return this.#active.size;
  }

  /** Bytes relayed since the start: those of the exchanges that ended, and so far of those under way. */
  get relayedBytes(): number {
    let bytes = this.#relayedEnded;
    for (const ex of this.#active) bytes += ex.bytes;
    return bytes;
  }

  /**
   * A sender offers files to a receiver's ID. To a client receiving in
   * another exchange, the offer waits while the client sending to it is asked
   * for a word: one round trip when it answers, and the offer is refused as busy.
   * One that says nothing is asked every second until nothing has been heard
   * from it for {@link GONE_AFTER_SILENT_MS}; then it is disconnected, the
   * exchange ends, and the offer goes on. That is the same send run again
   * after `kill -9`, which would otherwise be refused until the server
   * notices the silence (20 s).
   */
  offer(sender: ExchangePeer, msg: Msg<typeof Offer>, checked: false | "answered" | "released" = false): void {
    const xid = msg.xid;
    const fail = (code: ErrorCode, text: string) => this.#refuse(sender, "Offer", xid, code, text);
    // Its last exchange failed on its side and is still delivering what it sent (see error()): the
    // sender has moved on (`sfx client`), so that exchange ends now, with what has arrived.
    if (sender.exchange?.failing && sender.exchange.sender.peer === sender) this.#relaySenderFailure(sender.exchange);
    const own = sender.exchange;
    if (own && own.receiver.peer === sender) {
      // Receiving (an offer it may not have seen yet: two users sending to each other at the same
      // moment): busy, not a broken client.
      const partner = formatId(own.sender.peer.id);
      const why = own.sender.peer.id === msg.to
        ? `Client ${partner} is sending files to you right now; answer its offer first, or try again when that exchange ends`
        : `You are receiving files from client ${partner}; try again when that exchange ends, or cancel it`;
      return this.#sayBusy(sender, "Offer", xid, msg.to, why, `refused, it is receiving from ${partner}`);
    }
    if (own) return fail("SFX_PROTOCOL", "You are already in an exchange; finish or cancel it first");
    if (this.#held.has(sender)) return fail("SFX_PROTOCOL", "You already have an offer waiting for an answer; wait for it, or cancel it");
    if (msg.to === undefined) return fail("SFX_PROTOCOL", "An offer needs the receiver's ID in 'to'");
    // Its answer to a pull (or another offer): the next receiver may pull. Offered to the receiver
    // that pulled and has left since, it is no guess of an ID.
    const answers = this.#pulls.get(sender)?.by.id === msg.to;
    this.#pulls.delete(sender);
    const address = this.#mayLookUp(sender, "Offers", xid);
    if (address === undefined) return;
    const receiver = this.#lookup(msg.to);
    if (!receiver) {
      // Offered again after a check (see #hold): the receiver was there, and has gone; no guess.
      if (!checked && !answers) this.#unknownIds.fail(address);
      // "To this server": a receiver on another one (two answered discovery on a LAN) is the likely mix-up.
      return fail("SFX_UNKNOWN_ID", `No client with ID ${formatId(msg.to)} is connected to this server`);
    }
    if (receiver === sender) return fail("SFX_BAD_ARGUMENT", "You cannot send files to yourself");
    if (msg.files.length > this.limits.maxFilesPerOffer) {
      return fail("SFX_LIMIT", `${msg.files.length} files is more than this server's limit of ${this.limits.maxFilesPerOffer} per exchange`);
    }
    const big = msg.files.find((f) => f.size !== null && f.size > this.limits.maxFileSize);
    // The path may be 4 KiB: cut it, not the reason after it.
    if (big) return fail("SFX_LIMIT", `${fitText(big.path, 200)} (${formatBytes(big.size!)}) is larger than this server's limit of ${formatBytes(this.limits.maxFileSize)}`);
    if (receiver.exchange || this.#held.has(receiver)) {
      const ex = receiver.exchange;
      // Often the user's own: a sender killed mid-transfer, whose receiver is busy until the server
      // notices the silence. Asking costs a live client nothing; a killed one has said its last. Only
      // for a receiver: one that sends (often a one-shot `sfx send`) would take no offer once free.
      const partner = ex && ex.receiver.peer === receiver ? ex.sender.peer : undefined;
      const last = partner ? this.#lastCheck.get(partner) : undefined;
      if (partner && !checked && !(last !== undefined && this.#now() - last < ASK_AGAIN_MS)) return this.#hold(sender, msg, partner);
      const why = !ex
        ? "is waiting for the answer to an offer of its own"
        : checked === "released"
        ? "is busy in another exchange: the client it was exchanging with had gone and was let go, and another waiting offer reached it first"
        : `is busy in another exchange${this.#busyWhy(ex)}`;
      return this.#sayBusy(sender, "Offer", xid, receiver.id, `Client ${formatId(receiver.id)} ${why}; try again later`);
    }
    const rxid = this.#nextXid.get(receiver) ?? nextReceiverExchangeId(0);
    // Encoded before anything is registered: the receiver's copy names the sender, not itself,
    // and may not fit the message size limit the sender's did (then nobody is left busy).
    let forReceiver: Uint8Array;
    try {
      forReceiver = Offer.encode({
        xid: rxid,
        from: sender.id,
        files: msg.files,
        ...(msg.commit === undefined ? {} : { commit: msg.commit }),
        ...(msg.pake === undefined ? {} : { pake: msg.pake }),
        ...(msg.confirm === undefined ? {} : { confirm: msg.confirm }),
      });
    } catch (err) {
      return fail("SFX_LIMIT", `The offer's list of files is too large to pass on (${(err as Error).message}); send fewer files at once, or an archive`);
    }
    this.#nextXid.set(receiver, nextReceiverExchangeId(rxid));
    const ex = new Exchange(++this.#serial, { peer: sender, xid }, { peer: receiver, xid: rxid }, msg.files, this.#now(), this.#log);
    sender.exchange = ex;
    receiver.exchange = ex;
    this.#active.add(ex);
    this.stats.offers++;
    const unknown = msg.files.filter((f) => f.size === null).length;
    ex.logged = this.#exchangeLines.take(sender.logKey ?? sender) >= 0;
    if (ex.logged) {
      this.#sayUnlogged(sender.logKey ?? sender);
      this.#log.info(`Exchange #{serial}: offer from {from} to {to}: {files} file(s), {bytes} bytes${unknown ? " and {unknown} of unknown size" : ""}`, {
        serial: ex.serial, from: formatId(sender.id), to: formatId(receiver.id), files: msg.files.length, bytes: ex.announcedBytes, unknown,
      });
    }
    receiver.sendControl(forReceiver);
    ex.offerTimer = setTimeout(() => this.#offerTimedOut(ex), this.limits.offerTimeoutMs);
  }

  /** A client says it sends by its own code (`on`), or no longer does. */
  pullable(peer: ExchangePeer, msg: Msg<typeof Pullable>): void {
    peer.pullable = msg.on;
    if (!msg.on) this.#dropPull(peer, "stopped sending by its code");
  }

  /** Forgets the pull `sender` has to answer, if any: its receiver, still waiting, is told why at once (`sender` …). */
  #dropPull(sender: ExchangePeer, why: string): void {
    const p = this.#pulls.get(sender);
    this.#pulls.delete(sender);
    if (p && !p.left) p.by.sendControl(ErrorMessage.encode({ code: "SFX_TRANSFER_FAILED", message: `Client ${formatId(sender.id)} ${why} before it answered your pull`, xid: p.xid }));
  }

  /**
   * A receiver that typed a sender's code asks for its files: passed on to
   * the sender, which answers with its CPace share (`pull.share`), takes the
   * receiver's proof (`pull.proof`), and then offers its files, or refuses
   * (`pull.refused`); the server relays these between the two, knowing the
   * ID, never the code's digits. Refused, under the pull's xid,
   * when no client of that ID sends by its code (counted as a guessed ID, as
   * offers to unknown IDs are), and as busy when the sender is in an
   * exchange or has a pull to answer still: one receiver at a time tries
   * its code.
   */
  pull(receiver: ExchangePeer, msg: Msg<typeof Pull>): void {
    const xid = msg.xid;
    const fail = (code: ErrorCode, text: string) => this.#refuse(receiver, "Pull", xid, code, text);
    if (xid === undefined || msg.to === undefined) return fail("SFX_PROTOCOL", "A pull needs its 'xid' and the sender's ID in 'to'");
    // Answering an offer (another client's, which a fetching receiver refuses), or offering: not now.
    if (receiver.exchange || this.#held.has(receiver)) {
      return this.#sayBusy(receiver, "Pull", xid, msg.to, "You are in another exchange (an offer to you is being answered, or one of yours); try again when it ends");
    }
    const address = this.#mayLookUp(receiver, "Pulls", xid);
    if (address === undefined) return;
    const sender = this.#lookup(msg.to);
    if (!sender?.pullable) {
      // Looking for clients that send by code is guessing IDs too.
      this.#unknownIds.fail(address);
      const id = formatId(msg.to);
      return fail("SFX_UNKNOWN_ID", sender
        ? `Client ${id} is not sending by a code (its sfx send ended, or was given a receiver): is this the code 'sfx send' shows? The code 'sfx receive' shows is typed into 'sfx send --to'`
        : `No client with ID ${id} is connected to this server (its sfx send may have ended)`);
    }
    if (sender === receiver) return fail("SFX_BAD_ARGUMENT", "That is your own code: type it on the other machine");
    const pending = this.#pulls.get(sender);
    const answering = pending !== undefined && !pending.left && this.#now() - pending.at < PULL_ANSWER_MS;
    if (sender.exchange || this.#held.has(sender) || answering) {
      const id = formatId(sender.id);
      // It offers only to a receiver that proved the code: then the files are that receiver's.
      const why = sender.exchange?.receiver.peer === sender
        ? `Client ${id} is receiving files in another exchange right now; try again when it ends`
        : sender.exchange
        ? `Client ${id} is sending its files to another receiver, one that proved its code: ask its user whether they are meant for you`
        : `Client ${id} is answering another receiver's pull right now (one that typed its code too, or guessed); try again in a moment`;
      return this.#sayBusy(receiver, "Pull", xid, sender.id, why);
    }
    this.#pulls.set(sender, { by: receiver, xid, sid: msg.sid, at: this.#now(), left: false });
    if (this.#logBudget.take(receiver.logKey ?? receiver) >= 0) this.#log.info("Pull from {from} to {to}: passed on", { from: formatId(receiver.id), to: formatId(sender.id) });
    sender.sendControl(Pull.encode({ from: receiver.id, pake: msg.pake, sid: msg.sid }));
  }

  /** Refuses `peer`'s offer or pull (`what`) with an error under its xid, said in the log within the peer's budget. */
  #refuse(peer: ExchangePeer, what: "Offer" | "Pull", xid: number | undefined, code: ErrorCode, text: string): void {
    const message = fitText(text);
    const held = this.#logBudget.take(peer.logKey ?? peer);
    if (held >= 0) {
      const more = held > 0 ? ` (and ${held} more refusals not logged)` : "";
      // Its address too: an admin looking into refusals (a client guessing IDs) needs it on the line.
      this.#log.info(`${what} from {from} refused: {code}: {message}${more}`, { from: peer.label ?? formatId(peer.id), code, message });
    }
    peer.sendControl(ErrorMessage.encode({ code, message, ...(xid === undefined ? {} : { xid }) }));
  }

  /**
   * Says `busy` to `peer`'s offer or pull, in the log within its budget (a client offering to a
   * busy receiver in a loop would fill it); `logged`: what the log line says after the IDs.
   */
  #sayBusy(peer: ExchangePeer, what: "Offer" | "Pull", xid: number, to: string | undefined, message: string, logged = "busy"): void {
    const held = this.#logBudget.take(peer.logKey ?? peer);
    if (held >= 0) {
      this.#log.info(`${what} from {from} to {to}: ${logged}${held > 0 ? ` (and ${held} more refusals not logged)` : ""}`, {
        from: formatId(peer.id), to: to === undefined ? "?" : formatId(to),
      });
    }
    peer.sendControl(Busy.encode({ xid, message }));
  }

  /**
   * The address key of `peer`, which may look one more ID up (offers and pulls to IDs nobody holds
   * are limited per address); undefined, and `peer` refused with SFX_LIMIT, when it may not. A
   * client guessing IDs would fill the log: one line a minute per client.
   */
  #mayLookUp(peer: ExchangePeer, what: "Offers" | "Pulls", xid: number): string | undefined {
    const address = addressKey(peer.association.remote.address);
    try {
      this.#unknownIds.check(address);
      return address;
    } catch (err) {
      const message = (err as Error).message;
      if (this.#limitLogBudget.take(peer.logKey ?? peer) >= 0) this.#log.warn(`${what} from {from} ({address}) refused for a while: {message}`, { from: formatId(peer.id), address, message });
      peer.sendControl(ErrorMessage.encode({ code: "SFX_LIMIT", message, xid }));
      return undefined;
    }
  }

  /**
   * The pull `sender` answers, if it is the one it holds (from client `to`, with session id `sid`:
   * an answer to an earlier pull of the same receiver is not this one's) and that receiver is
   * still there.
   */
  #pullOf(sender: ExchangePeer, to: string | undefined, sid: string): { by: ExchangePeer; xid: number } | undefined {
    const p = this.#pulls.get(sender);
    return p && !p.left && p.by.id === to && p.sid === sid ? p : undefined;
  }

  /** The sender's CPace share, to the receiver whose pull it answers. */
  pullShare(sender: ExchangePeer, msg: Msg<typeof PullShare>): void {
    const p = this.#pullOf(sender, msg.to, msg.sid);
    if (!p) return this.#stale(sender, "pull.share", 0);
    p.by.sendControl(PullShare.encode({ xid: p.xid, sid: msg.sid, pake: msg.pake }));
  }

  /** The receiver's CPace tag, to the sender its pull went to, with the pull's session id. */
  pullProof(receiver: ExchangePeer, msg: Msg<typeof PullProof>): void {
    for (const [sender, p] of this.#pulls) {
      if (p.by !== receiver || p.xid !== msg.xid || p.left) continue;
      sender.sendControl(PullProof.encode({ from: receiver.id, sid: p.sid, confirm: msg.confirm }));
      return;
    }
    this.#stale(receiver, "pull.proof", msg.xid ?? 0);
  }

  /** The sender refuses a pull (a wrong proof, none in time): the receiver hears it as an error with the sender's code; the next may pull. */
  pullRefused(sender: ExchangePeer, msg: Msg<typeof PullRefused>): void {
    const p = this.#pullOf(sender, msg.to, msg.sid);
    if (!p) return this.#stale(sender, "pull.refused", 0);
    this.#pulls.delete(sender);
    // A wrong code is a guess, or a typo: the admin sees them (within the receiver's budget: a guesser would fill the log).
    if (this.#logBudget.take(p.by.logKey ?? p.by) >= 0) {
      this.#log.info("Pull from {from} to {to}: refused by the sender ({code})", { from: p.by.label ?? formatId(p.by.id), to: formatId(sender.id), code: msg.code });
    }
    p.by.sendControl(ErrorMessage.encode({ code: msg.code, message: fitText(msg.reason), xid: p.xid }));
  }

  /** What a busy refusal says of `ex` beyond "busy": for how long nothing has moved in it (the receiver's partner answered when asked). */
  #busyWhy(ex: Exchange): string {
    // An offer (or an answer) is movement too: a receiver deciding is not still.
    const still = Math.floor((this.#now() - (ex.state === "streaming" ? ex.movedAt : ex.offeredAt)) / 1000);
    if (still < STILL_EXCHANGE_S) return "";
    const ms = this.limits.idleTimeoutMs;
    const idle = ms >= 120_000 && ms % 60_000 === 0 ? `${ms / 60_000} minutes` : `${Math.round(ms / 1000)} s`;
    return `; nothing has moved in it for ${still} s, but the client it is exchanging with answered the server just now (it ends when they finish or cancel it, or after ${idle} with nothing moving)`;
  }

  /** Holds `sender`'s offer while `partner`, the client its receiver exchanges with, is asked for a word; then offers again, once. */
  #hold(sender: ExchangePeer, msg: Msg<typeof Offer>, partner: ExchangePeer): void {
    this.#held.set(sender, msg.xid);
    if (this.#logBudget.take(sender.logKey ?? sender) >= 0) {
      this.#log.debug("Offer from {from} to {to} waits: asking {partner}, in an exchange with it, for a word", {
        from: formatId(sender.id), to: msg.to === undefined ? "" : formatId(msg.to), partner: formatId(partner.id),
      });
    }
    let check = this.#checks.get(partner);
    if (!check) {
      check = this.#checkPartner(partner);
      this.#checks.set(partner, check);
    }
    void check.then((released) => {
      // Cancelled, or gone, meanwhile (a later offer of the same sender is refused while this one waits).
      if (this.#held.get(sender) !== msg.xid) return;
      this.#held.delete(sender);
      if (!this.#closed) this.offer(sender, msg, released ? "released" : "answered");
    });
  }

  /**
   * Asks `partner`, sending to a client an offer waits for, for a word
   * ({@link stillThere}), and resolves whether it was let go: silent until
   * nothing has been heard from it for {@link GONE_AFTER_SILENT_MS}, it is
   * gone, and disconnected (its exchange ends in {@link gone}). The client the offer is for is not asked: were it silent,
   * ending its exchange would not bring the offer through. An offer to a
   * client that is itself sending asks nobody: once free, that client (often
   * a one-shot `sfx send`) would take no offer.
   */
  async #checkPartner(partner: ExchangePeer): Promise<boolean> {
    const a = partner.association;
    const answered = await stillThere(a);
    this.#checks.delete(partner);
    if (this.#closed) return false;
    if (answered) {
      this.#lastCheck.set(partner, this.#now());
      return false;
    }
    const ex = partner.exchange;
    if (!ex) return false;
    const silent = Math.round((a.silentForMs ?? GONE_AFTER_SILENT_MS) / 1000);
    this.#log.warn("Exchange #{serial}: nothing heard from the {side} {id} for {silent} s, asked every second: disconnecting it, as another offer waits for its exchange to end", {
      serial: ex.serial, side: partner === ex.sender.peer ? "sender" : "receiver", id: formatId(partner.id), silent,
    });
    a.abort(NO_ANSWER);
    return true;
  }

  #offerTimedOut(ex: Exchange): void {
    if (ex.state !== "offered") return;
    const seconds = Math.round(this.limits.offerTimeoutMs / 100) / 10;
    ex.sender.peer.sendControl(ErrorMessage.encode({
      code: "SFX_OFFER_TIMEOUT",
      message: `Client ${formatId(ex.receiver.peer.id)} did not answer the offer within ${seconds} s`,
      xid: ex.sender.xid,
    }));
    ex.receiver.peer.sendControl(Cancel.encode({ xid: ex.receiver.xid, reason: `The offer expired after ${seconds} s` }));
    this.#finish(ex, "failed", "SFX_OFFER_TIMEOUT");
  }

  /** The receiver accepts: both sides are told to start. */
  accept(peer: ExchangePeer, msg: Msg<typeof Accept>): void {
    const ex = this.#current(peer, msg.xid, "receiver");
    if (!ex || ex.state !== "offered") return this.#stale(peer, "accept", msg.xid);
    // Files the receiver resumes: each once, of known size, from within it.
    const resume = msg.resume ?? [];
    const seen = new Set<number>();
    for (const r of resume) {
      const size = ex.files[r.file]?.size;
      if (size === undefined || size === null || r.offset > size || seen.has(r.file)) {
        clearTimeout(ex.offerTimer);
        return this.#protocolFailure(ex, peer, `accept resumes file ${r.file} from byte ${r.offset}, which it cannot`);
      }
      seen.add(r.file);
    }
    clearTimeout(ex.offerTimer);
    // A resumed file's count starts at the bytes the receiver has: its 'end' gives the whole size.
    for (const r of resume) ex.fileBytes[r.file] = r.offset;
    ex.setState("accepted");
    ex.relay = new Relay(ex.sender.peer.association, ex.receiver.peer.association);
    ex.setState("streaming");
    ex.streamingAt = this.#now();
    ex.movedAt = ex.streamingAt;
    this.#watchStalls();
    const resumed = resume.reduce((n, r) => n + r.offset, 0);
    // Reading (hashing) the kept bytes may take a while, not for ever: all of them at 1 MB/s at least.
    ex.resumed = seen;
    ex.resumingUntil = this.#now() + this.limits.idleTimeoutMs + resumed / MIN_RESUME_READ_BYTES_PER_MS;
    if (ex.logged) {
      this.#log.info(`Exchange #{serial}: {to} accepted; streaming {files} file(s) from {from}${resume.length ? " (resuming {resumedFiles}, {resumedBytes} bytes already there)" : ""}`, {
        serial: ex.serial, from: formatId(ex.sender.peer.id), to: formatId(ex.receiver.peer.id), files: ex.files.length, resumedFiles: resume.length, resumedBytes: resumed,
      });
    }
    // The sender's window opens before it hears 'start' (the window update goes out first).
    ex.sender.peer.sending?.(true);
    ex.receiver.peer.receiving?.(true);
    ex.receiver.peer.sendControl(Start.encode({ xid: ex.receiver.xid }));
    ex.sender.peer.sendControl(Start.encode({
      xid: ex.sender.xid,
      ...(resume.length ? { resume } : {}),
      ...(msg.key === undefined ? {} : { key: msg.key }),
      ...(msg.pake === undefined ? {} : { pake: msg.pake }),
      ...(msg.confirm === undefined ? {} : { confirm: msg.confirm }),
    }));
  }

  /** The sender's key for the exchange (once, after 'start'): passed on to the receiver, which checks it. */
  key(peer: ExchangePeer, msg: Msg<typeof Key>): void {
    const ex = this.#current(peer, msg.xid, "sender");
    if (!ex || ex.state !== "streaming" || ex.failing) return this.#stale(peer, "key", msg.xid);
    if (ex.keyed) return this.#protocolFailure(ex, peer, "a second 'key'");
    ex.keyed = true;
    ex.movedAt = this.#now();
    ex.receiver.peer.sendControl(Key.encode({ ...msg, xid: ex.receiver.xid }));
  }

  /** The receiver says no. */
  reject(peer: ExchangePeer, msg: Msg<typeof Reject>): void {
    const ex = this.#current(peer, msg.xid, "receiver");
    if (!ex || ex.state !== "offered") return this.#stale(peer, "reject", msg.xid);
    this.#notifyAndFinish(ex, "rejected", "SFX_REJECTED", msg.reason, () => {
      ex.sender.peer.sendControl(Reject.encode({ xid: ex.sender.xid, reason: msg.reason }));
    });
  }

  /** A file's end (sender → receiver). */
  end(peer: ExchangePeer, msg: Msg<typeof End>): void {
    const ex = this.#current(peer, msg.xid, "sender");
    if (!ex || ex.state !== "streaming" || ex.failing) return this.#stale(peer, "end", msg.xid);
    if (msg.file >= ex.files.length) return this.#protocolFailure(ex, peer, `'end' for file ${msg.file} of ${ex.files.length}`);
    if (ex.ended.has(msg.file) || ex.senderDone) return this.#protocolFailure(ex, peer, `a second 'end' for file ${msg.file}, or one after 'done'`);
    if (msg.size > this.limits.maxFileSize) return this.#protocolFailure(ex, peer, `'end' for file ${msg.file} gives ${msg.size} bytes, past this server's limit`);
    // What it owes: the offered size (a different one in 'end' is the receiver's to refuse), else the end's.
    ex.ended.set(msg.file, ex.files[msg.file].size ?? msg.size);
    ex.movedAt = this.#now();
    ex.receiver.peer.sendControl(End.encode({ ...msg, xid: ex.receiver.xid }));
  }

  /** Either side reads (hashes) a resumed file's kept bytes: the exchange moves; the other side is told. */
  resuming(peer: ExchangePeer, msg: Msg<typeof Resuming>): void {
    const ex = peer.exchange;
    if (!ex || ex.state !== "streaming" || ex.partyOf(peer)?.xid !== msg.xid) return this.#stale(peer, "resuming", msg.xid);
    if (msg.file >= ex.files.length) return this.#protocolFailure(ex, peer, `'resuming' for file ${msg.file} of ${ex.files.length}`);
    // Only of a file the accept resumed, for as long as reading its kept bytes may take: it is not
    // a way to keep an exchange alive without moving bytes.
    const now = this.#now();
    if (!ex.resumed.has(msg.file) || now > ex.resumingUntil) return this.#stale(peer, "resuming", msg.xid);
    ex.movedAt = now;
    // Clients say it once a period; more often is kept from the other side, whose control stream it would fill.
    const side = peer === ex.sender.peer ? "sender" : "receiver";
    if (now - ex.resumingRelayedAt[side] < resumingEveryMs(this.limits.idleTimeoutMs) / 2) return;
    ex.resumingRelayedAt[side] = now;
    const other = ex.other(peer);
    other.peer.sendControl(Resuming.encode({ ...msg, xid: other.xid }));
  }

  /** Done: from the sender, forwarded; from the receiver, after the sender's, the exchange succeeded. */
  done(peer: ExchangePeer, msg: Msg<typeof Done>): void {
    const ex = peer.exchange;
    if (!ex || ex.state !== "streaming" || ex.failing || ex.partyOf(peer)?.xid !== msg.xid) return this.#stale(peer, "done", msg.xid);
    if (peer === ex.sender.peer) {
      if (ex.senderDone) return this.#protocolFailure(ex, peer, "a second 'done'");
      ex.senderDone = true;
    } else if (!ex.senderDone) {
      return this.#protocolFailure(ex, peer, "'done' before the sender's");
    }
    const other = ex.other(peer);
    ex.movedAt = this.#now();
    other.peer.sendControl(Done.encode({ ...msg, xid: other.xid }));
    if (peer === ex.receiver.peer) this.#finish(ex, "done", "ok");
  }

  /** Either side cancels. */
  cancel(peer: ExchangePeer, msg: { xid: number; reason?: string }): void {
    // An offer that waits (see #hold) is withdrawn: nobody else heard of it.
    if (this.#held.get(peer) === msg.xid) {
      this.#held.delete(peer);
      return;
    }
    const ex = peer.exchange;
    if (!ex || ex.partyOf(peer)?.xid !== msg.xid) return this.#stale(peer, "cancel", msg.xid);
    const other = ex.other(peer);
    const who = peer === ex.sender.peer ? "sender" : "receiver";
    // sfx's own reasons say who already ("cancelled by the sender"): not said twice in the log.
    const detail = !msg.reason ? `by the ${who}` : msg.reason.includes(`by the ${who}`) ? msg.reason : `by the ${who}: ${msg.reason}`;
    this.#notifyAndFinish(ex, "cancelled", "SFX_CANCELLED", detail, () => {
      other.peer.sendControl(Cancel.encode({ xid: other.xid, reason: msg.reason ?? `The ${who} cancelled` }));
    });
  }

  /** Either side reports a failure of the exchange (e.g. the receiver's disk is full), under a code of {@link PEER_FAILURE_CODES}. */
  error(peer: ExchangePeer, msg: { code: string; message: string; xid?: number }): boolean {
    const ex = peer.exchange;
    if (msg.xid === undefined || !ex || ex.partyOf(peer)?.xid !== msg.xid) return false;
    const other = ex.other(peer);
    const own = PEER_FAILURE_CODES.has(msg.code);
    const code = own ? msg.code : "SFX_TRANSFER_FAILED";
    const message = own ? msg.message : `The ${peer === ex.sender.peer ? "sender" : "receiver"} reported: ${msg.message}`.slice(0, 1000);
    if (peer === ex.sender.peer && ex.state === "streaming") {
      if (ex.failing) return true;
      ex.failing = { code, message };
      // The files it ended are whole at its side: their bytes, still on their way, go first.
      if (ex.owesBytes()) {
        ex.movedAt = this.#now();
        this.#log.debug("Exchange #{serial}: the sender failed; relaying what it sent of the files it ended first", { serial: ex.serial });
        // Quiet is counted from the last byte relayed, or the last moment the relay waited for a
        // slow receiver to drain (bytes are still owed then, and the receiver is taking them).
        const grace = Math.min(SENDER_FAILURE_GRACE_MS, this.limits.idleTimeoutMs / 4);
        let waitedForReceiver = 0;
        ex.failingTimer = setInterval(() => {
          const now = this.#now();
          if (ex.relay?.paused) waitedForReceiver = now;
          else if (now - Math.max(ex.movedAt, waitedForReceiver) >= grace) this.#relaySenderFailure(ex);
        }, grace / 2);
        return true;
      }
      this.#relaySenderFailure(ex);
      return true;
    }
    this.#notifyAndFinish(ex, "failed", code, message, () => {
      other.peer.sendControl(ErrorMessage.encode({ code, message, xid: other.xid }));
    });
    return true;
  }

  /** Tells the receiver of the sender's own failure (held by {@link error} until its ended files were relayed), and ends the exchange. */
  #relaySenderFailure(ex: Exchange): void {
    const { code, message } = ex.failing!;
    this.#notifyAndFinish(ex, "failed", code, message, () => {
      ex.receiver.peer.sendControl(ErrorMessage.encode({ code, message, xid: ex.receiver.xid }));
    });
  }

  /**
   * A data-stream message from a client. Relayed when it is the sender of a
   * streaming exchange and the PPID names that exchange. Returns false when
   * it is not the exchange's: a share upload the same client runs meanwhile
   * may want it (its tag differs: see nextExchangeId).
   */
  data(peer: ExchangePeer, streamId: number, data: Uint8Array, ppid: number): boolean {
    const ex = peer.exchange;
    if (!ex || ex.sender.peer !== peer) return false;
    const { tag, fileIndex } = parseDataPpid(ppid);
    if (tag !== xidTag(ex.sender.xid)) return false;
    if (ex.state !== "streaming") {
      this.stats.droppedData++;
      return true;
    }
    if (fileIndex < 0 || fileIndex >= ex.files.length) {
      this.#protocolFailure(ex, peer, `data for file ${fileIndex} of ${ex.files.length}`);
      return true;
    }
    const count = ex.fileBytes[fileIndex] + data.length;
    const limit = ex.files[fileIndex].size ?? this.limits.maxFileSize;
    if (count > limit) {
      const file = ex.files[fileIndex];
      const code = file.size === null ? "SFX_LIMIT" : "SFX_PROTOCOL";
      const message = file.size === null
        ? `${file.path} grew past this server's limit of ${formatBytes(this.limits.maxFileSize)}`
        : `${file.path}: more bytes than the ${file.size} announced`;
      this.#failBoth(ex, code, message);
      return true;
    }
    ex.fileBytes[fileIndex] = count;
    ex.bytes += data.length;
    ex.movedAt = this.#now();
    ex.relay!.forward(streamId, data, retagPpid(ppid, ex.receiver.xid));
    if (ex.failing && !ex.owesBytes()) this.#relaySenderFailure(ex);
    return true;
  }

  #stallTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * While exchanges stream, looks every few seconds for one where nothing
   * has moved for the idle timeout: a sender that stopped sending, or a
   * receiver that accepted and reads nothing, would otherwise hold the other
   * side busy for ever. That exchange fails; both sides are told.
   */
  #watchStalls(): void {
    if (this.#stallTimer) return;
    const every = Math.max(50, Math.min(10_000, this.limits.idleTimeoutMs / 4));
    this.#stallTimer = setInterval(() => {
      const now = this.#now();
      for (const ex of [...this.#active]) {
        if (ex.state !== "streaming" || now - ex.movedAt < this.limits.idleTimeoutMs) continue;
        // A sender that failed, then stopped short of the bytes it owed: the receiver hears its failure.
        if (ex.failing) {
          this.#relaySenderFailure(ex);
          continue;
        }
        // The timeout, not the time since (up to a quarter more, as looked every quarter): the rule the admin set.
        const seconds = Number((this.limits.idleTimeoutMs / 1000).toFixed(1));
        if (ex.logged) this.#log.warn("Exchange #{serial} stalled: nothing moved for {seconds} s", { serial: ex.serial, seconds });
        this.#failBoth(ex, "SFX_TRANSFER_FAILED", `Nothing moved for ${seconds} s: the exchange was ended (is the other side still there?)`);
      }
    }, every);
    (this.#stallTimer as { unref?: () => void }).unref?.();
  }

  #stopWatchingStalls(): void {
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** A client's association closed: its exchange fails and the other side is told. */
  gone(peer: ExchangePeer, reason: CloseReason): void {
    this.#held.delete(peer);
    // A sender gone with a pull to answer: its receiver is told at once, not after its wait.
    this.#dropPull(peer, "left");
    // Its pull no longer holds the sender: the next receiver may pull.
    for (const p of this.#pulls.values()) if (p.by === peer) p.left = true;
    const ex = peer.exchange;
    if (!ex) return;
    // A sender that failed, then left: what it sent arrived before its close; the receiver hears why it failed.
    if (ex.failing && peer === ex.sender.peer) return this.#relaySenderFailure(ex);
    const other = ex.other(peer);
    const who = peer === ex.sender.peer ? "sender" : "receiver";
    // Its SCTP stack gave up on the server ("no answer from you to …": words for the server, not for
    // the other side): it lost its connection to the server.
    const lost = reason.kind === "peer-abort" && /^(no answer from you|nothing heard from you)/.test(reason.peerReason ?? "");
    // Disconnected by the server's check (see #checkPartner): it said nothing when asked.
    const unanswered = reason.kind === "abort" && reason.message === NO_ANSWER;
    const how = lost
      ? "lost its connection to the server"
      : reason.kind === "shutdown" ? "closed its connection" : reason.kind === "timeout" || unanswered ? "stopped responding" : "disconnected";
    const cancelled = /cancel/i.test(reason.peerReason ?? reason.message ?? "");
    const code = cancelled ? "SFX_CANCELLED" : "SFX_TRANSFER_FAILED";
    // A client that aborted gave its reason ("the sender failed: …"): the other side reads it.
    // The reason is the client's own ABORT text, of any length: cut to what a message carries.
    const said = reason.kind === "peer-abort" && reason.peerReason && !cancelled && !lost ? `: ${fitText(reason.peerReason, 300)}` : "";
    // Either stack's words when the path stopped carrying the packet size in use (a smaller MTU on
    // the way, its ICMP filtered): the one thing the other side could not guess from "stopped responding".
    const shrank = /packet size shrank/.test(`${reason.message ?? ""} ${reason.peerReason ?? ""}`)
      ? " (the path between it and the server stopped carrying the packet size in use)"
      : "";
    const message = cancelled
      ? `The ${who} (${formatId(peer.id)}) cancelled`
      : `The ${who} (${formatId(peer.id)}) ${how}${ex.state === "offered" ? " before the offer was answered" : " during the transfer"}${shrank}${said}`;
    this.#notifyAndFinish(ex, cancelled ? "cancelled" : "failed", code, message, () => {
      if (ex.state === "offered" && peer === ex.sender.peer) {
        other.peer.sendControl(Cancel.encode({ xid: other.xid, reason: message }));
      } else {
        other.peer.sendControl(ErrorMessage.encode({ code, message, xid: other.xid }));
      }
    });
  }

  /** An exchange over its address's log budget ended: counted towards the address's summary. */
  #countUnlogged(ex: Exchange, state: ExchangeState): void {
    const key = ex.sender.peer.logKey ?? ex.sender.peer;
    let u = this.#unlogged.get(key);
    if (!u) {
      const timer = setTimeout(() => this.#sayUnlogged(key), 60_000);
      (timer as { unref?: () => void }).unref?.();
      u = { address: ex.sender.peer.association.remote.address, exchanges: 0, done: 0, bytes: 0, timer };
      this.#unlogged.set(key, u);
    }
    u.exchanges++;
    if (state === "done") u.done++;
    u.bytes += ex.bytes;
  }

  /** Logs (and forgets) the summary of `key`'s unlogged exchanges, if any. */
  #sayUnlogged(key: object): void {
    const u = this.#unlogged.get(key);
    if (!u) return;
    this.#unlogged.delete(key);
    clearTimeout(u.timer);
    this.#log.info("Exchanges from {address} not logged one by one (over its share of the log): {exchanges}, {done} of them done, {bytes} bytes relayed", {
      address: u.address, exchanges: u.exchanges, done: u.done, bytes: u.bytes,
    });
  }

  /** Ends every exchange (server shutdown). */
  closeAll(): void {
    this.#closed = true;
    this.#held.clear();
    this.#pulls.clear();
    this.#stopWatchingStalls();
    for (const ex of [...this.#active]) {
      for (const p of [ex.sender, ex.receiver]) {
        p.peer.sendControl(ErrorMessage.encode({ code: "SFX_CONNECTION_LOST", message: "The server is shutting down", xid: p.xid }));
      }
      this.#finish(ex, "failed", "SFX_CONNECTION_LOST", "server shutdown");
    }
    // What went unlogged is said before the log closes.
    for (const key of [...this.#unlogged.keys()]) this.#sayUnlogged(key);
  }

  #failBoth(ex: Exchange, code: string, text: string): void {
    const message = fitText(text);
    this.#notifyAndFinish(ex, "failed", code, message, () => {
      for (const p of [ex.sender, ex.receiver]) p.peer.sendControl(ErrorMessage.encode({ code, message, xid: p.xid }));
    });
  }

  /**
   * Tells the parties how the exchange ends, then ends it — even when the
   * notice fails (a message too long to encode): the other side must be free
   * to pair again.
   */
  #notifyAndFinish(ex: Exchange, state: ExchangeState, outcome: string, detail: string | undefined, notify: () => void): void {
    try {
      notify();
    } finally {
      this.#finish(ex, state, outcome, detail);
    }
  }

  #protocolFailure(ex: Exchange, peer: ExchangePeer, what: string): void {
    // Within the exchange's lines (a client can break its exchanges in a loop): all of them or none.
    if (ex.logged) this.#log.warn("Exchange #{serial}: protocol error from {id}: {what}", { serial: ex.serial, id: formatId(peer.id), what });
    this.#failBoth(ex, "SFX_PROTOCOL", `Protocol error: ${what}`);
  }

  #current(peer: ExchangePeer, xid: number, role: "sender" | "receiver"): Exchange | undefined {
    const ex = peer.exchange;
    if (!ex) return undefined;
    const party = role === "sender" ? ex.sender : ex.receiver;
    return party.peer === peer && party.xid === xid ? ex : undefined;
  }

  #stale(peer: ExchangePeer, what: string, xid: number): void {
    // Late answers to an exchange that already ended (a timeout crossed an accept): harmless.
    this.#log.debug("Ignored '{what}' for exchange {xid} from {id}: not current", { what, xid, id: formatId(peer.id) });
  }

  #finish(ex: Exchange, state: ExchangeState, outcome: string, detail?: string): void {
    if (ex.finished) return;
    clearTimeout(ex.offerTimer);
    clearInterval(ex.failingTimer);
    const streamed = ex.state === "streaming";
    // Ended, and nobody's, before the relay lets the sender go: resuming it hands over the data it
    // held at once, and what that data sets off (the sender's failure, waiting for those bytes)
    // must find the exchange ended, not end it a second time.
    ex.setState(state, detail);
    ex.outcome = outcome;
    ex.endedAt = this.#now();
    if (ex.sender.peer.exchange === ex) ex.sender.peer.exchange = null;
    if (ex.receiver.peer.exchange === ex) ex.receiver.peer.exchange = null;
    this.#active.delete(ex);
    if (this.#active.size === 0) this.#stopWatchingStalls();
    ex.relay?.stop();
    // They were told they send and receive when the exchange started streaming (accept); #finish runs once.
    if (streamed) {
      ex.sender.peer.sending?.(false);
      ex.receiver.peer.receiving?.(false);
    }
    this.stats[state as "done" | "rejected" | "cancelled" | "failed"]++;
    this.#relayedEnded += ex.bytes;
    const duration = ex.streamingAt ? (ex.endedAt - ex.streamingAt) / 1000 : 0;
    const rate = duration > 0 ? ex.bytes / duration / 1e6 : 0;
    const props = {
      serial: ex.serial, from: formatId(ex.sender.peer.id), to: formatId(ex.receiver.peer.id), state, outcome, files: ex.files.length,
      // A reason the client wrote (a reject's) may be 1 KB: the log keeps its start.
      bytes: ex.bytes, duration: duration.toFixed(3), rate: rate.toFixed(1), detail: fitText(detail ?? "", 200),
      pauses: ex.relay?.stats.pauses ?? 0, peakBuffered: ex.relay?.stats.peakBuffered ?? 0,
    };
    if (!ex.logged) return this.#countUnlogged(ex, state);
    const why = state !== "done" && detail ? "{outcome}: {detail}" : "{outcome}";
    this.#log.info(`Exchange #{serial} {from} -> {to} ended {state} (${why}): {files} file(s), {bytes} bytes in {duration} s, {rate} MB/s`, props);
  }
}
