/**
 * Receiving: wait for offers, ask (a callback decides: prompt, `--yes`, a
 * policy), and write each accepted file with {@link openSafeWrite} —
 * sanitized names under the target directory only, temporary file, SHA-256
 * verified, fsync, rename, never a silent overwrite. Bytes are counted per
 * file against the announced size (or the size in `end` for unknown sizes),
 * since SCTP does not order a file's `end` on stream 0 after its bytes.
 * When the disk lags, the association is paused so the sender slows down.
 *
 * @example
 * ```ts
 * const conn = await connect();
 * console.log(`Your ID: ${formatId(conn.id)}`);
 * const receiver = new Receiver(conn, { dir: ".", decide: async () => true });
 * await receiver.receiveOne();
 * ```
 *
 * @module
 */
import { printable } from "../protocol/schema.ts";
import { isSfxError, SfxError } from "../errors.ts";
import { parseDataPpid, xidTag } from "../protocol/data.ts";
import { Accept, Busy, Cancel, Done, End, ErrorMessage, errorFromMessage, fitText, Key, MAX_RESUMED_FILES, Offer, Pull, PullProof, PullShare, Reject, RESUME_MIN_BYTES, Resuming, resumingEveryMs, Start } from "../protocol/messages.ts";
import { type ExchangeCipher, ExchangeKeyPair } from "../protocol/exchange_crypto.ts";
import type { CpaceKeys } from "../protocol/cpace.ts";
import { CODE_REFUSAL, codeRun, ExchangeCode, parseSenderCode, pullRun } from "../protocol/exchange_code.ts";
import { randomBytes } from "node:crypto";
import { PULL_ANSWER_MS } from "../protocol/defaults.ts";
import type { AnyMessage } from "../protocol/registry.ts";
import type { ClientConnection } from "./connection.ts";
import { doneEvent, type EventSink, type OfferFileInfo, offeredBytes, type TransferEvent } from "./events.ts";
import { basename, dirname, resolve, sep } from "node:path";
import { realpathSync } from "node:fs";
import { stallLimitMs, watchStall } from "./stall.ts";
import { bytesOnDisk, listKeptParts, newDirectories, newSafeWriteCache, inodesInPassing, openSafeWrite, PART_SUFFIX, PATH_MAX_BYTES, pathInTheWay, pathTooLong, removeMadeDirectories, resumableBytes, roomFor, sanitizeRelativePath, type SafeWrite, type SafeWriteResult, syncDirectory } from "./safe_write.ts";
import { formatBytes } from "../units.ts";
import { formatId } from "../pairing/id_registry.ts";

/** An offer as the decision callback sees it. */
export interface IncomingOffer {
  /** The sender's ID. */
  from: string;
  files: OfferFileInfo[];
  /** Total bytes, null when a size is unknown. */
  bytes: number | null;
  /** Bytes of these files an interrupted transfer left here: accepted, only the rest is sent. */
  kept: number;
  /**
   * With a receive code: whether the offer claims to use it (true; checked before anything is kept,
   * so a sender that cannot prove it gets nothing), or gave the ID alone (false: then only
   * comparing the verification codes shows that no one is between you). Fetching by a sender's
   * code: true (the offer proved it). Absent without a code.
   */
  byCode?: boolean;
}

/** Options for {@link Receiver}. */
export interface ReceiveOptions {
  /** Files are written under this directory only. */
  dir: string;
  /** Replace existing files instead of writing `name (1).ext`. */
  overwrite?: boolean;
  /**
   * This receiver's code (see exchange_code.ts): offers that use it are keyed with its secret
   * digits, and must prove they hold them. Renewed after too many offers that do not (a `code`
   * event says the new one). Without it, an offer that uses a code is refused.
   */
  code?: ExchangeCode;
  /**
   * The sender whose code the user typed (see {@link receiveByCode}): its ID, and the keys of the
   * CPace run over the code that this end has proved. Only its offer is taken, and only when it
   * carries the sender's tag of that run; every other offer is refused.
   */
  sender?: { id: string; keys?: CpaceKeys };
  /** Accept (true), or reject (false, or a reason). Aborted by `signal` when the offer is withdrawn. */
  decide(offer: IncomingOffer, signal: AbortSignal): Promise<boolean | string>;
  onEvent?: EventSink;
  /** Pause the association while this many bytes wait for the disk; default 16 MiB. */
  maxPendingBytes?: number;
  /**
   * Once accepted, give up (SFX_TRANSFER_FAILED) when nothing arrives or is written for this long;
   * default {@link stallLimitMs} of the server's announced timeouts (10 min 10 s with its defaults).
   */
  stallMs?: number;
}

/** The result of one exchange, as the receiver saw it. */
export interface ReceivedExchange {
  from: string;
  accepted: boolean;
  files: SafeWriteResult[];
  bytes: number;
  seconds: number;
}

interface FileState {
  path: string;
  size: number | null;
  /** What an interrupted write of this file is kept under, to resume it (see {@link resumeKeyOf}); none for unknown sizes. */
  key: string | undefined;
  /** Bytes kept from an interrupted exchange that this one continues, else 0. */
  resumedFrom: number;
  received: number;
  writer: Promise<SafeWrite> | null;
  end: { size: number; sha256: string } | null;
  finished: boolean;
  /** True once the file holds a writer slot; until then its bytes wait in `queued`. */
  slotted: boolean;
  queued: number;
  /** Its key stream, from its first byte sent (see exchange_crypto.ts), once its first bytes come. */
  cipher?: { apply(data: Uint8Array): void };
}

/** How a receiver that typed a sender's code refuses other offers (and the CLI tells its refusals by). */
const FETCHING = "This receiver is fetching client";

/** Most messages held for offers no receiveOne has taken yet (the server relays one offer at a time). */
const MAX_BACKLOG = 64;

/**
 * How long a failure the sender reported waits for bytes to move, while a file it ended has
 * some still on their way (see `failAfterEndedFiles` in `receiveOne`); at most half the stall limit.
 */
const ENDED_FILES_GRACE_MS = 5000;

/**
 * Per connection, the offers no receiveOne has taken yet, each with what
 * followed it: held from the first Receiver on, for whichever Receiver asks
 * next. An offer can come right behind the previous exchange's `done`, while
 * that exchange still cleans up or before the caller asks for the next one;
 * the connection drops what nobody listens for, and the sender would wait
 * out its offer timeout for an answer.
 */
const backlogs = new WeakMap<ClientConnection, AnyMessage[]>();

function backlogOf(conn: ClientConnection): AnyMessage[] {
  let backlog = backlogs.get(conn);
  if (!backlog) {
    const held: AnyMessage[] = (backlog = []);
    backlogs.set(conn, held);
    conn.onMessage((m) => {
      const follows = Offer.is(m) || (m.xid !== undefined && held.some((o) => Offer.is(o) && o.xid === m.xid));
      if (follows && held.length < MAX_BACKLOG) held.push(m);
    });
  }
  return backlog;
}

/**
 * Handles offers on a connection, one exchange at a time. An offer that
 * comes while no {@link Receiver.receiveOne} waits is held for the next call,
 * of this Receiver or of another on the same connection.
 */
export class Receiver {
  readonly conn: ClientConnection;
  readonly opts: ReceiveOptions;
  readonly #backlog: AnyMessage[];

  constructor(conn: ClientConnection, opts: ReceiveOptions) {
    this.conn = conn;
    // Resolved once (`link/../x` is ./x), so that making the directory and writing into it agree.
    this.opts = { ...opts, dir: resolve(opts.dir) };
    this.#backlog = backlogOf(conn);
  }

  /** The oldest offer not yet taken, with the messages that followed it; removed from the backlog. */
  #takeOffer(): { offer: AnyMessage; after: AnyMessage[] } | undefined {
    const at = this.#backlog.findIndex((m) => Offer.is(m));
    if (at < 0) return undefined;
    const offer = this.#backlog[at];
    const after = this.#backlog.filter((m, i) => i > at && m.xid === offer.xid);
    for (let i = this.#backlog.length - 1; i >= at; i--) if (this.#backlog[i].xid === offer.xid) this.#backlog.splice(i, 1);
    return { offer, after };
  }

  /**
   * Waits for the next offer and handles it to the end. Resolves with the
   * outcome (rejected offers included); rejects with the exchange's error
   * (cancelled, failed, connection lost) after cleaning up. `signal` stops
   * waiting (SFX_CANCELLED) and cancels an exchange in progress.
   */
  async receiveOne(signal?: AbortSignal): Promise<ReceivedExchange> {
    let taken = this.#takeOffer();
    // The backlog's listener, added first, holds each offer by the time this resumes; another
    // Receiver of this connection, waiting too, may have taken it: then wait for the next.
    while (!taken) {
      await this.conn.waitFor((m) => Offer.is(m), { signal });
      taken = this.#takeOffer();
    }
    const { offer, after } = taken;
    if (!Offer.is(offer)) throw new SfxError("SFX_INTERNAL", "unreachable");
    // What followed the offer while it was held (a Cancel right behind it, its sender gone) is
    // handed over; #handle sets up its own listeners before it first waits, so nothing comes
    // between (the receiver had accepted and then waited out its stall limit, 10 minutes by default).
    return await this.#handle(offer as AnyMessage & ExchangeOffer, signal, after);
  }

  async #handle(
    offer: ExchangeOffer,
    signal?: AbortSignal,
    early: readonly AnyMessage[] = [],
  ): Promise<ReceivedExchange> {
    const conn = this.conn;
    const emit = this.opts.onEvent ?? (() => {});
    const xid = offer.xid;
    const from = offer.from ?? "unknown";
    const files: FileState[] = offer.files.map((f) => ({
      path: f.path, size: f.size, key: resumeKeyOf(f), resumedFrom: 0, received: 0, writer: null, end: null, finished: false, slotted: false, queued: 0,
    }));
    const bytes = offeredBytes(files);
    // Refuse hostile or duplicate names before asking anyone, or showing them:
    // a name may carry terminal escapes.
    const seen = new Set<string>();
    for (const f of files) {
      let why: string | undefined;
      try {
        const clean = sanitizeRelativePath(f.path);
        if (seen.has(clean)) why = `the offer names ${printable(clean)} twice`;
        seen.add(clean);
      } catch (err) {
        why = (err as Error).message;
      }
      if (why) {
        conn.send(Reject, { xid, reason: `Unsafe offer: ${why}`.slice(0, 1000) });
        emit({ event: "rejected", reason: `unsafe offer: ${why}`, from });
        return { from, accepted: false, files: [], bytes: 0, seconds: 0 };
      }
    }
    // Files are taken enciphered only: an offer without the sender's commitment to its key is
    // refused (from an older sfx, or stripped on the way so that the server could read the files).
    if (offer.commit === undefined) {
      conn.send(Reject, { xid, reason: "The offer carries no key, so its files could not be enciphered: this receiver takes none (both ends speak this protocol, so the key was removed on the way: by the server?)" });
      emit({ event: "rejected", reason: "the offer carries no key: its files could not be enciphered", from });
      return { from, accepted: false, files: [], bytes: 0, seconds: 0 };
    }
    const commit = offer.commit;
    // An offer that uses a code: the CPace run over its secret digits (ours, or those of the sender
    // whose code was typed), finished now (its tag goes with the accept).
    const receiveCode = this.opts.code;
    const fetching = this.opts.sender;
    let codeKeys: CpaceKeys | undefined;
    /** Our share of the run, which the accept carries beside our tag (a receiver's code only). */
    let codeShare: string | undefined;
    let why: string | undefined;
    if (fetching !== undefined) {
      // Fetching by a sender's code: that sender's offer only, with its tag, which proves the code.
      const sender = formatId(fetching.id);
      if (from !== fetching.id) why = `${FETCHING} ${sender}'s files (its code was typed here): it takes no other offer`;
      else if (!fetching.keys?.checkTag(offer.confirm)) why = `${FETCHING} ${sender}'s files by its code, and this offer does not prove it (both ends speak this protocol, so it was changed on the way: by the server?)`;
      else codeKeys = fetching.keys;
    } else if (offer.confirm !== undefined && offer.pake === undefined) {
      // Made for a fetch by the sender's code that has ended here (cancelled, or given up): nobody asked for it.
      why = `${CODE_REFUSAL} of a sender's: it is fetching no files (any more)`;
    } else if (offer.pake !== undefined) {
      if (receiveCode === undefined) why = CODE_REFUSAL;
      else if (receiveCode.closed) why = `${CODE_REFUSAL} any more: too many offers gave a wrong one`;
      else {
        const run = codeRun(receiveCode.secret, conn.id, commit, offer.files, "receiver");
        try {
          codeKeys = run.finish(offer.pake);
          codeShare = run.share;
        } catch (err) {
          why = `${CODE_REFUSAL} from this offer: ${(err as Error).message}`;
        }
      }
    }
    if (why !== undefined) {
      conn.send(Reject, { xid, reason: why });
      emit({ event: "rejected", reason: why, from });
      return { from, accepted: false, files: [], bytes: 0, seconds: 0 };
    }
    const byCode = receiveCode === undefined && fetching === undefined ? undefined : codeKeys !== undefined;
    const shown = offer.files.map((f) => ({ path: f.path, size: f.size }));
    emit({ event: "offer", from, files: shown, bytes, ...(byCode === undefined ? {} : { byCode }) });

    // The messages of this exchange, in arrival order, from now on: the offer may be withdrawn
    // (or Ctrl-C pressed) while we look at the disk, or while the user decides.
    const inbox: AnyMessage[] = [];
    let wake: (() => void) | undefined;
    /** Counts whatever moves the exchange on (messages, data, writes), for the stall watch. */
    let moves = 0;
    const onExchangeMessage = (m: AnyMessage) => {
      if (m.xid !== xid) return;
      moves++;
      inbox.push(m);
      wake?.();
    };
    const offMessages = conn.onMessage(onExchangeMessage);
    const withdrawn = new AbortController();
    const onOuterAbort = () => withdrawn.abort();
    signal?.addEventListener("abort", onOuterAbort, { once: true });
    if (signal?.aborted) withdrawn.abort();
    const onWithdrawal = (m: AnyMessage) => {
      if (m.xid === xid && (Cancel.is(m) || ErrorMessage.is(m))) withdrawn.abort();
    };
    const withdrawWatch = conn.onMessage(onWithdrawal);
    // From here this exchange's listeners take its messages: those that came first go through them too.
    for (const m of early) {
      onExchangeMessage(m);
      onWithdrawal(m);
    }
    const offCloseWatch = conn.onClose(() => withdrawn.abort());
    const cleanups: Array<() => void> = [offMessages, () => signal?.removeEventListener("abort", onOuterAbort)];
    const cleanup = () => {
      for (const c of cleanups.splice(0)) c();
    };

    // Files an interrupted exchange left here in part (noted with the same name, size and
    // modification time), which this one would continue: a quick look, the accept decides.
    const listings = new Map<string, Promise<Set<string>>>();
    const kept = new Map<number, number>();
    for (let i = 0; i < files.length && kept.size < MAX_RESUMED_FILES && !withdrawn.signal.aborted; i++) {
      const key = files[i].key;
      const n = key === undefined ? undefined : await resumableBytes(this.opts.dir, files[i].path, key, listings);
      if (n !== undefined) kept.set(i, n);
    }
    // Refuse what cannot fit, before asking anyone: the sender learns why at once. What is kept
    // here already is not needed again (the sender is not told of it: that is the receiver's business).
    const refuse = (toSender: string, why: string): ReceivedExchange => {
      withdrawWatch();
      offCloseWatch();
      cleanup();
      // A reason quoting a sender's long path must still fit the message.
      conn.send(Reject, { xid, reason: fitText(toSender) });
      emit({ event: "rejected", reason: why, from });
      return { from, accepted: false, files: [], bytes: 0, seconds: 0 };
    };
    const keptBytes = [...kept.values()].reduce((n, k) => n + k, 0);
    // Each new directory on the way takes an inode as each file does.
    const dirs = bytes !== null && !withdrawn.signal.aborted ? await newDirectories(this.opts.dir, files.map((f) => f.path)) : 0;
    const room = bytes !== null && !withdrawn.signal.aborted
      ? await roomFor(
        this.opts.dir,
        files.map((f, i) => f.size! - (kept.get(i) ?? 0)),
        files.length - kept.size + dirs,
        inodesInPassing(Math.min(files.length, MAX_OPEN_WRITERS), files.filter((f) => f.key !== undefined).length),
      )
      : null;
    if (room?.inodes && room.inodes.need > room.inodes.free && !withdrawn.signal.aborted) {
      const has = `${files.length} ${files.length === 1 ? "file" : "files"}${dirs > 0 ? ` in ${dirs} new ${dirs === 1 ? "folder" : "folders"}` : ""}`;
      const needs = `${room.inodes.need} inodes while being written (a file being written also takes a lock, a link and, if large, a note for a while)`;
      const why = `${room.inodes.free} free (its file system is out of inodes, not of space)`;
      return refuse(`Not enough room: the offer has ${has}, which take ${needs}; the receiver has ${why}`, `not enough room: the offer has ${has}, which take ${needs}; this folder has ${why}`);
    }
    if (bytes !== null && room && !room.fits && !withdrawn.signal.aborted) {
      // In the units the sender's own "Offering 1 file (20.0 GiB)" uses.
      const here = keptBytes > 0 ? ` more (${formatBytes(keptBytes)} of them already here)` : "";
      // To the sender, what the files need whole (block-rounded): more than the receiver has, and not
      // a figure that says what it keeps.
      const whole = bytesOnDisk(files.map((f) => f.size!), room.block);
      return refuse(
        `Not enough free space: the files need ${formatBytes(whole)}, the receiver has ${formatBytes(room.free)}`,
        `not enough free space: the files need ${formatBytes(room.need)}${here}, the receiver has ${formatBytes(room.free)}`,
      );
    }
    // A path longer than the system takes, here (the sender's was shorter): it could not be written.
    const tooLong = withdrawn.signal.aborted ? undefined : await pathTooLong(this.opts.dir, files.map((f) => f.path)).catch(() => undefined);
    if (tooLong !== undefined) {
      const limit = `the system takes ${PATH_MAX_BYTES.toLocaleString("en-US")} bytes`;
      return refuse(
        `${fitText(printable(tooLong.path), 200)} would have too long a path in the receiver's folder (${limit})`,
        `path too long: ${printable(tooLong.path)} would have a path of ${tooLong.bytes} bytes in this folder (${limit})`,
      );
    }
    // A file where the offer needs a directory: nothing of it could be written (not asked, then failed).
    const inTheWay = withdrawn.signal.aborted ? undefined : await pathInTheWay(this.opts.dir, files.map((f) => f.path)).catch(() => undefined);
    if (inTheWay !== undefined) {
      // The sender hears which name, not what the receiver's folder holds there.
      const where = `${printable(inTheWay.path)} in the receiver's folder is not a directory, and the offer puts files in a directory of that name`;
      return refuse(where, `in the way: ${printable(inTheWay.path)} is ${inTheWay.what}, and the offer puts files in a directory of that name`);
    }

    let answer: boolean | string;
    try {
      answer = withdrawn.signal.aborted ? false : await this.opts.decide({ from, files: shown, bytes, kept: keptBytes, ...(byCode === undefined ? {} : { byCode }) }, withdrawn.signal);
    } catch (err) {
      answer = withdrawn.signal.aborted ? false : `it failed to decide: ${(err as Error).message}`;
    } finally {
      withdrawWatch();
      offCloseWatch();
    }
    if (withdrawn.signal.aborted || answer !== true) {
      cleanup();
      const news = inbox.find((m) => Cancel.is(m) || ErrorMessage.is(m));
      if (news && Cancel.is(news)) {
        emit({ event: "cancelled", reason: news.reason ?? "the offer was withdrawn" });
        throw new OfferWithdrawn(`The offer was withdrawn${news.reason ? `: ${news.reason}` : ""}`);
      }
      if (news && ErrorMessage.is(news)) throw errorFromMessage(news);
      if (conn.closedWith) throw conn.closedWith;
      if (signal?.aborted) {
        try {
          conn.send(Reject, { xid, reason: "it was stopped" });
        } catch { /* closed */ }
        throw new SfxError("SFX_CANCELLED", "Cancelled");
      }
      const reason = typeof answer === "string" ? answer : undefined;
      conn.send(Reject, { xid, reason });
      emit({ event: "rejected", reason: reason ?? "declined", from });
      return { from, accepted: false, files: [], bytes: 0, seconds: 0 };
    }

    // Accepted: data may arrive before 'start' (no ordering across streams), so be ready now.
    const stallMs = this.opts.stallMs ?? stallLimitMs(conn.welcome.limits);
    const maxPending = this.opts.maxPendingBytes ?? 16 * 1024 * 1024;
    let pendingBytes = 0;
    let paused = false;
    let failure: SfxError | undefined;
    /** Bytes received over the network; with `resumedBytes` (kept from an interrupted exchange), all there are. */
    let received = 0;
    /** Of those, bytes on disk: what progress reports (a disk that lags would otherwise report 100 % many times). */
    let written = 0;
    let resumedBytes = 0;
    let senderDone = false;
    // The files' bytes are enciphered: deciphered with the keys derived once the sender's key comes.
    const keys = ExchangeKeyPair.generate();
    let crypt: ExchangeCipher | undefined;
    /** With a code: whether our accept carried its tag, and whether the sender's key proved it holds the code too. */
    let codeAnswered = false;
    let codeProven = false;
    /** Bytes that overtook the sender's key (no ordering across streams): deciphered when it comes. */
    let beforeKey: Array<{ stream: number; data: Uint8Array; ppid: number }> = [];
    let beforeKeyBytes = 0;
    let started = Date.now();
    const results: SafeWriteResult[] = new Array(files.length);
    let finishedCount = 0;
    let settle: ((err?: SfxError) => void) | undefined;
    const finished = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    finished.catch(() => {});
    /**
     * Writers open at once. An offer of thousands of small files would
     * otherwise open a descriptor for each before the first is done (EMFILE);
     * the sender sends files one after another, so a few are enough.
     */
    let openWriters = 0;
    /** Of pendingBytes, those of files still waiting for a slot. */
    let queuedBehindSlots = 0;
    /** Slot holders being verified and placed (they free their slot without anything more from the sender). */
    let finishingWriters = 0;
    const waitingForWriter: Array<{ f: FileState; go: () => void; stop: (err: SfxError) => void }> = [];
    /** A file gets a slot: its bytes are no longer queued behind one. */
    const grant = (f: FileState) => {
      f.slotted = true;
      queuedBehindSlots -= f.queued;
      f.queued = 0;
    };
    /**
     * Every file holding a slot has written all its bytes and waits for its end (none is being
     * finished), and files wait for a slot: the ends may lag the data (a control chunk resent), and
     * once paused data fills the receive window they cannot get in. Let one waiting file past the
     * cap instead, up to {@link MAX_EXTRA_WRITERS} past it.
     */
    const unblockSlots = (): boolean => {
      if (waitingForWriter.length === 0 || finishingWriters > 0 || pendingBytes - queuedBehindSlots > 0) return false;
      // Bounded: past this many, a sender whose ends lag this far stalls instead (the idle timeout ends it).
      if (openWriters >= MAX_OPEN_WRITERS + MAX_EXTRA_WRITERS) return false;
      openWriters++;
      const next = waitingForWriter.shift()!;
      grant(next.f);
      next.go();
      return true;
    };
    const writerSlot = (f: FileState): Promise<void> => {
      if (failure) return Promise.reject(failure);
      if (openWriters < MAX_OPEN_WRITERS) {
        openWriters++;
        grant(f);
        return Promise.resolve();
      }
      return new Promise((go, stop) => waitingForWriter.push({ f, go, stop }));
    };
    const freeWriterSlot = () => {
      const next = waitingForWriter.shift();
      if (next) {
        grant(next.f);
        next.go();
      } else openWriters--;
    };
    /** The exchange ended on the sender's error (a file it could not read): the bytes here are right. */
    let senderFailed = false;
    const fail = (err: SfxError) => {
      if (failure) return;
      failure = err;
      for (const w of waitingForWriter.splice(0)) w.stop(err);
      settle!(err);
    };
    /**
     * A failure the server reported (the sender's own, or the sender gone), held while a file whose
     * 'end' came has bytes still on their way: 'end' and the failure travel on the control stream,
     * which may pass the data stream, yet that file is whole at the sender. It is verified and
     * placed first, unless its bytes stop coming for {@link ENDED_FILES_GRACE_MS}.
     */
    let heldFailure: SfxError | undefined;
    const failAfterEndedFiles = (err: SfxError) => {
      if (!files.some((f) => f.end && !f.finished)) return fail(heldFailure ?? err);
      if (heldFailure) return;
      heldFailure = err;
      let seen = moves;
      const timer = setInterval(() => {
        if (failure) return clearInterval(timer);
        if (moves === seen) return fail(err);
        seen = moves;
      }, Math.min(ENDED_FILES_GRACE_MS, stallMs / 2));
      cleanups.push(() => clearInterval(timer));
    };
    const cache = newSafeWriteCache();
    /**
     * How a file of this exchange is written. A file worth resuming is noted with its key; a
     * temporary file of an older version of it (the same name, noted by an exchange) is taken
     * over, and one another receiver is writing is passed by.
     */
    const writeOptions = (f: FileState) => ({
      size: f.size,
      overwrite: this.opts.overwrite,
      cache,
      deferDirSync: true,
      ...(f.key === undefined ? {} : {
        resume: true,
        resumeKey: f.key,
        busyOk: true,
        reclaim: (note: string) => isOlderVersionNote(note, f.path),
      }),
    });
    const writerFor = (i: number): Promise<SafeWrite> => {
      const f = files[i];
      // Written from its start, but noted (key) so that it can be resumed if the exchange breaks.
      f.writer ??= writerSlot(f).then(() =>
        openSafeWrite(this.opts.dir, f.path, { ...writeOptions(f), discard: true }).catch((err) => {
          freeWriterSlot();
          throw err;
        })
      );
      return f.writer;
    };
    /** Files being verified and moved into place. */
    const finishing: Promise<void>[] = [];
    /** Files whose bytes were found wrong (a file whose check failed is finished: its part went with it). */
    const wrongFiles = new Set<FileState>();
    const tryFinish = (i: number) => {
      const f = files[i];
      if (f.finished || !f.end || f.received < f.end.size || failure) return;
      if (f.received > f.end.size) {
        wrongFiles.add(f);
        return fail(new SfxError("SFX_INTEGRITY", `${f.path}: more bytes than announced`));
      }
      f.finished = true;
      const end = f.end;
      const placed = writerFor(i)
        .then((w) => {
          // Counted only once it holds its slot: a file still waiting for one is not being finished.
          finishingWriters++;
          // `end.sha256` is the tag of the file's hash: checked against what was deciphered.
          return w.finish((sha256) => crypt!.checkEnd(i, end.size, sha256, end.sha256), end.size).finally(() => {
            finishingWriters--;
            freeWriterSlot();
            if (paused) unblockSlots();
          });
        })
        .then((r) => {
          results[i] = r;
          emit({
            event: "file", path: f.path, size: r.size, sha256: r.sha256, savedAs: r.relativePath,
            ...(r.unchanged ? { unchanged: true } : {}), ...(f.resumedFrom > 0 ? { resumedFrom: f.resumedFrom } : {}),
          });
          finishedCount++;
          if (senderDone && finishedCount === files.length) settle!();
        }, (err) => {
          if (isSfxError(err, "SFX_INTEGRITY") && f.resumedFrom > 0) {
            // The bytes kept from an interrupted transfer were not the file's (changed on disk, or the
            // sender's file changed keeping its size and time): not a network fault, and gone now.
            const why = `it had resumed from ${formatBytes(f.resumedFrom)} kept from an interrupted transfer, which did not match: the same file sent again is sent whole`;
            return fail(new SfxError("SFX_INTEGRITY", `${err.message}; ${why}`, { cause: err }));
          }
          fail(err instanceof SfxError ? err : new SfxError("SFX_IO", String(err), { cause: err }));
        });
      finishing.push(placed);
      // Its writer is open or asked for: a failure held for this file may end the exchange now.
      if (heldFailure) failAfterEndedFiles(heldFailure);
    };
    /** Whether a byte of the files has come: the time is counted from the first (a sender asked to type our code, `send --verify`, sends none before). */
    let flowing = false;
    const onData = (stream: number, data: Uint8Array, ppid: number) => {
      if (failure) return;
      if (!flowing) {
        flowing = true;
        started = Date.now();
      }
      if (crypt === undefined) {
        beforeKey.push({ stream, data, ppid });
        beforeKeyBytes += data.length;
        // Held, not read on: past the window's worth, the sender waits for the key to get through.
        if (!paused && beforeKeyBytes > maxPending) {
          paused = true;
          conn.pause({ keepControl: true });
        }
        return;
      }
      const { tag, fileIndex } = parseDataPpid(ppid);
      if (tag !== xidTag(xid)) return; // late bytes of an earlier exchange
      const f = files[fileIndex];
      if (!f) return fail(new SfxError("SFX_PROTOCOL", `Data for file ${fileIndex}, which the offer does not have`));
      (f.cipher ??= crypt.cipher(fileIndex, f.resumedFrom)).apply(data);
      f.received += data.length;
      received += data.length;
      moves++;
      const limit = f.end?.size ?? f.size;
      if (limit !== null && f.received > limit) {
        wrongFiles.add(f);
        return fail(new SfxError("SFX_INTEGRITY", `${f.path}: more bytes than the ${limit} announced`));
      }
      pendingBytes += data.length;
      if (!f.slotted) {
        f.queued += data.length;
        queuedBehindSlots += data.length;
      }
      if (!paused && pendingBytes > maxPending && !unblockSlots()) {
        paused = true;
        // Data waits; control keeps coming while the window has room: the ends that let written
        // files finish and free their writer slots should not wait behind data.
        conn.pause({ keepControl: true });
      }
      const n = data.length;
      writerFor(fileIndex)
        // The message is ours alone: the write frees it once it is on disk.
        .then((w) => w.write(data, { release: true }))
        .then(() => {
          moves++;
          pendingBytes -= n;
          if (paused) unblockSlots();
          if (paused && pendingBytes < maxPending / 4) {
            paused = false;
            conn.resume();
          }
          written += n;
          emit({ event: "progress", bytes: resumedBytes + written, total: bytes, file: f.path });
          tryFinish(fileIndex);
        }, (err) => fail(err instanceof SfxError ? err : new SfxError("SFX_IO", String(err), { cause: err })));
    };
    cleanups.push(conn.onData(onData));
    /** Whether the server's start came and waits for the sender to prove the code. */
    let startHeld = false;
    const emitStart = () => {
      startHeld = false;
      emit({ event: "start", files: files.length, bytes, ...(resumedBytes > 0 ? { resumed: resumedBytes } : {}) });
    };
    const handleMessage = (m: AnyMessage) => {
      if (failure) return;
      if (Start.is(m)) {
        started = Date.now();
        // With a code, nothing starts before the sender has proved it: said with its key.
        // (A key before the start, from a server that reorders them: the start is said now, after it.)
        if (codeKeys === undefined || crypt !== undefined) emitStart();
        else startHeld = true;
      } else if (Resuming.is(m)) {
        // The sender reading a kept part of ours (to hash it): nothing moves meanwhile, and that is no stall.
        const f = files[m.file];
        if (f && f.resumedFrom > 0) emit({ event: "checking", file: f.path, bytes: Math.min(m.bytes, f.resumedFrom), kept: f.resumedFrom });
      } else if (Key.is(m)) {
        if (crypt !== undefined) return fail(new SfxError("SFX_PROTOCOL", "The sender's key came twice"));
        if (codeKeys !== undefined) {
          if (!codeKeys.checkTag(m.confirm)) {
            return fail(new SfxError("SFX_INTEGRITY", "The sender did not prove it holds your code (wrong digits, or someone between you guessing them): nothing was kept"));
          }
          codeProven = true;
        }
        try {
          crypt = keys.agree(m.key, "receiver", { files: offer.files, commitment: commit, ...(codeKeys ? { isk: codeKeys.isk } : {}) });
        } catch (err) {
          return fail(err instanceof SfxError ? err : new SfxError("SFX_PROTOCOL", String(err)));
        }
        if (startHeld) emitStart();
        emit({ event: "verify", code: crypt.code, ...(codeProven ? { byCode: true } : {}) });
        const held = beforeKey;
        beforeKey = [];
        beforeKeyBytes = 0;
        for (const d of held) onData(d.stream, d.data, d.ppid);
        if (paused && pendingBytes < maxPending / 4) {
          paused = false;
          conn.resume();
        }
      } else if (End.is(m)) {
        if (crypt === undefined) return fail(new SfxError("SFX_PROTOCOL", "A file's end came before the sender's key"));
        const f = files[m.file];
        if (!f) return fail(new SfxError("SFX_PROTOCOL", `'end' for file ${m.file}, which the offer does not have`));
        if (f.size !== null && m.size !== f.size) {
          wrongFiles.add(f);
          return fail(new SfxError("SFX_INTEGRITY", `${f.path}: ${m.size} bytes sent, ${f.size} offered`));
        }
        f.end = { size: m.size, sha256: m.sha256 };
        tryFinish(m.file);
      } else if (Done.is(m)) {
        // Stream 0 is ordered: every 'end' came before 'done' (only bytes may still be on their way).
        const missing = files.findIndex((f) => !f.end);
        if (missing >= 0) return fail(new SfxError("SFX_PROTOCOL", `The sender finished without ending ${files[missing].path}`));
        senderDone = true;
        if (finishedCount === files.length) settle!();
      } else if (Cancel.is(m)) {
        emit({ event: "cancelled", reason: m.reason ?? "the sender cancelled" });
        fail(new SfxError("SFX_CANCELLED", `The transfer was cancelled${m.reason ? `: ${m.reason}` : ""}`));
      } else if (ErrorMessage.is(m)) {
        senderFailed = true;
        failAfterEndedFiles(errorFromMessage(m));
      }
    };
    wake = () => {
      while (inbox.length) handleMessage(inbox.shift()!);
    };
    cleanups.push(conn.onClose((err) => fail(err)));
    const onAbort = () => {
      try {
        conn.send(Cancel, { xid, reason: "stopped by the user" });
      } catch { /* closed */ }
      fail(new SfxError("SFX_CANCELLED", "Cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => signal?.removeEventListener("abort", onAbort));
    if (signal?.aborted) onAbort();

    // Files an interrupted exchange left here (noted with the same name, size and modification
    // time): their writers open now, and the sender sends each from where it stopped.
    // Quick: a lock, a look at the file's size; its kept bytes are hashed after the accept, while
    // the sender reads its own copy of them. Stops at Ctrl-C, or when the offer is withdrawn.
    const resume: { file: number; offset: number }[] = [];
    const stopped = () => failure !== undefined || conn.closedWith !== undefined || inbox.some((m) => Cancel.is(m) || ErrorMessage.is(m));
    for (const i of kept.keys()) {
      if (stopped()) break;
      const f = files[i];
      // Not resumable after all (another receiver writes it now…): written from its start when its bytes come.
      const w = await openSafeWrite(this.opts.dir, f.path, writeOptions(f)).catch(() => null);
      if (!w) continue;
      openWriters++;
      grant(f);
      f.writer = Promise.resolve(w);
      if (w.offset > 0) {
        f.received = w.offset;
        f.resumedFrom = w.offset;
        resumedBytes += w.offset;
        resume.push({ file: i, offset: w.offset });
      }
    }
    if (!stopped()) {
      conn.send(Accept, { xid, ...(resume.length ? { resume } : {}), key: keys.publicKey, ...(codeShare !== undefined ? { pake: codeShare, confirm: codeKeys!.tag } : {}) });
      codeAnswered = codeShare !== undefined;
      emit({ event: "accepted" });
      // The kept bytes are hashed before anything is written after them: say so while it lasts, so
      // that neither the server nor the sender takes the quiet for a stall.
      const hashing = new Set(resume.map((r) => r.file));
      for (const i of hashing) void files[i].writer!.then((w) => w.ready).catch(() => {}).finally(() => hashing.delete(i));
      if (hashing.size > 0) {
        const every = resumingEveryMs(conn.welcome.limits.idleTimeoutMs);
        const timer = setInterval(() => {
          const next = hashing.values().next();
          if (next.done || failure) return clearInterval(timer);
          try {
            conn.send(Resuming, { xid, file: next.value, bytes: files[next.value].resumedFrom });
          } catch { /* closed */ }
        }, every);
        cleanups.push(() => clearInterval(timer));
      }
    }
    // A server that stops relaying (yet answers pings) must not hold us for good. Time spent
    // writing, or verifying and placing files, is ours: it does not count.
    const stopWatch = watchStall(stallMs, () => moves, (seconds) => {
      const why = `Nothing arrived for ${seconds} s`;
      // A failure, not a cancel: nobody pressed Ctrl-C, and the sender should not be told so.
      try {
        conn.send(ErrorMessage, { code: "SFX_TRANSFER_FAILED", message: `The receiver gave up: ${why.toLowerCase()}`, xid });
      } catch { /* closed */ }
      fail(new SfxError("SFX_TRANSFER_FAILED", `${why}: the exchange was ended (the server stopped relaying, or the sender is gone)`));
    }, { busy: () => pendingBytes - queuedBehindSlots > 0 || finishingWriters > 0 });
    cleanups.push(stopWatch);
    wake();
    /** The failure's event, emitted last: after the files kept to resume (a script reads `error` as the end). */
    let errorEvent: TransferEvent | undefined;
    try {
      await finished;
      // Every file is verified and in place: what is left is ours (directory syncs), not the server's.
      stopWatch();
      // Renames are durable once their directories are synced: once per directory, before saying done.
      await Promise.all([...new Set(results.map((r) => dirname(r.path)))].map((d) => syncDirectory(d)));
      // Under the exchange's keys: the sender hears that these files, whose ends it sent, are here.
      conn.send(Done, { xid, files: files.length, bytes: received, tag: crypt!.doneTag(files.map((f) => f.end!.sha256)) });
      const seconds = (Date.now() - started) / 1000;
      emit(doneEvent(files.length, received, seconds));
      return { from, accepted: true, files: results, bytes: received, seconds };
    } catch (err) {
      const e = err as SfxError;
      // A file verified before the failure is being moved into place: it is
      // kept, and reported before the failure is, never after it.
      await Promise.allSettled(finishing);
      // Our own failure (disk, integrity): tell the sender, through the server.
      if (["SFX_IO", "SFX_INTEGRITY", "SFX_PROTOCOL", "SFX_INTERNAL"].includes(e.code)) {
        try {
          conn.send(ErrorMessage, { code: e.code, message: `The receiver failed: ${withoutFolder(e.message, this.opts.dir)}`.slice(0, 1000), xid });
        } catch { /* closed */ }
      }
      if (e.code !== "SFX_CANCELLED") errorEvent = { event: "error", code: e.code, message: e.message };
      // An offer that used our code and never proved it: nothing was exchanged (a wrong code, or a guess).
      throw codeAnswered && !codeProven ? new CodeNotProven(e) : e;
    } finally {
      cleanup();
      if (paused) conn.resume();
      // An offer that had our code's tag and never proved its own: a wrong code, or a guess. Too many, and the code changes.
      // Not when this end cancelled (Ctrl-C between its accept and the sender's key): no one guessed.
      if (codeAnswered && !codeProven && !signal?.aborted) {
        const miss = receiveCode!.missed();
        if (miss === "counted") emit({ event: "codeMissed", misses: receiveCode!.misses, missesInAll: receiveCode!.missesInAll });
        if (miss === "renewed") emit({ event: "code", code: receiveCode!.format(conn.id) });
        if (miss === "closed") emit({ event: "codeClosed" });
      }
      // Nothing partial is ever left under a final name. A temporary file is kept, noted, for the
      // next offer of the same file to resume when the transfer was broken off: the connection
      // lost, a stall, the sender failed, or a cancel on either side (Ctrl-C, a closed terminal, a
      // shutdown: work to resume, as a lost connection's; --discard-kept frees it). Not when its
      // bytes were wrong, or on our own failure (a full disk wants its space back); the rest are
      // removed. Bytes kept from an earlier exchange stay kept whatever ends this one (an offer
      // that expired), unless that file's bytes were found wrong.
      const code = failure?.code;
      const broken = code === "SFX_CONNECTION_LOST" || code === "SFX_TRANSFER_FAILED" || code === "SFX_CANCELLED" ||
        (senderFailed && code !== "SFX_INTEGRITY");
      await Promise.all(files.map(async (f) => {
        if (!f.writer) return;
        const w = await f.writer.catch(() => null);
        if (!w) return;
        const keep = failure !== undefined && code !== "SFX_PROTOCOL" && !wrongFiles.has(f) && f.key !== undefined && !f.finished &&
          w.size > 0 && (broken || f.resumedFrom > 0);
        const kept = await w.abort({ keepPartial: keep });
        if (kept > 0) emit({ event: "kept", path: f.path, bytes: kept, temporary: w.partPath });
      }));
      // Folders made for files that never arrived (those with a file or a kept part stay).
      if (failure !== undefined || errorEvent !== undefined) await removeMadeDirectories(cache);
      if (errorEvent) emit(errorEvent);
    }
  }
}

/** Options for {@link receiveByCode}. */
export interface ReceiveByCodeOptions extends Omit<ReceiveOptions, "code" | "sender"> {
  /** How long the sender may take to answer, each time: its share after the pull, its offer after the proof; default {@link PULL_ANSWER_MS}. */
  answerMs?: number;
}

/**
 * Fetches the files of the sender whose code the user typed (`sfx receive 482-913-305-117`; see
 * exchange_code.ts): asks the server to pass a `pull` on to that sender, with this end's share of
 * a CPace run over the code; proves the code (`pull.proof`) once the sender's share comes; and
 * handles the offer the sender then makes, keyed with the code and carrying the sender's tag.
 * Offers from anyone else are refused meanwhile; `decide` still decides (the offer says what the
 * files are). Resolves with that exchange (declined included: `accepted: false`). Rejects with the
 * server's refusal of the pull (no such sender, `SFX_UNKNOWN_ID`; one busy with another receiver,
 * `SFX_PEER_BUSY`), `SFX_BAD_CODE` when the sender finds the proof wrong (nothing was sent),
 * `SFX_OFFER_TIMEOUT` when the sender does not answer within `answerMs` (its share, then its
 * offer), or the exchange's failure.
 *
 * @example
 * ```ts
 * const conn = await connect();
 * const got = await receiveByCode(conn, "482-913-305-117", { dir: ".", decide: async () => true });
 * console.log(got.files.map((f) => f.path));
 * ```
 */
export async function receiveByCode(conn: ClientConnection, code: string, opts: ReceiveByCodeOptions, signal?: AbortSignal): Promise<ReceivedExchange> {
  const { id, secret } = parseSenderCode(code);
  if (id === conn.id) throw new SfxError("SFX_BAD_ARGUMENT", "That is this client's own code: type it on the other machine");
  const shown = new ExchangeCode(secret).format(id);
  const answerMs = opts.answerMs ?? PULL_ANSWER_MS;
  const { answerMs: _, ...options } = opts;
  const xid = conn.nextXid();
  const notAnswered = () => new SfxError("SFX_OFFER_TIMEOUT", `Client ${formatId(id)} did not answer within ${Math.round(answerMs / 100) / 10} s of being asked: is its sfx send still running?`);
  /** The server's answers to the pull: the sender's share, a refusal, busy. */
  const answer = (m: AnyMessage): SfxError | undefined => {
    if (ErrorMessage.is(m)) {
      // The sender found the proof wrong (its pull.refused says so by its code): the digits typed are not its code's.
      if (m.code === "SFX_BAD_CODE") {
        return new SfxError("SFX_BAD_CODE", `Wrong code: ${shown} is not the code client ${formatId(id)} shows for its send (mistyped? after three wrong codes it shows new digits; a code 'sfx receive' shows is typed into 'sfx send --to'). Nothing was received`);
      }
      return errorFromMessage(m);
    }
    if (Busy.is(m)) return new SfxError("SFX_PEER_BUSY", m.message ?? `Client ${formatId(id)} is busy; try again in a moment`);
    return undefined;
  };
  // Made before the pull goes out: an offer from another client meanwhile is held for it, and refused.
  const fetch: { id: string; keys?: CpaceKeys } = { id };
  const receiver = new Receiver(conn, {
    ...options,
    sender: fetch,
    onEvent: (e) => {
      // The sender's offer came: the pull is answered; the exchange's own rules apply from here.
      if (e.event === "offer" && e.from === id) answered();
      opts.onEvent?.(e);
    },
  });
  let ended: SfxError | undefined;
  const stopWaiting = new AbortController();
  const end = (err: SfxError) => {
    ended ??= err;
    stopWaiting.abort();
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let offRefusal = () => {};
  const answered = () => {
    clearTimeout(timer);
    offRefusal();
  };
  try {
    const run = pullRun(secret, { senderId: id, receiverId: conn.id }, randomBytes(32).toString("hex"), "receiver");
    conn.send(Pull, { xid, to: id, pake: run.share, sid: run.sid });
    const first = await conn.waitFor((m) => m.xid === xid && (PullShare.is(m) || ErrorMessage.is(m) || Busy.is(m)), { signal, timeout: { ms: answerMs, error: notAnswered } });
    const refused = answer(first);
    if (refused) throw refused;
    fetch.keys = run.finish((first as AnyMessage & { pake: string }).pake);
    // From the proof on: the sender's offer, or its refusal, or nothing in time.
    timer = setTimeout(() => end(notAnswered()), answerMs);
    offRefusal = conn.onMessage((m) => {
      const err = m.xid === xid ? answer(m) : undefined;
      if (err) end(err);
    });
    conn.send(PullProof, { xid, confirm: fetch.keys.tag });
    const waiting = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
    while (true) {
      const got = await receiver.receiveOne(waiting);
      // Another client's offer, refused: the sender's is still to come.
      if (got.from === id) return got;
    }
  } catch (err) {
    if (ended && !signal?.aborted) throw ended;
    throw err;
  } finally {
    answered();
  }
}

/** An offer as the receiver handles it. */
interface ExchangeOffer {
  xid: number;
  from?: string;
  files: OfferedFileInfo[];
  commit?: string;
  pake?: string;
  /** The sender's CPace tag, in an offer to a receiver that pulled with its code. */
  confirm?: string;
}

/** A file as offered, with what the receiver keeps it by. */
interface OfferedFileInfo extends OfferFileInfo {
  /** The sender's modification time (ms since 1970). */
  modified?: number;
}

/**
 * What an interrupted write of an offered file is noted with (beside its
 * temporary file), so that the same file offered again — same name, size and
 * modification time at the sender — continues it. None for a file of unknown
 * size or without a modification time (standard input). A different file that
 * matches anyway fails its SHA-256 check at the end, and is fetched whole the
 * next time.
 */
function resumeKeyOf(f: OfferedFileInfo): string | undefined {
  if (f.size === null || f.size < RESUME_MIN_BYTES || f.modified === undefined) return undefined;
  return `${EXCHANGE_NOTE} ${f.size} ${f.modified} ${JSON.stringify(f.path)}`;
}

/** How resume notes of exchanges start (share downloads note a SHA-256). */
const EXCHANGE_NOTE = "exchange";

/** A file an interrupted transfer left in part, kept to resume (see {@link keptTransfers}). */
export interface KeptTransfer {
  /** The file it becomes, relative to the receive directory ("/"-separated). */
  path: string;
  /** Bytes kept. */
  bytes: number;
  /** The whole file's size, when its note says (an exchange's does; a share download's does not). */
  size?: number;
  /** The hidden temporary file that holds them. */
  temporary: string;
  /**
   * False when it was kept by a receive into another folder (its note names the file from there,
   * e.g. `big.bin` for `one/.big.bin.sfx-part` found from the folder above): the same file sent
   * here starts over; received into that folder again, it resumes.
   */
  resumesHere: boolean;
  /**
   * True for what a killed receiver left of a file it does not keep to resume (one under 1 MiB,
   * standard input): no note says what it was becoming, so it resumes nowhere.
   */
  leftover?: true;
}

/**
 * What interrupted transfers left to resume under `dir` (a bounded search,
 * see {@link listKeptParts}): told when a receiver starts, so that gigabytes
 * kept in hidden files are no surprise.
 */
export async function keptTransfers(dir: string): Promise<{ kept: KeptTransfer[]; truncated: boolean }> {
  // Only news: a search that fails (a directory gone meanwhile) must not stop the receiver.
  const { parts, truncated } = await listKeptParts(dir).catch(() => ({ parts: [], truncated: false }));
  const at = (p: { relativeDir: string }, name: string) => (p.relativeDir ? `${p.relativeDir}/${name}` : name);
  const kept = parts.map((p): KeptTransfer => {
    const m = p.note === undefined ? null : /^exchange (\d+) \S+ (".*")$/.exec(p.note);
    if (m) {
      try {
        // Named as the note says, where the part sits: the note's path is from the folder received into then.
        const noted = JSON.parse(m[2]) as string;
        const path = at(p, noted.slice(noted.lastIndexOf("/") + 1));
        return { path, bytes: p.bytes, size: Number(m[1]), temporary: p.temporary, resumesHere: path === noted };
      } catch {
        // not a note of ours after all: named from the file below
      }
    }
    // `.name.sfx-part` (a second concurrent write's `.name.2.sfx-part` shows as name.2: the
    // number cannot be told from a name that ends so)
    const name = basename(p.temporary).slice(1, -PART_SUFFIX.length);
    if (p.note === undefined) return { path: at(p, name), bytes: p.bytes, temporary: p.temporary, resumesHere: false, leftover: true };
    return { path: at(p, name), bytes: p.bytes, temporary: p.temporary, resumesHere: true };
  });
  kept.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kept, truncated };
}

/** Whether `note` is what {@link resumeKeyOf} notes for a file named `path`, whatever its size and time. */
function isOlderVersionNote(note: string, path: string): boolean {
  return note.startsWith(`${EXCHANGE_NOTE} `) && note.endsWith(` ${JSON.stringify(path)}`);
}

/** Files written at once by one exchange (see writerSlot in {@link Receiver}). */
const MAX_OPEN_WRITERS = 32;
/** Files let past that cap while the slot holders wait for ends that lag their data. */
const MAX_EXTRA_WRITERS = 32;

/** The sender withdrew its offer before it was answered: no exchange took place (`SFX_CANCELLED`). */
export class OfferWithdrawn extends SfxError {
  constructor(message: string) {
    super("SFX_CANCELLED", message);
  }
}

/**
 * How an exchange ends that used the receiver's code and never proved it (a wrong code, a guess,
 * or a sender gone before its key): nothing was exchanged. Its code and message are the failure's.
 */
export class CodeNotProven extends SfxError {
  constructor(failure: SfxError) {
    super(failure.code, failure.message, { cause: failure });
  }
}

/**
 * What the sender is told of our failure, without where we keep its files:
 * the receiving folder's path is taken out of `message` ("Cannot write
 * /home/ann/inbox/f.bin: the disk is full" says "Cannot write f.bin"), as the
 * sender is not told the names we saved under either.
 */
export function withoutFolder(message: string, dir: string): string {
  // The folder as given and as the file system names it (paths in errors come from its realpath:
  // a --dir that is a symbolic link, macOS's /tmp).
  let real: string | undefined;
  try {
    real = realpathSync(dir);
  } catch {
    // gone: its given name is all there is
  }
  let out = message;
  for (const folder of new Set([resolve(dir), ...(real === undefined ? [] : [real])])) {
    if (folder === resolve(sep)) continue; // the file system's root: its separator is in every path
    // Whole path segments only: /a/in is not the start of /a/inbox or /a/in.old; a sentence's full stop ends one.
    out = out.replaceAll(folder + sep, "").replace(new RegExp(`${escapeRegExp(folder)}(?=$|[\\s:"'\`)\\],;]|\\.(?:$|\\s))`, "g"), "the receiving folder");
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
