/**
 * A client's code: its ID and six secret digits, `482-913-305-117`, which
 * one user reads out and the other types. A receiver shows one
 * (`sfx receive`) for the sender to type (`sfx send --to 482-913-305-117`);
 * a sender given no receiver shows one (`sfx send report.pdf`) for the
 * receiver to type (`sfx receive 482-913-305-117`). The server is told the
 * ID, never the digits. The two ends run CPace ({@link Cpace}) over the
 * digits inside the exchange's offer and accept, and fold its key into the
 * exchange's keys: a server that puts itself in between (a key of its own
 * for each end) must guess the digits, once per exchange, and a wrong guess
 * ends that exchange before a byte of the files is sent. The users need not
 * compare verification codes.
 *
 * - **Bound to the exchange.** The run's channel identifier names the kind
 *   of code and the clients (the receiver's ID; for a sender's code, the
 *   sender's and the receiver's), its session id is the sender's key
 *   commitment (fresh for every offer), and the sender's associated data
 *   the digest of the list of files offered: another receiver, a replayed
 *   offer or a changed list gives other keys.
 * - **Confirmed before the files.** The receiver's accept carries its tag,
 *   which the sender checks before it sends anything; the sender's key
 *   carries its own, which the receiver checks before it keeps anything.
 * - **Guesses are counted** by the end whose code it is. A code makes a new
 *   secret after {@link MAX_CODE_MISSES} exchanges that used it without
 *   proving it, and is closed after {@link MAX_CODE_MISSES_IN_ALL}: each
 *   guess has its one chance in a million whatever the secret, so only a
 *   bound on all of them bounds the server's odds.
 *
 * @example
 * ```ts
 * const code = new ExchangeCode();
 * code.format("482913");                  // "482-913-305-117", shown to the user
 * parseReceiverTarget("482-913-305-117"); // { id: "482913", secret: "305117" }
 * parseReceiverTarget("482 913");         // { id: "482913" }: no code, the verification code to compare
 * parseSenderCode("482 913 305 117");     // { id: "482913", secret: "305117" }: a sender's code is always whole
 * ```
 *
 * @module
 */
import { randomInt } from "node:crypto";
import { SfxError } from "../errors.ts";
import { Cpace, type CpaceKeys } from "./cpace.ts";
import { type OfferedFileKey, offerDigest } from "./exchange_crypto.ts";
import { ID_DIGITS } from "./defaults.ts";

/** Digits in a code's secret part: one guess in a million per exchange. */
export const SECRET_DIGITS = 6;
/** Exchanges that use a code without proving it (wrong digits, or a guess) before its holder makes a new secret. */
export const MAX_CODE_MISSES = 3;
/**
 * Such exchanges in all, over every secret, before its holder takes no code at all: each is a guess
 * with one chance in a million whatever the secret, so renewing alone does not bound them (a
 * receiver that accepts by itself, `--yes`, would answer guesses for as long as it runs).
 */
export const MAX_CODE_MISSES_IN_ALL = 9;

/** How a receiver's refusal of an offer's code begins (its CLI and the sender tell it from a user's decline by this). */
export const CODE_REFUSAL = "This receiver takes no code";

/** What a miss did to a code: nothing yet, a new secret, or no more codes taken. */
export type CodeMiss = "counted" | "renewed" | "closed";

/** A client's secret (a receiver's or a sender's), renewed after too many misses, and closed after too many in all. */
export class ExchangeCode {
  #secret: string;
  #misses = 0;
  #missesInAll = 0;

  /** `secret`: six digits; by default new random ones. */
  constructor(secret: string = newSecret()) {
    if (!new RegExp(`^\\d{${SECRET_DIGITS}}$`).test(secret)) throw new SfxError("SFX_BAD_ARGUMENT", `A receive code's secret is ${SECRET_DIGITS} digits`);
    this.#secret = secret;
  }

  /** The six secret digits. */
  get secret(): string {
    return this.#secret;
  }

  /** The whole code for the client of ID `id`, in groups of three: `482-913-305-117`. */
  format(id: string): string {
    return (id + this.#secret).replace(/\d{3}(?=\d)/g, "$&-");
  }

  /** Exchanges that used this secret and did not prove it, so far (fewer than {@link MAX_CODE_MISSES}). */
  get misses(): number {
    return this.#misses;
  }

  /** Such offers over every secret, so far (codes close at {@link MAX_CODE_MISSES_IN_ALL}). */
  get missesInAll(): number {
    return this.#missesInAll;
  }

  /** Whether it takes no more codes: too many exchanges guessed wrong ({@link MAX_CODE_MISSES_IN_ALL}). */
  get closed(): boolean {
    return this.#missesInAll >= MAX_CODE_MISSES_IN_ALL;
  }

  /**
   * An exchange used the code and did not prove it (the other end's tag was wrong; for a receiver's
   * code, also an offer that ended before its key came).
   * `renewed`: that was one too many for this secret, and a new one was made (the old one no longer
   * works); `closed`: one too many in all, and no code is taken any more.
   */
  missed(): CodeMiss {
    if (++this.#missesInAll >= MAX_CODE_MISSES_IN_ALL) return "closed";
    if (++this.#misses < MAX_CODE_MISSES) return "counted";
    this.#misses = 0;
    let next = newSecret();
    while (next === this.#secret) next = newSecret();
    this.#secret = next;
    return "renewed";
  }
}

function newSecret(): string {
  return String(randomInt(10 ** SECRET_DIGITS)).padStart(SECRET_DIGITS, "0");
}

/**
 * What a sender typed for its receiver: an ID (six digits), or a code, the ID followed by the six
 * secret digits. Spaces and dashes are ignored. Anything else is `SFX_BAD_ARGUMENT`: a code with a
 * digit dropped is not taken for some other ID.
 */
export function parseReceiverTarget(text: string): { id: string; secret?: string } {
  const digits = String(text).replace(/[\s-]/g, "");
  const isDigits = /^\d+$/.test(digits);
  if (isDigits && digits.length === ID_DIGITS) return { id: digits };
  if (isDigits && digits.length === ID_DIGITS + SECRET_DIGITS) return { id: digits.slice(0, ID_DIGITS), secret: digits.slice(ID_DIGITS) };
  const shown = JSON.stringify(String(text).slice(0, 40));
  const why = isDigits ? `${digits.length} digits, where a code has ${ID_DIGITS + SECRET_DIGITS} and an ID ${ID_DIGITS}` : "not digits";
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid receiver ${shown} (${why}): give the code 'sfx receive' shows, as 482-913-305-117, or its ID`);
}

/**
 * The code a receiver typed to fetch a sender's files (`sfx receive 482-913-305-117`): the sender's
 * ID and its six secret digits, always both (an ID alone proves nothing, and the sender would
 * offer its files to whoever asked). Spaces and dashes are ignored; anything else is `SFX_BAD_ARGUMENT`.
 */
export function parseSenderCode(text: string): { id: string; secret: string } {
  const digits = String(text).replace(/[\s-]/g, "");
  const isDigits = /^\d+$/.test(digits);
  if (isDigits && digits.length === ID_DIGITS + SECRET_DIGITS) return { id: digits.slice(0, ID_DIGITS), secret: digits.slice(ID_DIGITS) };
  const shown = JSON.stringify(String(text).slice(0, 40));
  const why = !isDigits
    ? "not digits"
    : digits.length === ID_DIGITS
    ? "an ID alone, without the code's last six digits"
    : `${digits.length} digits, where a code has ${ID_DIGITS + SECRET_DIGITS}`;
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid code ${shown} (${why}): give the whole code 'sfx send' shows, as 482-913-305-117`);
}

/**
 * How a sender's cancel begins when the receiver's tag does not prove the sender's code (a
 * mistyped code, or a guess): the receiver tells it from other cancels by this.
 */
export const WRONG_SEND_CODE = "The code the receiver typed is not this sender's";

/**
 * Whose code keys an exchange: the receiver's (`sfx receive` shows it), or the sender's (`sfx send`
 * given no receiver shows it), with the IDs of the ends, which its CPace run is bound to.
 */
export type CodeOf = { kind: "receiver"; receiverId: string } | { kind: "sender"; senderId: string; receiverId: string };

/** One end's CPace run for one exchange (see {@link codeRun}). */
export interface CodeRun {
  /** This end's share, in hex: the offer's `pake` (sender) or the accept's (receiver). */
  share: string;
  /** The run's keys from the other end's share (hex); `SFX_PROTOCOL` for a share of small order. */
  finish(peerShare: string): CpaceKeys;
}

/**
 * One end's CPace run for one exchange: the sender's as initiator, the
 * receiver's as responder, whichever holds the code. `commit` is the offer's
 * key commitment (hex) and `files` the list as the offer carried it (the
 * sender's associated data).
 */
export function codeRun(secret: string, of: CodeOf, commit: string, files: readonly OfferedFileKey[], role: "sender" | "receiver"): CodeRun {
  const digest = offerDigest(files);
  const [mine, theirs] = role === "sender" ? [digest, ""] : ["", digest];
  // A different channel for each kind: a run for one never checks as a run for the other.
  const ci = of.kind === "receiver" ? `sfx receive code v1\0${of.receiverId}` : `sfx send code v1\0${of.senderId}\0${of.receiverId}`;
  const run = Cpace.start(secret, { ci, sid: Buffer.from(commit, "hex") }, mine);
  return {
    share: run.share.toString("hex"),
    finish: (peerShare) => run.finish(Buffer.from(peerShare, "hex"), theirs, role === "sender" ? "initiator" : "responder"),
  };
}
