/**
 * The control messages of sessions and exchanges (shares add theirs in
 * `share.ts`). Each is declared once, with its schema; docs/protocol.md
 * describes the flows. `xid` is an exchange id, scoped to one association:
 * the sender picks it for its offer, the server picks the receiver's.
 *
 * @module
 */
import { MAX_CONTROL_BYTES, MAX_FILES_PER_OFFER, MAX_PATH_BYTES, MAX_TEXT_BYTES } from "./defaults.ts";
import { defineMessage } from "./registry.ts";
import { array, bool, cutMiddleUtf8, cutUtf8, int, nullable, object, oneOf, optional, printable, string } from "./schema.ts";
import { ERROR_CODES, type ErrorCode, SfxError } from "../errors.ts";

const xid = int({ max: 2 ** 31 - 1 });
/** Free text shown to a user: control characters arrive replaced. */
const text = string({ max: MAX_TEXT_BYTES, printable: true });
/** A client ID as the wire carries it: digits only ("482913"). */
const clientId = string({ max: 12, min: 4, pattern: /^[0-9]+$/ });
const sha256 = string({ max: 64, min: 64, pattern: /^[0-9a-f]{64}$/ });
/** Error codes are `SFX_…` names from src/errors.ts; unknown ones are kept as text. */
const errorCode = string({ max: 48, pattern: /^SFX_[A-Z0-9_]+$/ });

/** Client → server, first message: the protocol it speaks. Open, so any version can read it. */
export const Hello = defineMessage("hello", {
  protocol: int({ max: 65535 }),
  client: string({ max: 64, printable: true }),
}, { open: true });

/** Server → client, the answer to hello: the assigned ID, who the server is, its limits. */
export const Welcome = defineMessage("welcome", {
  protocol: int({ max: 65535 }),
  id: clientId,
  server: object({ name: string({ max: 255, printable: true }), version: string({ max: 64, printable: true }) }, { open: true }),
  limits: object({
    maxFileSize: int(),
    maxFilesPerOffer: int(),
    // What a timer can hold (24.8 days; `sfx serve` takes at most 24d): a client arms timers from them.
    offerTimeoutMs: int({ max: 2 ** 31 - 1 }),
    idleTimeoutMs: int({ max: 2 ** 31 - 1 }),
  }, { open: true }),
}, { open: true });

/**
 * Either way: something failed. `code` is a stable `SFX_…` code; `xid`
 * names the exchange it ends, `req` the request it answers (shares).
 */
export const ErrorMessage = defineMessage("error", {
  code: errorCode,
  message: text,
  xid: optional(xid),
  req: optional(int({ max: 2 ** 31 - 1 })),
});

/** Either way: are you there? Answered by pong with the same `n`. Also keeps an idle client alive. */
export const Ping = defineMessage("ping", { n: int({ max: 2 ** 31 - 1 }) });
/** The answer to ping. */
export const Pong = defineMessage("pong", { n: int({ max: 2 ** 31 - 1 }) });

/** One file of an offer: a relative path with `/` separators, and its size (null: unknown, e.g. stdin). */
export const OfferedFile = object({
  path: string({ max: MAX_PATH_BYTES, min: 1 }),
  size: nullable(int()),
  /**
   * The sender's modification time of the file (ms since 1970), when it is a
   * file on disk: with the path and size, what a receiver keeps an
   * interrupted file's bytes under, to resume it when the same file is
   * offered again.
   */
  modified: optional(int()),
});

/** Most files one exchange resumes (each is a writer the receiver opens before it accepts). */
export const MAX_RESUMED_FILES = 32;
/**
 * Files smaller than this are sent whole again rather than resumed: noting
 * every small file of a tree would cost more than resending it (and an offer
 * of many files stays small).
 */
export const RESUME_MIN_BYTES = 1024 * 1024;

/** A file the receiver already has the first `offset` bytes of (kept from an interrupted exchange). */
export const ResumeAt = object({
  file: int({ max: MAX_FILES_PER_OFFER }),
  offset: int({ min: 1 }),
});

/** An X25519 public key, a commitment to one, a CPace share or tag: 32 bytes in hex (see exchange_crypto.ts, cpace.ts). */
const key = string({ max: 64, min: 64, pattern: /^[0-9a-f]{64}$/ });

/**
 * Sender → server (`to`: the receiver's ID) and server → receiver (`from`:
 * the sender's ID): these files, will you take them? `commit`: the SHA-256
 * of the sender's key for this exchange, which it reveals after the accept
 * (see exchange_crypto.ts). Optional for the server, which relays it; a
 * receiver refuses an offer without one. `pake`: when the sender was given
 * the receiver's code, its CPace share over the code's secret digits;
 * `confirm`: when a receiver pulled with the sender's code and proved it,
 * the sender's CPace tag (see exchange_code.ts).
 */
export const Offer = defineMessage("offer", {
  xid,
  to: optional(clientId),
  from: optional(clientId),
  files: array(OfferedFile, { max: MAX_FILES_PER_OFFER, min: 1 }),
  commit: optional(key),
  pake: optional(key),
  confirm: optional(key),
});

/**
 * Client → server: `on`, this client sends by its own code (`sfx send` given no receiver): a
 * receiver that typed the code may ask for the files ({@link Pull}); `on: false` once that is over.
 */
export const Pullable = defineMessage("pullable", { on: bool() });

/**
 * Receiver → server (`to`: the sender's ID, from the code it typed; `xid`) and server → sender
 * (`from`: the receiver's ID): send me your files. `pake`: the receiver's CPace share over the
 * code's digits, `sid` the run's session id (32 random bytes, hex; see exchange_code.ts). A pull
 * the server cannot pass on (no such sender, not `pullable`, busy) is answered with `error` or
 * `busy` under its `xid`, and so is the sender's refusal ({@link PullRefused}).
 */
export const Pull = defineMessage("pull", { xid: optional(xid), to: optional(clientId), from: optional(clientId), pake: key, sid: key });

/**
 * Sender → server (`to`: the receiver that pulled; `sid`: its pull's) → receiver (`xid`: its
 * pull's): the sender's CPace share. The server passes it on only for the pull it holds.
 */
export const PullShare = defineMessage("pull.share", { xid: optional(xid), to: optional(clientId), sid: key, pake: key });

/**
 * Receiver → server (`xid`: its pull's) → sender (`from`, and the pull's `sid`): the receiver's
 * CPace tag, which proves it holds the code; the sender offers its files (its own tag in the
 * offer's `confirm`) only then.
 */
export const PullProof = defineMessage("pull.proof", { xid: optional(xid), from: optional(clientId), sid: optional(key), confirm: key });

/**
 * Sender → server (`to`: the receiver that pulled; `sid`: its pull's): no files for it. `code`
 * says why: `SFX_BAD_CODE`, a wrong tag (the code mistyped, or a guess); `SFX_OFFER_TIMEOUT`, no
 * proof in time; `SFX_PROTOCOL`, a share refused. The receiver hears it as `error` under its
 * pull's `xid`.
 */
export const PullRefused = defineMessage("pull.refused", { to: clientId, sid: key, code: oneOf(["SFX_BAD_CODE", "SFX_OFFER_TIMEOUT", "SFX_PROTOCOL"]), reason: text });

/** What the receiver's accept says, and the server's start passes on to the sender. */
const receiverAnswer = {
  resume: optional(array(ResumeAt, { max: MAX_RESUMED_FILES })),
  key: optional(key),
  pake: optional(key),
  confirm: optional(key),
};

/**
 * Receiver → server: yes. `resume`: files of which it already has the first
 * bytes; the sender sends each from there (the hash in `end` still covers
 * the whole file). `key`: the receiver's public key for this exchange.
 * `pake` and `confirm`, to an offer with a `pake`: the receiver's CPace share
 * and its tag, which proves to the sender that it holds the same code.
 */
export const Accept = defineMessage("accept", { xid, ...receiverAnswer });
/** Receiver → server → sender: no. */
export const Reject = defineMessage("reject", { xid, reason: optional(text) });
/** Server → sender: the receiver is already in an exchange. */
export const Busy = defineMessage("busy", { xid, message: optional(text) });
/** Server → both: accepted, the bytes may flow (data on streams ≥ 1); to the sender, with the receiver's `resume`, `key`, `pake` and `confirm`. */
export const Start = defineMessage("start", { xid, ...receiverAnswer });
/**
 * Sender → server → receiver, right after `start`: the sender's public key
 * for this exchange, which must match the offer's `commit`. The files' bytes
 * are enciphered under the keys the two derive. `confirm`, in an exchange
 * keyed with the receiver's code: the sender's CPace tag.
 */
export const Key = defineMessage("key", { xid, key, confirm: optional(key) });
/**
 * Either side → server → the other: while the sender reads (and hashes) the
 * first bytes of a resumed file, which it does not send again, or the
 * receiver hashes the bytes it kept of it, how far it got — about once a
 * second, so that neither the server nor the other side takes the quiet for
 * a stall.
 */
export const Resuming = defineMessage("resuming", { xid, file: int({ max: MAX_FILES_PER_OFFER }), bytes: int() });

/** How often to say 'resuming': once a second, or more often (well within) a short server idle timeout. */
export function resumingEveryMs(idleTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, idleTimeoutMs / 4));
}
/**
 * Sender → server → receiver: file `file` is complete: its final size, and
 * (`sha256`) the tag of its SHA-256 under the exchange's MAC key (hex; see
 * exchange_crypto.ts), which only the receiver can check.
 */
export const End = defineMessage("end", { xid, file: int({ max: MAX_FILES_PER_OFFER }), size: int(), sha256 });
/**
 * Sender → server → receiver: every file is sent. Receiver → server →
 * sender: every file is verified and in place; the exchange is over.
 */
export const Done = defineMessage("done", { xid, files: optional(int()), bytes: optional(int()), tag: optional(key) });
/** Either way: stop this exchange; the receiver removes what it has written. */
export const Cancel = defineMessage("cancel", { xid, reason: optional(text) });

/**
 * The protocol a `hello` or `welcome` that failed validation says its sender
 * speaks, and the sender's software (`client`, or `server.version`): another
 * protocol version may have changed the message's other fields, and its peer
 * should still learn that the versions differ, not that the message is
 * invalid. Undefined when the bytes are no such message.
 */
export function announcedProtocol(bytes: Uint8Array, type: "hello" | "welcome"): { protocol: number; software: string } | undefined {
  if (bytes.length > MAX_CONTROL_BYTES) return undefined;
  let msg;
  try {
    msg = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof msg !== "object" || msg === null || msg.type !== type || !Number.isSafeInteger(msg.protocol)) return undefined;
  const software = type === "hello" ? msg.client : msg.server?.version;
  return { protocol: msg.protocol, software: typeof software === "string" ? printable(cutUtf8(software, 64)) : "unknown" };
}

/** The {@link SfxError} an `error` message stands for (an unknown code becomes SFX_PROTOCOL). */
export function errorFromMessage(msg: { code: string; message: string }): SfxError {
  const code = (Object.hasOwn(ERROR_CODES, msg.code) ? msg.code : "SFX_PROTOCOL") as ErrorCode;
  return new SfxError(code, msg.message);
}

/** The `error` message that reports `err` to the peer (non-sfx errors become SFX_INTERNAL). */
export function errorToMessage(err: unknown, ids: { xid?: number; req?: number } = {}): Uint8Array {
  const code = err instanceof SfxError ? err.code : "SFX_INTERNAL";
  return ErrorMessage.encode({ code, message: fitText(err instanceof Error ? err.message : String(err)), ...ids });
}

/**
 * `text` cut to fit a message's text field ({@link MAX_TEXT_BYTES} of UTF-8),
 * with "…" in its middle when cut: for text that quotes what a client sent (a
 * path, a reason), which would otherwise make the message too long to encode,
 * and whose end often says why ("…: the name is too long for this file system").
 */
export function fitText(text: string, maxBytes: number = MAX_TEXT_BYTES): string {
  return cutMiddleUtf8(text, maxBytes);
}
