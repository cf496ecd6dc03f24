/**
 * A client's code: its ID and six secret digits, `482-913-305-117`, which
 * one user reads out and the other types. A receiver shows one
 * (`sfx receive`) for the sender to type (`sfx send --to 482-913-305-117`);
 * a sender given no receiver shows one (`sfx send report.pdf`) for the
 * receiver to type (`sfx receive 482-913-305-117`). The server is told the
 * ID, never the digits. The two ends run CPace ({@link Cpace}) over the
 * digits and fold its key into the exchange's keys: a server that puts
 * itself in between (a key of its own for each end) must guess the digits,
 * once per exchange, and a wrong guess ends that exchange before a byte of
 * the files is sent. The users need not compare verification codes.
 *
 * - **A receiver's code** ({@link codeRun}) runs inside the offer and the
 *   accept: channel identifier the receiver's ID, session id the sender's
 *   key commitment (fresh for every offer), the sender's associated data the
 *   digest of the list of files offered. The receiver's accept carries its
 *   tag, which the sender checks before it sends anything; the sender's key
 *   carries its own, which the receiver checks before it keeps anything.
 * - **A sender's code** ({@link pullRun}) runs before any offer, in the
 *   receiver's `pull`, the sender's `pull.share` and the receiver's
 *   `pull.proof`: the receiver proves the digits before the sender says
 *   anything of its files, so whoever pulls with a wrong code (or knows only
 *   the ID) learns not even their names. The sender's offer then carries its
 *   own tag, which the receiver checks before it shows the offer.
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
    if (!new RegExp(`^\\d{${SECRET_DIGITS}}$`).test(secret)) throw new SfxError("SFX_BAD_ARGUMENT", `A code's secret is ${SECRET_DIGITS} digits`);
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

  /** Such exchanges over every secret, so far (codes close at {@link MAX_CODE_MISSES_IN_ALL}). */
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

/** One end's CPace run for one exchange (see {@link codeRun}, {@link pullRun}). */
export interface CodeRun {
  /** This end's share, in hex. */
  share: string;
  /** The run's session id, in hex. */
  sid: string;
  /** The run's keys from the other end's share (hex); `SFX_PROTOCOL` for a share of small order. */
  finish(peerShare: string): CpaceKeys;
}

/**
 * One end's CPace run over a receiver's code, for one exchange: the
 * sender's as initiator (its share in the offer's `pake`), the receiver's as
 * responder (in the accept's). `commit` is the offer's key commitment (hex)
 * and `files` the list as the offer carried it (the sender's associated data).
 */
export function codeRun(secret: string, receiverId: string, commit: string, files: readonly OfferedFileKey[], role: "sender" | "receiver"): CodeRun {
  const digest = offerDigest(files);
  const [mine, theirs] = role === "sender" ? [digest, ""] : ["", digest];
  return run(secret, { ci: `sfx receive code v1\0${receiverId}`, sid: Buffer.from(commit, "hex") }, mine, theirs, role === "sender" ? "initiator" : "responder");
}

/**
 * One end's CPace run over a sender's code, before any offer: the
 * receiver's as initiator (its share in the `pull`, its tag in `pull.proof`),
 * the sender's as responder (its share in `pull.share`, its tag in the offer
 * it then makes). `sid` is the random session id (hex) the pull carries; each
 * side's associated data names its role (its tag never checks as the other's). The
 * channel names both ends, and differs from a receiver's code's: a run for
 * one kind of code never checks as the other. The files are not the run's:
 * the sender offers them once the receiver has proved the code, and the
 * exchange's keys are bound to them (exchange_crypto.ts).
 */
export function pullRun(secret: string, ends: { senderId: string; receiverId: string }, sid: string, role: "sender" | "receiver"): CodeRun {
  // Each side's associated data names its role, so that its tag never checks as the other's.
  const [mine, theirs] = role === "receiver" ? [PULL_AD.receiver, PULL_AD.sender] : [PULL_AD.sender, PULL_AD.receiver];
  return run(secret, { ci: `sfx send code v1\0${ends.senderId}\0${ends.receiverId}`, sid: Buffer.from(sid, "hex") }, mine, theirs, role === "receiver" ? "initiator" : "responder");
}

/** The associated data of each side of a send code's run. */
const PULL_AD = { receiver: "sfx pull receiver", sender: "sfx pull sender" } as const;

function run(secret: string, ctx: { ci: string; sid: Uint8Array }, mine: Uint8Array | string, theirs: Uint8Array | string, role: "initiator" | "responder"): CodeRun {
  const cpace = Cpace.start(secret, ctx, mine);
  return {
    share: cpace.share.toString("hex"),
    sid: Buffer.from(ctx.sid).toString("hex"),
    finish: (peerShare) => cpace.finish(Buffer.from(peerShare, "hex"), theirs, role),
  };
}
