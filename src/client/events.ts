/**
 * What send and receive report as they go: the CLI turns these into a
 * progress bar, prompts and lines, or with `--json` prints each as one JSON
 * object per line.
 *
 * @module
 */

/** A file in an offer, as shown to people. */
export interface OfferFileInfo {
  path: string;
  size: number | null;
}

/** The bytes of the files offered, or null when a size is unknown (standard input). */
export function offeredBytes(files: readonly { size: number | null }[]): number | null {
  return files.every((f) => f.size !== null) ? files.reduce((n, f) => n + f.size!, 0) : null;
}

/** One event of a transfer. */
export type TransferEvent =
  /** `code`: this end's code (`482-913-305-117`; see exchange_code.ts), for `sfx receive` given no code (a sender by code says its own in a `code` event). */
  | { event: "connected"; id: string; code?: string; server: string; version: string; /** Where: `host:port`, `[v6]:port`. */ address: string }
  /**
   * `byCode`, said to a receiver with a code (its own, or the sender's it typed): true when the
   * offer claims to use it (checked before anything is kept: a sender that cannot prove it gets
   * nothing; see exchange_code.ts), false when the sender gave the ID alone.
   */
  | { event: "offer"; from?: string; to?: string; files: OfferFileInfo[]; bytes: number | null; byCode?: boolean }
  | { event: "accepted" }
  /**
   * The exchange's files are enciphered end to end; `code` (`482-913`) is the same on both sides
   * unless someone between them (the server) holds keys of its own: the users may compare it.
   * `byCode`: the exchange is keyed with a code too (the receiver's or the sender's), and both ends proved they hold
   * it, so no one between them holds the keys and there is nothing to compare.
   */
  | { event: "verify"; code: string; byCode?: boolean }
  /**
   * An exchange used this end's code and did not prove it (wrong digits, a guess; to a receiver, also
   * a sender gone before its key): `misses` so far for this code, which changes at the third (see
   * exchange_code.ts).
   */
  | { event: "codeMissed"; misses: number; /** Over every secret: at nine, codes close. */ missesInAll: number }
  /**
   * This end's code (`482-913-305-117`): a sender by code says it once it takes pulls (show it from
   * then on); either end says it again when too many wrong guesses renewed it (the old one no longer works).
   */
  | { event: "code"; code: string }
  /** This end takes no code any more: too many wrong guesses in all (see exchange_code.ts). */
  | { event: "codeClosed" }
  /**
   * A sender sending by its code: receiver `from` asks for the files (it may have typed the code, or
   * know only the ID); they are offered to it once it has proved the code.
   */
  | { event: "pulled"; from: string }
  /**
   * A sender sending by its code: the pull of receiver `from` ended before it proved the code (no
   * proof in time, another pull came first, its share refused): `code` and `message` say how. Not a
   * guess (a wrong proof is `codeMissed`); the sender waits for the next receiver.
   */
  | { event: "pullFailed"; from: string; code: string; message: string }
  | { event: "rejected"; reason: string; from?: string }
  /** `resumed`: bytes the receiver already had (from an interrupted exchange), not sent again. */
  | { event: "start"; files: number; bytes: number | null; resumed?: number }
  | { event: "progress"; bytes: number; total: number | null; file: string }
  /**
   * While a resumed file's kept bytes are read and hashed (nothing moves meanwhile): `bytes` of the
   * `kept` read so far, by the sender (said by it, on the receiver's side too).
   */
  | { event: "checking"; file: string; bytes: number; kept: number }
  /**
   * `unchanged`: the same bytes were already there under that name, so nothing was written.
   * `resumedFrom`: the first bytes were kept from an interrupted exchange and not sent again.
   */
  | { event: "file"; path: string; size: number; sha256: string; savedAs?: string; unchanged?: boolean; resumedFrom?: number }
  /** The rate is in MB/s (10^6 bytes per second), as the progress line shows it. */
  | { event: "done"; files: number; bytes: number; seconds: number; megabytesPerSecond: number }
  | { event: "cancelled"; reason: string }
  /** After a failure: the first `bytes` of `path` are kept in `temporary`; the same file sent again resumes from there. */
  | { event: "kept"; path: string; bytes: number; temporary: string }
  /**
   * When a receiver starts: an earlier transfer left the first `bytes` of `path` (of `size`, when
   * known) in `temporary`; the same file sent again resumes from there.
   */
  | { event: "resumable"; path: string; bytes: number; size?: number; temporary: string; resumesHere: boolean }
  /**
   * When a receiver starts: a receiver that was killed left `bytes` of `path` in `temporary`, of
   * a file it did not keep to resume (under 1 MiB, standard input); `--discard-kept` deletes it.
   */
  | { event: "unresumable"; path: string; bytes: number; temporary: string }
  | { event: "error"; code: string; message: string };

/** Receives events. */
export type EventSink = (e: TransferEvent) => void;

/** Whether a `rejected` event's reason is sfx's own refusal of an offer (an unsafe name, no room, a file in the way), not its user's. */
/**
 * The `done` event of `files` and `bytes` moved in `seconds`: times to the
 * millisecond, the rate in MB/s to three decimals (kB/s), as the summary says them.
 */
export function doneEvent(files: number, bytes: number, seconds: number): Extract<TransferEvent, { event: "done" }> {
  const rate = seconds > 0 ? bytes / seconds / 1e6 : 0;
  return { event: "done", files, bytes, seconds: Math.round(seconds * 1000) / 1000, megabytesPerSecond: Math.round(rate * 1000) / 1000 };
}

export function refusedBySfx(reason: string): boolean {
  return /^(unsafe offer|not enough free space|not enough room|in the way|path too long|this receiver takes no code|this receiver is fetching)/i.test(reason);
}
