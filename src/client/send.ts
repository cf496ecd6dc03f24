/**
 * Sending files to another client's ID: offer, wait for the answer, stream
 * each file on a data stream with backpressure (a chunk is read from disk
 * only when the association can take it), then wait for the receiver to
 * confirm every file verified. Cancel with the signal: the bytes still queued
 * are dropped and the receiver is told, or the association is aborted if the
 * cancel cannot get through.
 *
 * @example
 * ```ts
 * const conn = await connect({ server: { host: "127.0.0.1", port: 6969 } });
 * const files = await collectFiles(["report.pdf", "photos/"]);
 * await sendFiles(conn, { to: "482913", files, onEvent: console.log });
 * await conn.close();
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { isSfxError, SfxError } from "../errors.ts";
import { dataOf, dataPpid } from "../protocol/data.ts";
import type { AssociationLike } from "../protocol/association.ts";
import { CONTROL_STREAM, FIRST_DATA_STREAM, ID_DIGITS, PULL_ANSWER_MS } from "../protocol/defaults.ts";
import { Busy, Cancel, Done, End, ErrorMessage, errorFromMessage, Key, Offer, Pull, Pullable, PullProof, PullRefused, PullShare, Reject, Resuming, resumingEveryMs, Start } from "../protocol/messages.ts";
import { type ExchangeCipher, ExchangeKeyPair, type OfferedFileKey } from "../protocol/exchange_crypto.ts";
import type { CpaceKeys } from "../protocol/cpace.ts";
import { CODE_REFUSAL, codeRun, type ExchangeCode, parseReceiverTarget, pullRun } from "../protocol/exchange_code.ts";
import { formatId } from "../pairing/id_registry.ts";
import { type AnyMessage, ProtocolError } from "../protocol/registry.ts";
import type { ClientConnection } from "./connection.ts";
import { doneEvent, type EventSink, offeredBytes } from "./events.ts";
import { stallLimitMs, watchStall } from "./stall.ts";
import { type SourceFile, withOfferedNames } from "./walk.ts";

/** Options for {@link sendFiles}. */
export interface SendOptions {
  /**
   * The receiver's ID, or its code (the ID and six secret digits, `482-913-305-117`; spaces and
   * dashes are ignored). With the code, the exchange is keyed with its secret digits too, which the
   * server is never told: the receiver must prove it holds them before anything is sent, so a
   * server in between gets no byte without guessing them (see exchange_code.ts).
   */
  to: string;
  files: SourceFile[];
  onEvent?: EventSink;
  /** Aborting cancels the exchange on both sides. */
  signal?: AbortSignal;
  /**
   * A cancel that cannot get through (nothing acknowledged for this long, or not through after five
   * times this) aborts the association; default 2 s.
   */
  cancelGraceMs?: number;
  /**
   * Give up (SFX_TRANSFER_FAILED) when, from the offer on, no message arrives and no byte goes out
   * for this long; default {@link stallLimitMs} of the server's announced timeouts (10 min 10 s with
   * its defaults).
   */
  stallMs?: number;
  /**
   * Asked once the keys are agreed, before any byte of the files is sent: the verification code
   * the receiver shows, as the user typed it (read out to them, by voice or another channel); not
   * told this end's, so that it cannot be copied from the sender's own screen. Other digits end
   * the exchange (`SFX_INTEGRITY`) with nothing sent: a server that gave each end a key of its own,
   * which makes the codes differ, gets no byte. `undefined`: no answer, a cancel (`SFX_CANCELLED`,
   * the receiver told). `signal` aborts when the answer is no longer wanted (the receiver
   * cancelled, the connection ended, the user cancelled). Not asked when `to` is the receiver's
   * code: the receiver then proved it holds it, and shows no verification code.
   */
  confirmCode?: (signal: AbortSignal) => Promise<string | undefined>;
}

/** What a successful send did. */
export interface SendResult {
  files: number;
  bytes: number;
  seconds: number;
}

/** Sends files to a client ID through the server; resolves when the receiver confirmed them all. */
export function sendFiles(conn: ClientConnection, opts: SendOptions): Promise<SendResult> {
  const { id, secret } = parseReceiverTarget(String(opts.to)); // a number from a caller without types is an ID too
  return offerFiles(conn, opts, id, secret === undefined ? undefined : { secret });
}

/** Options for {@link sendByCode}. */
export interface SendByCodeOptions extends Omit<SendOptions, "to" | "confirmCode"> {
  /**
   * This sender's code (see exchange_code.ts), shown to the user as `code.format(conn.id)` for the
   * receiver to type. Renewed after three receivers' wrong codes (a `code` event says the new
   * one), closed after nine in all.
   */
  code: ExchangeCode;
  /** How long a receiver that pulled may take to prove the code; default {@link PULL_ANSWER_MS}. */
  proofMs?: number;
}

/**
 * Sends files to whichever receiver types this sender's code (`sfx receive 482-913-305-117`):
 * tells the server it is `pullable` and says the code (a `code` event: show it from then on), and
 * answers each receiver's pull with its share of a CPace
 * run over the code (`pull.share`). Only a receiver whose proof (`pull.proof`) checks is offered
 * the files, keyed with the code: one that pulls with a wrong code, or knows only the ID, learns
 * nothing of them, not even their names. A wrong proof is a miss of the code (`codeMissed`;
 * `code` when renewed; `codeClosed`, and `SFX_INTEGRITY`, when closed) and is refused
 * (`pull.refused`); a pull whose proof does not come, or whose receiver leaves, is said
 * (`pullFailed`); either way the next pull is waited for. A newer pull (the server passes one on
 * only when the last is over, its receiver gone, or its time up) supersedes one whose proof is awaited. The
 * exchange with the receiver that proved the code is the send's: it resolves or rejects as
 * {@link sendFiles} does, with the receiver's ID.
 *
 * @example
 * ```ts
 * const conn = await connect();
 * const onEvent = (e: TransferEvent) => e.event === "code" && console.log(`Code: ${e.code}`); // read out: sfx receive 482-913-305-117
 * const sent = await sendByCode(conn, { code: new ExchangeCode(), files: await collectFiles(["report.pdf"]), onEvent });
 * ```
 */
export async function sendByCode(conn: ClientConnection, opts: SendByCodeOptions): Promise<SendResult & { to: string }> {
  const emit = opts.onEvent ?? (() => {});
  const { code, signal } = opts;
  const proofMs = opts.proofMs ?? PULL_ANSWER_MS;
  // What would fail every offer (no files, a list too long for one) fails before anyone pulls.
  offerList(opts.files);
  /** The latest pull not yet taken up, and the proof of the one being answered. */
  let pulled: { from: string; pake: string; sid: string } | undefined;
  let proof: { from: string; sid?: string; confirm: string } | undefined;
  let wake: (() => void) | undefined;
  const offMessages = conn.onMessage((m) => {
    if (Pull.is(m) && m.from !== undefined) pulled = { from: m.from, pake: m.pake, sid: m.sid };
    else if (PullProof.is(m) && m.from !== undefined) proof = { from: m.from, sid: m.sid, confirm: m.confirm };
    else return;
    wake?.();
  });
  /** Resolves when `ready()` holds, the connection ends, the user cancels, or `ms` pass (then false). */
  const until = async (ready: () => boolean, ms = Infinity): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (!ready()) {
      if (conn.closedWith) throw conn.closedWith;
      if (signal?.aborted) throw new SfxError("SFX_CANCELLED", "Cancelled");
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          wake = undefined;
          clearTimeout(timer);
          offClose();
          signal?.removeEventListener("abort", done);
          resolve();
        };
        wake = done;
        const timer = Number.isFinite(ms) ? setTimeout(done, deadline - Date.now()) : undefined;
        const offClose = conn.onClose(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    return true;
  };
  /** Whether this end has said it takes pulls (and not yet that it no longer does); whether it offers (then the exchange says its failure). */
  let pullable = false;
  let offering = false;
  try {
    if (code.closed) throw codesClosed();
    conn.send(Pullable, { on: true });
    pullable = true;
    // Shown from here: a receiver quick to type it finds the server told (this connection's messages keep their order).
    emit({ event: "code", code: code.format(conn.id) });
    while (true) {
      await until(() => pulled !== undefined);
      const pull = pulled!;
      pulled = undefined;
      proof = undefined;
      const from = pull.from;
      emit({ event: "pulled", from });
      let keys: CpaceKeys;
      try {
        const run = pullRun(code.secret, { senderId: conn.id, receiverId: from }, pull.sid, "sender");
        keys = run.finish(pull.pake);
        conn.send(PullShare, { to: from, sid: pull.sid, pake: run.share });
      } catch (err) {
        // A share of small order, or this end's own sent back: no guess of the code, and refused.
        emit({ event: "pullFailed", from, code: "SFX_PROTOCOL", message: `Client ${formatId(from)} pulled with a share that is no CPace share (${(err as Error).message})` });
        conn.send(PullRefused, { to: from, sid: pull.sid, code: "SFX_PROTOCOL", reason: `The sender refused the share of the code's run your pull carried: ${(err as Error).message}` });
        continue;
      }
      // Its proof, or a newer pull (the server passes one on once this receiver left, or had its
      // time), or nothing in time.
      const ours = () => proof?.from === from && proof.sid === pull.sid;
      await until(() => ours() || pulled !== undefined, proofMs);
      const proved = ours() ? proof! : undefined;
      if (proved === undefined) {
        const why = pulled !== undefined ? "did not prove the code before another receiver pulled (it left, or took too long)" : `did not prove the code within ${Math.round(proofMs / 100) / 10} s`;
        emit({ event: "pullFailed", from, code: "SFX_TRANSFER_FAILED", message: `Client ${formatId(from)} ${why}` });
        if (pulled === undefined) conn.send(PullRefused, { to: from, sid: pull.sid, code: "SFX_OFFER_TIMEOUT", reason: `The sender had no proof of the code from you within ${Math.round(proofMs / 100) / 10} s` });
        continue;
      }
      if (!keys.checkTag(proved.confirm)) {
        conn.send(PullRefused, { to: from, sid: pull.sid, code: "SFX_BAD_CODE", reason: "The code the receiver typed is not this sender's (mistyped, or a guess): nothing was sent" });
        const miss = code.missed();
        if (miss === "counted") emit({ event: "codeMissed", misses: code.misses, missesInAll: code.missesInAll });
        if (miss === "renewed") emit({ event: "code", code: code.format(conn.id) });
        if (miss === "closed") {
          emit({ event: "codeClosed" });
          throw codesClosed();
        }
        continue;
      }
      // The receiver holds the code: from here the exchange is the send's (other pulls are told it is busy).
      offering = true;
      const sent = await offerFiles(conn, opts, from, { pulled: keys });
      return { ...sent, to: from };
    }
  } catch (err) {
    // The exchange says its own failure; one before it (the code closed, the connection lost), here.
    if (!offering) {
      const e = err instanceof SfxError ? err : new SfxError("SFX_INTERNAL", String(err));
      emit({ event: "error", code: e.code, message: e.message });
    }
    throw err;
  } finally {
    offMessages();
    try {
      if (pullable && !conn.closedWith) conn.send(Pullable, { on: false });
    } catch { /* closed */ }
  }
}

function codesClosed(): SfxError {
  return new SfxError("SFX_INTEGRITY", "Too many receivers typed a wrong code (someone may be guessing it): this sender takes no code any more. Nothing was sent; send again for a new code");
}

/**
 * The list of `files` as an offer carries it: refused (`SFX_USAGE`, `SFX_LIMIT`) when there is
 * nothing to send, or when it is too long for one control message (many files with long names).
 */
function offerList(files: readonly SourceFile[]): OfferedFileKey[] {
  if (files.length === 0) throw new SfxError("SFX_USAGE", "Nothing to send: no files given");
  const offered = files.map((f) => ({ path: f.path, size: f.size, ...(f.modified === undefined ? {} : { modified: f.modified }) }));
  // Its longest form: the largest xid and every optional key field there.
  const key = "0".repeat(64);
  encodeOffer({ xid: 2 ** 31 - 1, to: "9".repeat(ID_DIGITS), files: offered, commit: key, pake: key, confirm: key });
  return offered;
}

/** An offer, encoded; a list of files that cannot be is a clear local error, not a protocol failure. */
function encodeOffer(fields: Parameters<typeof Offer.encode>[0]): Uint8Array {
  try {
    return Offer.encode(fields);
  } catch (err) {
    if (err instanceof ProtocolError && err.reason === "too-large") {
      throw new SfxError("SFX_LIMIT", `The list of ${fields.files.length} files is too large for one offer (${err.message}): send fewer files at once, or an archive (tar)`);
    }
    throw new SfxError("SFX_USAGE", `These files cannot be offered: ${(err as Error).message}`);
  }
}

/**
 * Offers the files to client `to`, keyed with a code when given: the receiver's (`secret`: the
 * CPace run goes in the offer and the accept), or this sender's, whose run the receiver that
 * pulled has already proved (`pulled`: its keys; the offer carries this end's tag).
 */
async function offerFiles(conn: ClientConnection, opts: Omit<SendOptions, "to">, to: string, code: { secret: string } | { pulled: CpaceKeys } | undefined): Promise<SendResult> {
  const secret = code && "secret" in code ? code.secret : undefined;
  const emit = opts.onEvent ?? (() => {});
  const xid = conn.nextXid();
  const files = opts.files;
  if (files.length === 0) throw new SfxError("SFX_USAGE", "Nothing to send: no files given");
  const total = offeredBytes(files);
  const mine = (m: AnyMessage) => m.xid === xid;
  // Everything the server says about this exchange, from the moment we offer.
  const inbox: AnyMessage[] = [];
  let wake: (() => void) | undefined;
  /** Counts whatever moves the exchange on (messages, bytes handed to the transport), for the stall watch. */
  let moves = 0;
  const offInbox = conn.onMessage((m) => {
    if (!mine(m)) return;
    moves++;
    // The receiver hashing bytes it kept: movement, not news (the inbox is what stops a read).
    if (Resuming.is(m)) return;
    inbox.push(m);
    wake?.();
  });
  // A stall stops every wait the way Ctrl-C does; the catch below tells the two apart.
  const stalled = new AbortController();
  let stallError: SfxError | undefined;
  const signal = opts.signal ? AbortSignal.any([opts.signal, stalled.signal]) : stalled.signal;
  let stopWatch = () => {};
  const cancelGrace = opts.cancelGraceMs ?? 2000;
  let cancelling = false;

  /**
   * Tells the server the exchange ends (`say`: a cancel, or a failure). Its bytes not yet on the
   * wire are dropped first, so the message waits behind what is in flight, not behind megabytes
   * queued. If it still cannot get through (a window the server keeps shut), the association is
   * aborted with `abortReason` once nothing has been acknowledged for the grace period, or after
   * five of them in all.
   */
  const stop = async (say: () => void, abortReason: string) => {
    if (cancelling) return;
    cancelling = true;
    discardUnsent();
    try {
      say();
    } catch {
      return;
    }
    const through = sayingThrough(conn.association);
    const giveUp = Date.now() + 5 * cancelGrace;
    let moved = Date.now();
    for (let last = through.progress(); !through.done() && !conn.closedWith && Date.now() < giveUp && Date.now() - moved < cancelGrace;) {
      await new Promise((r) => setTimeout(r, 20));
      const now = through.progress();
      if (now !== last) {
        last = now;
        moved = Date.now();
      }
    }
    if (!through.done() && !conn.closedWith) await conn.abort(abortReason);
  };
  /** Files whose 'end' was sent: whole, whatever comes after. */
  let endedFiles = 0;
  /** Drops this exchange's file bytes still queued (not started on the wire), of file `from` on: nobody will take them. */
  const discardUnsent = (from = 0) => {
    conn.association.discardQueued(dataOf(xid, from));
  };
  const cancel = (reason: string) => stop(() => conn.send(Cancel, { xid, reason }), "cancelled by the sender");

  /** Failures found here, which the other side must be told of (the server's news needs no answer). */
  const ownFailures = new WeakSet<SfxError>();
  const ours = (e: SfxError): SfxError => (ownFailures.add(e), e);
  /** Fails on anything that ends the exchange; returns the next message otherwise. */
  const check = (m: AnyMessage): AnyMessage => {
    if (ErrorMessage.is(m)) throw errorFromMessage(m);
    if (Busy.is(m)) throw new SfxError("SFX_PEER_BUSY", m.message ?? `Client ${to} is busy`);
    if (Reject.is(m)) {
      // A refusal of the code is sfx's, not the user's: said as such (its wording is the server's to forge, and gives no advice).
      const refused = secret !== undefined && (m.reason ?? "").startsWith(CODE_REFUSAL);
      throw new SfxError("SFX_REJECTED", `${refused ? "The receiver's sfx refused the offer" : "The receiver declined"}${m.reason ? `: ${m.reason}` : ""}`);
    }
    if (Cancel.is(m)) throw new SfxError("SFX_CANCELLED", `The receiver cancelled${m.reason ? `: ${m.reason}` : ""}`);
    return m;
  };
  /** While files are still being sent: only failures can come, never the receiver's 'done'. */
  const pending = (): void => {
    while (inbox.length) {
      if (Done.is(check(inbox.shift()!))) throw ours(new SfxError("SFX_PROTOCOL", "The server said the receiver was done before every file was sent"));
    }
  };
  /** Waits until a message for this exchange arrives (or the connection ends / the user cancels). */
  const nextMessage = (): Promise<AnyMessage> =>
    new Promise((resolve, reject) => {
      if (inbox.length) return resolve(inbox.shift()!);
      if (conn.closedWith) return reject(conn.closedWith);
      if (signal?.aborted) return reject(new SfxError("SFX_CANCELLED", "Cancelled"));
      const done = () => {
        wake = undefined;
        offClose();
        signal?.removeEventListener("abort", onAbort);
      };
      wake = () => {
        done();
        resolve(inbox.shift()!);
      };
      const offClose = conn.onClose((err) => {
        done();
        reject(err);
      });
      const onAbort = () => {
        done();
        reject(new SfxError("SFX_CANCELLED", "Cancelled"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });

  /**
   * The user's answer to `ask` (see {@link SendOptions.confirmCode}), or the end of the wait: the
   * user cancels, the connection ends, or the server says something (the receiver cancelled), which
   * is thrown as it would be anywhere else.
   */
  const confirmed = async (ask: NonNullable<SendOptions["confirmCode"]>): Promise<{ typed: string | undefined }> => {
    const asking = new AbortController();
    const answer = ask(asking.signal).then((typed) => ({ typed }));
    let poll: ReturnType<typeof setInterval> | undefined;
    let onAbort = () => {};
    const interrupted = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      signal.addEventListener("abort", onAbort, { once: true });
      poll = setInterval(() => (inbox.length > 0 || conn.closedWith) && resolve(undefined), 50);
    });
    try {
      const same = await Promise.race([answer, interrupted]);
      if (same !== undefined) return same;
      answer.catch(() => {}); // no longer wanted
      if (signal.aborted) throw new SfxError("SFX_CANCELLED", "Cancelled");
      try {
        pending();
      } catch (err) {
        // The server's idle timeout, which ends an exchange where nothing moves: said as what it was.
        if (isSfxError(err, "SFX_TRANSFER_FAILED") && /^Nothing moved/.test(err.message)) {
          throw new SfxError("SFX_TRANSFER_FAILED", `No code was typed within the server's idle timeout (${Math.round(conn.welcome.limits.idleTimeoutMs / 1000)} s): it ended the exchange, with nothing sent`);
        }
        throw err;
      }
      throw conn.closedWith ?? new SfxError("SFX_PROTOCOL", "The exchange ended while the codes were compared");
    } finally {
      clearInterval(poll);
      signal.removeEventListener("abort", onAbort);
      asking.abort();
    }
  };

  let started = 0;
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  try {
    // Checked before anything is said, as an error of this exchange: a list too long for one offer.
    const offered = offerList(files);
    // This exchange's key: the offer commits to it, and it is revealed once the receiver has said its own.
    const keys = ExchangeKeyPair.generate();
    // With the receiver's code: the CPace run over its secret digits, bound to this offer (the
    // list as offered, which the keys are bound to too: a list changed on the way gives the receiver other keys).
    const pake = secret === undefined ? undefined : codeRun(secret, to, keys.commitment, offered, "sender");
    // With this sender's code, proved by the receiver: this end's tag, which the receiver checks before it shows the offer.
    const pulled = code && "pulled" in code ? code.pulled : undefined;
    const offer = encodeOffer({ xid, to, files: offered, commit: keys.commitment, ...(pake ? { pake: pake.share } : {}), ...(pulled ? { confirm: pulled.tag } : {}) });
    emit({ event: "offer", to, files: files.map((f) => ({ path: f.path, size: f.size })), bytes: total });
    conn.sendControl(offer);
    // A server that stops relaying (yet answers pings) must not hold us for good.
    stopWatch = watchStall(opts.stallMs ?? stallLimitMs(conn.welcome.limits), () => moves, (seconds) => {
      stallError = new SfxError("SFX_TRANSFER_FAILED", `Nothing moved for ${seconds} s: the exchange was ended (the server stopped relaying, or the receiver is gone)`);
      stalled.abort();
    });
    // Wait for start (the server enforces the offer timeout and tells us).
    let start: AnyMessage;
    while (true) {
      start = check(await nextMessage());
      if (Start.is(start)) break;
    }
    // Files the receiver kept the first bytes of, from an interrupted exchange: sent from there.
    const resumeAt = new Map<number, number>();
    for (const r of (start as { resume?: { file: number; offset: number }[] }).resume ?? []) {
      const f = files[r.file];
      if (!f || f.size === null || r.offset > f.size || resumeAt.has(r.file)) {
        throw ours(new SfxError("SFX_PROTOCOL", `The server asked to resume file ${r.file} from byte ${r.offset}, which this offer cannot`));
      }
      resumeAt.set(r.file, r.offset);
    }
    const resumed = [...resumeAt.values()].reduce((n, o) => n + o, 0);
    // The files' bytes are enciphered under keys only the two ends hold (see exchange_crypto.ts).
    const peerKey = (start as { key?: string }).key;
    if (peerKey === undefined) {
      throw ours(new SfxError("SFX_PROTOCOL", "The receiver's answer carries no key, so the files could not be enciphered: nothing was sent (both ends speak this protocol, so the key was removed on the way: by the server?)"));
    }
    const answer = start as { pake?: string; confirm?: string };
    let codeKeys: CpaceKeys | undefined = pulled;
    if (pake) {
      if (answer.pake === undefined) {
        throw ours(new SfxError("SFX_PROTOCOL", "The receiver's answer does not use the code you gave, so nothing was sent: both ends speak this protocol, so someone between you (the server?) removed it from the offer"));
      }
      try {
        codeKeys = pake.finish(answer.pake);
      } catch (err) {
        throw ours(err instanceof SfxError ? err : new SfxError("SFX_PROTOCOL", String(err)));
      }
      if (!codeKeys.checkTag(answer.confirm)) {
        await cancel("the code the sender gave is not this receiver's (mistyped, or someone between you guessed): nothing was sent");
        throw new SfxError(
          "SFX_INTEGRITY",
          "Not sent: the code you gave is not the receiver's. Check it with the receiver: its last six digits, or a new code (after wrong codes it makes new digits); " +
            "if it is the code the receiver shows now, someone between you (the server?) is guessing it. No byte of the files was sent",
        );
      }
    }
    let crypt: ExchangeCipher;
    try {
      crypt = keys.agree(peerKey, "sender", { files: offered, ...(codeKeys ? { isk: codeKeys.isk } : {}) });
    } catch (err) {
      throw ours(err instanceof SfxError ? err : new SfxError("SFX_PROTOCOL", String(err)));
    }
    conn.send(Key, { xid, key: keys.publicKey, ...(codeKeys ? { confirm: codeKeys.tag } : {}) });
    /** The tags of the ends sent, in file order: the receiver's done must vouch for them. */
    const endTags: string[] = [];
    // Well within the server's idle timeout, which ends an exchange where nothing moves.
    const resumingEvery = resumingEveryMs(conn.welcome.limits.idleTimeoutMs);
    emit({ event: "accepted" });
    // Asked for, this end's code is said only once the user has typed the receiver's: not shown
    // (a --json line on a terminal) where it could be copied instead.
    // Keyed with the receiver's code, which it proved it has, there is no code to compare: not asked.
    if (opts.confirmCode && !codeKeys) {
      const { typed } = await confirmed(opts.confirmCode);
      if (typed === undefined) {
        await cancel("cancelled by the sender");
        throw new SfxError("SFX_CANCELLED", "Cancelled at the verification code, before anything was sent: the receiver was told");
      }
      const digits = typed.replace(/\D/g, "");
      if (digits !== crypt.code.replace(/\D/g, "")) {
        await cancel("the code the sender typed is not this exchange's (mistyped, or someone between you holds keys of its own): nothing was sent");
        const shown = digits.length === 6 ? `${digits.slice(0, 3)}-${digits.slice(3)}` : JSON.stringify(typed.slice(0, 40));
        throw new SfxError(
          "SFX_INTEGRITY",
          `Not sent: the code you typed (${shown}) is not this end's (${crypt.code}). If that is the code the receiver shows, someone between you (the server?) holds keys of its own; if it was mistyped, send again. No byte of the files was sent`,
        );
      }
    }
    emit({ event: "verify", code: crypt.code, ...(codeKeys ? { byCode: true } : {}) });
    emit({ event: "start", files: files.length, bytes: total, ...(resumed > 0 ? { resumed } : {}) });
    started = Date.now();
    let sent = 0;
    // Progress counts what the server has acknowledged, not what was handed to the connection: the
    // send buffer holds megabytes, and a slow or lossy path showed 100 % (ETA 1 ms) while most of a
    // file was still on its way. (What the server relays on to the receiver it does not say; its
    // relay buffer, a few MiB, is the most this runs ahead of the receiver.) Looked at again while
    // nothing is handed over: the end of a file, the wait for the receiver's 'done'.
    const acked0 = conn.association.acknowledgedBytes;
    let shown = -1;
    let current = files[0]?.path ?? "";
    const showProgress = () => {
      const through = Math.min(sent, Math.max(0, conn.association.acknowledgedBytes - acked0));
      if (through === shown) return;
      shown = through;
      emit({ event: "progress", bytes: resumed + through, total, file: current });
    };
    progressTimer = setInterval(showProgress, PROGRESS_EVERY_MS);
    (progressTimer as { unref?: () => void }).unref?.();
    // Small files are read ahead, several at once: a tree of many small files is bound by
    // file-system round trips, not by the network.
    const ahead = new Map<number, Promise<Uint8Array[]>>();
    const readAhead = (from: number) => {
      for (let j = from; j < files.length && j < from + PREFETCH_FILES; j++) {
        const g = files[j];
        if (ahead.has(j) || g.size === null || g.size > PREFETCH_MAX_BYTES) continue;
        const p = collect(g.read());
        p.catch(() => {}); // surfaced when the file's turn comes
        ahead.set(j, p);
      }
    };
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      readAhead(i);
      const prefetched = ahead.get(i);
      ahead.delete(i);
      const ppid = dataPpid(xid, i);
      const hash = createHash("sha256");
      let size = 0;
      // The receiver has the first `skip` bytes: they are read and hashed (the hash covers the
      // whole file), not sent.
      const resumedFrom = resumeAt.get(i) ?? 0;
      let skip = resumedFrom;
      const cipher = crypt.cipher(i, resumedFrom);
      let saidResuming = Date.now();
      // A source may block (standard input): Ctrl-C and the server's news must not wait for its next chunk.
      const source = prefetched ? fromPromise(prefetched) : f.read();
      const read = { ended: false };
      for await (const chunk of interruptible(source, signal, conn, () => inbox.length > 0, read)) {
        pending();
        if (signal?.aborted) throw new SfxError("SFX_CANCELLED", "Cancelled");
        if (f.size !== null && size + chunk.length > f.size) {
          throw new SfxError("SFX_IO", `${f.path} grew while being sent (more than the ${f.size} bytes offered)`);
        }
        hash.update(chunk);
        size += chunk.length;
        moves++;
        let out = chunk;
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          // Reading a large kept part sends nothing for a while: say how far, so nobody takes it for a stall.
          if (Date.now() - saidResuming >= resumingEvery) {
            saidResuming = Date.now();
            conn.send(Resuming, { xid, file: i, bytes: size });
            emit({ event: "checking", file: f.path, bytes: size, kept: resumedFrom });
          }
          if (n === chunk.length) continue;
          out = chunk.subarray(n);
        }
        sent += out.length;
        current = f.path;
        // Sources yield fresh buffers, hashed above and not touched again: enciphered in place, and the transport may free them.
        cipher.apply(out);
        if (!conn.sendData(FIRST_DATA_STREAM, out, ppid, { release: true })) await drainOrStop(conn, signal, () => inbox.length > 0);
        showProgress();
      }
      // The loop may have ended early: say why before judging the size.
      pending();
      if (signal?.aborted) throw new SfxError("SFX_CANCELLED", "Cancelled");
      if (conn.closedWith) throw conn.closedWith;
      // Never an end for a file read only in part (its size and hash would say it is whole).
      if (!read.ended) throw new SfxError("SFX_INTERNAL", `Reading ${f.path} stopped before its end (${size} bytes read)`);
      if (f.size !== null && size !== f.size) {
        throw new SfxError("SFX_IO", `${f.path} shrank while being sent (${size} of the ${f.size} bytes offered)`);
      }
      const sha256 = hash.digest("hex");
      // Its hash, tagged: only the receiver can check it, and nobody on the way can make it follow changed bytes.
      const tag = crypt.endTag(i, size, sha256);
      endTags.push(tag);
      conn.send(End, { xid, file: i, size, sha256: tag });
      endedFiles = i + 1;
      emit({ event: "file", path: f.path, size, sha256, ...(resumedFrom > 0 ? { resumedFrom } : {}) });
    }
    conn.send(Done, { xid, files: files.length, bytes: sent });
    // The receiver's done means every file is verified and in place: said so under the exchange's
    // keys, so that nobody between could say it for a receiver that did not get them all.
    while (true) {
      const m = check(await nextMessage());
      if (!Done.is(m)) continue;
      if (!crypt.checkDone(endTags, m.tag)) {
        throw ours(new SfxError("SFX_PROTOCOL", "The receiver's 'done' does not vouch for the files sent (its tag does not match): someone between you changed what it got; nothing says it has them"));
      }
      break;
    }
    clearInterval(progressTimer);
    // Everything arrived: said as whole, whatever the last look at the acknowledgements saw.
    if (shown < sent) emit({ event: "progress", bytes: resumed + sent, total, file: current });
    const seconds = (Date.now() - started) / 1000;
    emit(doneEvent(files.length, sent, seconds));
    return { files: files.length, bytes: sent, seconds };
  } catch (err) {
    let e = err instanceof SfxError ? err : new SfxError("SFX_INTERNAL", String((err as Error)?.message ?? err), { cause: err });
    // The exchange is over, whatever ended it: its queued bytes would only be dropped by the server.
    // On our own failure, the files we ended are whole: their bytes still go, and the receiver
    // places them (the server holds our failure back until it has relayed them).
    const own = e.code === "SFX_IO" || e.code === "SFX_INTERNAL" || ownFailures.has(e);
    discardUnsent(own ? endedFiles : 0);
    if (e.code === "SFX_CANCELLED" && stallError && !opts.signal?.aborted) {
      // A failure, not a cancel: nobody pressed Ctrl-C, and the receiver should not be told so
      // (the server reports an abort whose reason mentions cancelling as a cancel).
      e = stallError;
      const message = "The sender gave up: nothing moved";
      await stop(() => conn.send(ErrorMessage, { code: "SFX_TRANSFER_FAILED", message, xid }), "the sender gave up: nothing moved");
    } else if (e.code === "SFX_CANCELLED" && signal.aborted) {
      await cancel("cancelled by the sender");
    } else if (own) {
      // Our own failure: tell the receiver so it cleans up.
      try {
        conn.send(ErrorMessage, { code: e.code, message: `The sender failed: ${withOfferedNames(e.message, files)}`.slice(0, 1000), xid });
      } catch {
        // connection gone
      }
    }
    emit({ event: "error", code: e.code, message: e.message });
    throw e;
  } finally {
    clearInterval(progressTimer);
    stopWatch();
    offInbox();
  }
}

/**
 * Whether the control message just sent has been acknowledged, and a measure
 * of the association's progress (acknowledged bytes) to tell a slow path from
 * a shut window. Another transfer's data on the same connection (a share
 * upload beside the exchange) neither holds the answer back nor hides a
 * stall.
 */
function sayingThrough(a: AssociationLike): { done: () => boolean; progress: () => number } {
  const target = a.messagesAcknowledged(CONTROL_STREAM).given;
  return { done: () => a.messagesAcknowledged(CONTROL_STREAM).acknowledged >= target, progress: () => a.acknowledgedBytes };
}

/** How often the sender looks at what the server has acknowledged, to report progress while it hands nothing over. */
const PROGRESS_EVERY_MS = 250;

/** Files read ahead of the one being sent, at most. */
const PREFETCH_FILES = 16;
/** Only files up to this size are read ahead (whole, into memory). */
const PREFETCH_MAX_BYTES = 256 * 1024;

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of source) out.push(c);
  return out;
}

async function* fromPromise(p: Promise<Uint8Array[]>): AsyncIterable<Uint8Array> {
  for (const c of await p) yield c;
}

/** Waits for "drain", but gives up early when the user cancels or the server says something. */
async function drainOrStop(conn: ClientConnection, signal: AbortSignal | undefined, hasNews: () => boolean): Promise<void> {
  if (hasNews()) return;
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (hasNews() || signal?.aborted) finish();
    }, 50);
    const finish = () => {
      clearInterval(poll);
      signal?.removeEventListener("abort", finish);
      resolve();
    };
    signal?.addEventListener("abort", finish, { once: true });
    conn.drain().then(finish, (err) => {
      clearInterval(poll);
      signal?.removeEventListener("abort", finish);
      reject(err);
    });
  });
}

/**
 * Iterates `source`, but a pending read gives way to a cancel (signal), the
 * connection ending, or news from the server: then the iteration ends early
 * (the caller checks why; `read.ended` says whether the source was read to
 * its end). The source's iterator is returned (closed).
 */
async function* interruptible(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
  conn: ClientConnection,
  hasNews: () => boolean,
  read: { ended: boolean } = { ended: false },
): AsyncIterable<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let stopping = false;
  /** Settles the read under way as stopped. */
  let wake: ((stopped: "stop") => void) | undefined;
  const stop = () => {
    stopping = true;
    wake?.("stop");
  };
  const poll = setInterval(() => {
    if (hasNews() || conn.closedWith || signal?.aborted) stop();
  }, 50);
  signal?.addEventListener("abort", stop, { once: true });
  try {
    // Aborted already (the listener above would never fire): nothing is read.
    if (signal?.aborted) return;
    while (!stopping) {
      // Each read races a stop of its own, settled either way. Raced against one promise that stays
      // pending, every read would leave it a reaction holding its chunk: a resumed file's kept part,
      // read and hashed but not sent (nor freed), stayed in memory whole until the file's end.
      const next = await new Promise<IteratorResult<Uint8Array> | "stop">((resolve, reject) => {
        wake = resolve;
        it.next().then(resolve, reject);
      });
      wake = undefined;
      if (next === "stop") return;
      if (next.done) {
        read.ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    clearInterval(poll);
    signal?.removeEventListener("abort", stop);
    // Do not wait for a source blocked in a read (stdin): ask it to close and move on.
    void it.return?.()?.catch?.(() => {});
  }
}
