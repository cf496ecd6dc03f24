/**
 * The client side of shares: upload files as a share (`put`), list a share
 * (`list`), download all or some of its files (`get`), over any
 * {@link ShareLink} — in practice one SCTP connection to the server.
 *
 * Downloads use the same safe-write rules as `sfx receive`: sanitized names,
 * a temporary file, SHA-256 verified, fsync, no silent overwrite. They
 * resume: a file whose temporary file is already partly there is fetched
 * from where it stops, and its whole hash is still verified; a file already
 * in place with the right hash is not fetched again.
 *
 * @example
 * ```ts
 * const client = new ShareClient(connectionShareLink(await connect({ server: { host: "127.0.0.1", port: 6969 } })));
 * const created = await client.put(await collectShareFiles(["report.pdf", "photos/"]), { expiresInMs: 3_600_000 });
 * console.log(created.code);
 * const got = await client.get(created.code, { dir: "/tmp/in" });
 * ```
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { lstat, mkdtemp, open, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { isSfxError, SfxError } from "../errors.ts";
import { formatBytes } from "../units.ts";
import type { AssociationLike, CloseReason } from "../protocol/association.ts";
import {
  type AnyMessage,
  CONTROL_PPID,
  CONTROL_STREAM,
  dataOf,
  dataPpid,
  decodeMessage,
  ErrorMessage,
  errorFromMessage,
  MAX_RESUMED_FILES,
  nextShareRequestId,
  parseDataPpid,
  xidTag,
} from "../protocol/index.ts";
import {
  ShareCancel,
  ShareCreated,
  ShareDone,
  ShareEnd,
  ShareGet,
  ShareListingMessage,
  ShareLs,
  SharePut,
  ShareReady,
  ShareReceived,
  ShareSeal,
  ShareSending,
  MAX_TIME_MS,
} from "../protocol/share.ts";
import { isPlainCode, lookupOf, parseCode } from "../share/code.ts";
import { type SealedFile, ShareCipher, storedName } from "../share/share_crypto.ts";
import { checkSealedListing, renameUnreadableCopy, shareDataStream } from "../share/service.ts";
import { checkSharePaths } from "../share/share_path.ts";
import { MAX_DOWNLOADS_LIMIT, MIN_EXPIRY_MS } from "../share/defaults.ts";
import type { ShareListing as StoredListing } from "../share/store.ts";
import { type ClientConnection, connect, type ServerAddress } from "./connection.ts";
import {
  ioError,
  localRelativePath,
  inodesInPassing,
  newDirectories,
  PATH_MAX_BYTES,
  pathTooLong,
  removeMadeDirectories,
  newSafeWriteCache,
  numbered,
  openSafeWrite,
  prepareDestination,
  prepareDirectory,
  resumableBytes,
  roomFor,
  sameFile,
  sanitizeRelativePath,
  type SafeWrite,
  type SafeWriteCache,
} from "./safe_write.ts";
import { stallLimitMs, watchStall } from "./stall.ts";
import { collectFiles, type CollectOptions, fileSource, readingStdin } from "./walk.ts";

/**
 * A share as a client lists it: its files (their own names, sizes and SHA-256s, from the sealed
 * list of an enciphered share), when it was made and expires, and its downloads.
 */
export interface ShareListing extends Omit<StoredListing, "sealed"> {
  /** False for a share in the clear: one a server made before shares were enciphered (a code of 20 characters). */
  enciphered: boolean;
}

/** A share just made: its listing and its code. */
export interface CreatedShare extends ShareListing {
  /** The code, grouped with hyphens: give it to whoever should download. It never reached the server. */
  code: string;
  /** Set when the expiry asked for was longer than the server allows. */
  warning?: string;
}

/** A listing, with what a download needs of it: the share's keys (none for a share in the clear) and what the server calls each file. */
interface OpenedListing {
  listing: ShareListing;
  keys?: ShareCipher;
  /** File `i` of `listing.files`: the name the server keeps it under, and its index in the share (its key stream's). */
  stored: { name: string; index: number }[];
}

/** A connection to the server, as shares use it. */
export interface ShareLink {
  /** Sends one control message. */
  send(message: Uint8Array): void;
  /**
   * Sends one data message; false means "full": wait for {@link drained}.
   * With `release` the transport frees the buffer once the server has it.
   */
  sendData(stream: number, data: Uint8Array, ppid: number, opts?: { release?: boolean }): boolean;
  /** Resolves when more data may be sent; rejects if the link closes. */
  drained(): Promise<void>;
  /** Drops the data of request `req` still queued (not begun on the wire); absent: nothing is dropped. */
  discardData?(req: number): void;
  /** Bytes handed to {@link sendData} that the server has not yet acknowledged; absent: none are held. */
  unsent?(): number;
  /** Delivers every decoded control message; returns an unsubscribe function. */
  onMessage(handler: (msg: AnyMessage) => void): () => void;
  /**
   * Delivers every data message; when the handler returns a promise, the
   * link takes no more data until it settles (download backpressure).
   */
  onData(handler: (stream: number, data: Uint8Array, ppid: number) => void | Promise<void>): () => void;
  /** Calls `handler` once if the link is lost; returns an unsubscribe function. */
  onClose(handler: (err: SfxError) => void): () => void;
  /**
   * An upload or download where nothing arrives, goes out or is written for this long fails
   * (SFX_TRANSFER_FAILED); absent: no such limit. See {@link stallLimitMs}.
   */
  readonly stallMs?: number;
}

/** Download bytes not yet on disk after which the association is paused (flow control slows the server). */
export const DOWNLOAD_PAUSE_BYTES = 4 * 2 ** 20;

/**
 * A {@link ShareLink} over an SCTP association that has already said hello:
 * control messages on stream 0, data on the others. While data handlers
 * have more than {@link DOWNLOAD_PAUSE_BYTES} not yet written, the
 * association is paused, so the server's window closes instead of this
 * process buffering a whole file.
 */
export function associationShareLink(association: AssociationLike): ShareLink {
  let closed: SfxError | undefined;
  let pending = 0;
  let paused = false;
  const drainWaiters = new Set<(err?: SfxError) => void>();
  const closeHandlers = new Set<(err: SfxError) => void>();
  const messageHandlers = new Set<(msg: AnyMessage) => void>();
  const dataHandlers = new Set<(stream: number, data: Uint8Array, ppid: number) => void | Promise<void>>();
  const settle = (bytes: number) => {
    pending -= bytes;
    if (paused && pending <= DOWNLOAD_PAUSE_BYTES / 2) {
      paused = false;
      if (!closed) association.resume();
    }
  };
  const onMessage = (streamId: number, data: Uint8Array, ppid: number) => {
    if (streamId === CONTROL_STREAM) {
      let msg: AnyMessage;
      try {
        msg = decodeMessage(data);
      } catch {
        return; // the connection's owner reports protocol errors
      }
      for (const h of [...messageHandlers]) h(msg);
      return;
    }
    // Read the size first: a handler may free the message once it is written.
    const n = data.byteLength;
    for (const h of [...dataHandlers]) {
      const r = h(streamId, data, ppid);
      if (r && typeof r.then === "function") {
        pending += n;
        if (!paused && pending > DOWNLOAD_PAUSE_BYTES) {
          paused = true;
          association.pause();
        }
        r.then(() => settle(n), () => settle(n));
      }
    }
  };
  const onClose = (reason: CloseReason) => {
    closed = new SfxError("SFX_CONNECTION_LOST", `The connection to the server was lost (${reason.kind}${reason.message ? `: ${reason.message}` : ""})`);
    for (const w of [...drainWaiters]) w(closed);
    drainWaiters.clear();
    for (const h of [...closeHandlers]) h(closed);
    association.off("message", onMessage);
    association.off("close", onClose);
  };
  association.on("message", onMessage);
  association.on("close", onClose);
  return {
    send(message) {
      if (closed) throw closed;
      try {
        association.send(CONTROL_STREAM, message, { ppid: CONTROL_PPID });
      } catch (err) {
        throw new SfxError("SFX_CONNECTION_LOST", "The connection to the server was lost", { cause: err });
      }
    },
    sendData(stream, data, ppid, opts) {
      if (closed) throw closed;
      try {
        return association.send(stream, data, { ppid, release: opts?.release === true });
      } catch (err) {
        throw new SfxError("SFX_CONNECTION_LOST", "The connection to the server was lost", { cause: err });
      }
    },
    discardData(req) {
      if (!closed) association.discardQueued(dataOf(req));
    },
    unsent: () => association.bufferedAmount,
    drained() {
      if (closed) return Promise.reject(closed);
      return new Promise<void>((resolvePromise, reject) => {
        const done = (err?: SfxError) => {
          drainWaiters.delete(done);
          association.off("drain", onDrain);
          if (err) reject(err);
          else resolvePromise();
        };
        const onDrain = () => done();
        drainWaiters.add(done);
        association.once("drain", onDrain);
      });
    },
    onMessage(handler) {
      messageHandlers.add(handler);
      return () => messageHandlers.delete(handler);
    },
    onData(handler) {
      dataHandlers.add(handler);
      return () => dataHandlers.delete(handler);
    },
    onClose(handler) {
      if (closed) {
        const err = closed;
        queueMicrotask(() => handler(err));
        return () => {};
      }
      closeHandlers.add(handler);
      return () => closeHandlers.delete(handler);
    },
  };
}

/** A file to upload: its name in the share, its size, and its bytes (see `walk.ts`). */
export interface LocalShareFile {
  /** Relative `/`-separated name inside the share. */
  path: string;
  /** Where the file is on this machine (see {@link SourceFile.local}): never told to the server. */
  local?: string;
  size: number;
  /** Reads the file from the start, in chunks. */
  read(): AsyncIterable<Uint8Array>;
}

/** Progress of a put or get. */
export interface ShareProgress {
  /** Bytes moved so far (a resumed download counts what was already on disk). */
  bytes: number;
  /** Bytes in total. */
  total: number;
  /** The file being moved. */
  file: string;
}

/**
 * The files named on a command line, as `sfx send` collects them (a file
 * keeps its base name, a directory contributes every regular file under
 * it, named from the directory's own name down), checked against the share
 * store's name rules. A share needs each size up front, so standard input
 * (`-`) is accepted only as a file already spooled by {@link spoolStdin},
 * passed as `opts.stdin`.
 */
export async function collectShareFiles(
  paths: readonly string[],
  onSkip?: CollectOptions["onSkip"],
  opts: { stdin?: LocalShareFile } = {},
): Promise<LocalShareFile[]> {
  if (paths.filter((p) => p === "-").length > 1) throw new SfxError("SFX_USAGE", "'-' (standard input) can be given only once");
  if (paths.includes("-") && !opts.stdin) throw new SfxError("SFX_USAGE", "A share cannot read standard input ('-') here: give files or directories");
  // Standard input's file goes where `-` stands among the arguments (before the files of later ones).
  const at = paths.indexOf("-");
  const before = at < 0 ? [...paths] : paths.slice(0, at);
  const after = at < 0 ? [] : paths.slice(at + 1);
  const collect = async (args: string[]) => (args.length > 0 ? await collectFiles(args, { onSkip, allowEmpty: opts.stdin !== undefined, command: "sfx share put" }) : []);
  const files = [...(await collect(before)), ...(opts.stdin ? [null] : []), ...(await collect(after))];
  const out: LocalShareFile[] = [];
  for (const f of files) {
    if (f === null) {
      out.push(opts.stdin!);
      continue;
    }
    if (f.size === null) throw new SfxError("SFX_USAGE", `${f.path}: size unknown`);
    out.push({ path: f.path, ...(f.local === undefined ? {} : { local: f.local }), size: f.size, read: () => f.read() });
  }
  if (out.length === 0) throw new SfxError("SFX_USAGE", "Nothing to share: the directories are empty");
  checkSharePaths(out.map((f) => f.path));
  return out;
}

/** Standard input saved to a private temporary file: a share file whose size is known. */
export interface SpooledFile extends LocalShareFile {
  /** Deletes the temporary file (and its directory). Idempotent. */
  remove(): Promise<void>;
}

/**
 * Reads `input` (standard input) to its end into a temporary file only this
 * user can read, under `dir` (default: the system's temporary directory),
 * so it can be shared under `name`. Throws SFX_USAGE or SFX_BAD_ARGUMENT
 * for a name the share store would refuse (before reading anything), SFX_IO
 * when the temporary file cannot be written (the message says where, e.g. a
 * full disk), and whatever SfxError ended `input` (a cancel); nothing is
 * left behind then.
 */
export async function spoolStdin(name: string, input: AsyncIterable<Uint8Array | string>, dir: string = tmpdir()): Promise<SpooledFile> {
  let path: string;
  try {
    path = sanitizeRelativePath(name);
  } catch (err) {
    throw new SfxError("SFX_USAGE", `Invalid --name ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  checkSharePaths([path]);
  const spoolDir = await mkdtemp(join(dir, "sfx-stdin-")).catch((err) => {
    throw ioError(err, "create a temporary directory in", dir);
  });
  const file = join(spoolDir, "stdin");
  // Removed however the process ends (a second Ctrl-C exits at once, skipping every finally).
  const onExit = () => rmSync(spoolDir, { recursive: true, force: true });
  process.on("exit", onExit);
  const remove = async () => {
    process.off("exit", onExit);
    await rm(spoolDir, { recursive: true, force: true });
  };
  let size = 0;
  try {
    const h = await open(file, "wx", 0o600);
    try {
      for await (const part of readingStdin(input)) {
        const bytes = typeof part === "string" ? new TextEncoder().encode(part) : part;
        await h.write(bytes);
        size += bytes.length;
      }
    } finally {
      await h.close();
    }
  } catch (err) {
    await remove();
    if (err instanceof SfxError) throw err; // e.g. cancelled by the caller, who ended `input` with it
    const e = ioError(err, "save standard input to", file);
    throw new SfxError(e.code, `${e.message} (a share needs its size up front, so standard input is saved first; TMPDIR picks where)`, { cause: err });
  }
  const source = fileSource(file, path, size);
  return { path, size, read: () => source.read(), remove };
}

/**
 * A {@link ShareLink} over a welcomed {@link ClientConnection}. Download
 * data handlers that return promises pause the connection while more than
 * {@link DOWNLOAD_PAUSE_BYTES} are not yet written.
 */
export function connectionShareLink(conn: ClientConnection): ShareLink {
  let pending = 0;
  let paused = false;
  const settle = (bytes: number) => {
    pending -= bytes;
    if (paused && pending <= DOWNLOAD_PAUSE_BYTES / 2) {
      paused = false;
      if (!conn.closedWith) conn.resume();
    }
  };
  const lost = (err: unknown) =>
    err instanceof SfxError ? err : new SfxError("SFX_CONNECTION_LOST", "The connection to the server was lost", { cause: err });
  return {
    stallMs: stallLimitMs(conn.welcome.limits),
    send(message) {
      try {
        conn.sendControl(message);
      } catch (err) {
        throw lost(err);
      }
    },
    sendData(stream, data, ppid, opts) {
      try {
        return conn.sendData(stream, data, ppid, opts);
      } catch (err) {
        throw lost(err);
      }
    },
    drained: () => conn.drain(),
    unsent: () => conn.association.bufferedAmount,
    discardData(req) {
      if (!conn.closedWith) conn.association.discardQueued(dataOf(req));
    },
    onMessage: (handler) => conn.onMessage(handler),
    onData(handler) {
      return conn.onData((stream, data, ppid) => {
        // Read the size first: the handler may free the message once it is written.
        const n = data.byteLength;
        const r = handler(stream, data, ppid);
        if (r && typeof r.then === "function") {
          pending += n;
          if (!paused && pending > DOWNLOAD_PAUSE_BYTES) {
            paused = true;
            // Data waits; control keeps coming: the ends that let written files finish (and free
            // their writers for the next files) must not wait behind it.
            conn.pause({ keepControl: true });
          }
          r.then(() => settle(n), () => settle(n));
        }
      });
    },
    onClose: (handler) => conn.onClose(handler),
  };
}

/** A file a get fetches: from `offset`, into `writer` when one was opened to resume it, else into one opened as its bytes come. */
interface GetEntry {
  file: { path: string; size: number; sha256: string };
  /** What the server calls the file, and its index in the share (its key stream's). */
  stored: { name: string; index: number };
  offset: number;
  writer?: SafeWrite;
}

/**
 * What a put can refuse before reading or sending anything: a cancel already made, an expiry or
 * a download count out of range. (An expiry already past is the server's to judge, by its clock.)
 */
function checkPut(opts: PutOptions): void {
  if (opts.signal?.aborted) throw new SfxError("SFX_CANCELLED", "Upload cancelled");
  // Said as the caller's mistake (the encoder's words were a transfer failure).
  if (opts.expiresInMs !== undefined && !(Number.isSafeInteger(opts.expiresInMs) && opts.expiresInMs >= MIN_EXPIRY_MS)) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid expiresInMs ${JSON.stringify(opts.expiresInMs)}: use at least ${MIN_EXPIRY_MS} (one second)`);
  }
  if (opts.expiresAt !== undefined && !(Number.isSafeInteger(opts.expiresAt) && opts.expiresAt > 0 && opts.expiresAt <= MAX_TIME_MS)) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid expiresAt ${JSON.stringify(opts.expiresAt)}: use milliseconds since the epoch`);
  }
  if (opts.expiresAt !== undefined && opts.expiresInMs !== undefined) {
    throw new SfxError("SFX_BAD_ARGUMENT", "Give expiresInMs or expiresAt, not both");
  }
  if (opts.maxDownloads !== undefined && !(Number.isSafeInteger(opts.maxDownloads) && opts.maxDownloads >= 1 && opts.maxDownloads <= MAX_DOWNLOADS_LIMIT)) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid maxDownloads ${JSON.stringify(opts.maxDownloads)}: use 1 to ${MAX_DOWNLOADS_LIMIT}`);
  }
}

/** Writers a get opens at once as bytes come (besides those of resumed files): file descriptors are a limited resource. */
const MAX_OPEN_WRITERS = 32;

/**
 * Why an enciphered share's upload or download stopped, as the server is told it: the kind of
 * failure only. The message itself names the files, and may hold part of a file's SHA-256 (a
 * mismatch says what it expected), which the server must not learn: it could make the failure
 * happen (a byte changed) to read them.
 */
function sealedReason(err: SfxError): string {
  return err.code === "SFX_CANCELLED" ? "cancelled" : `failed on the client (${err.code})`;
}

/**
 * Refuses, before anything is sent, a share whose listing would not fit one control message with
 * its sealed list (the server would refuse it only once every byte had come). The list is sealed
 * with random SHA-256s for the estimate: they compress as the real ones do.
 */
function checkSealable(keys: ShareCipher, files: readonly LocalShareFile[]): void {
  const sealed = keys.seal(files.map((f) => ({ path: f.path, size: f.size, sha256: randomBytes(32).toString("hex") })));
  // As long, with a little room for the real hashes' compressing a few bytes worse.
  checkSealedListing(files.map((f) => f.size), "A".repeat(4 * Math.ceil((sealed.length + 64 + sealed.length / 100) / 4)));
}

/** Options of {@link ShareClient.put}. */
export interface PutOptions {
  expiresInMs?: number;
  expiresAt?: number;
  maxDownloads?: number;
  onProgress?: (p: ShareProgress) => void;
  /**
   * Cancels the upload, until the server has every byte and end: from then on it publishes the
   * share, which a cancel could not stop in time everywhere (and a share whose code nobody
   * learned would hold its bytes until it expired), so the put waits for the code instead, and
   * calls `onTooLateToCancel` once.
   */
  signal?: AbortSignal;
  onTooLateToCancel?: () => void;
}

/** Options of {@link ShareClient.get}. */
export interface GetOptions {
  /** Directory to write into (made, once the files are known to fit, if missing). */
  dir: string;
  /** Files to fetch (default: all). */
  names?: readonly string[];
  /** Replace existing files instead of writing `name (1).ext`. */
  overwrite?: boolean;
  onProgress?: (p: ShareProgress) => void;
  /** A get that fails keeps what arrived of each file, hidden, to resume: told here of each (its name in `dir`). */
  onKept?: (k: { path: string; bytes: number; temporary: string }) => void;
  /**
   * Called once when the server has not begun to answer a get of a share with a download limit
   * within 2 s: downloads in progress hold its remaining places, and the server asks their clients
   * whether they are still there (one that is gone is let go within 10 s).
   */
  onWaiting?: () => void;
  signal?: AbortSignal;
}

/** How long a get of a limited share waits for the server's first answer before {@link GetOptions.onWaiting}. */
const WAITING_HINT_MS = 2000;

/** One file a get dealt with. */
export interface GotFile {
  /** Its name in the share. */
  name: string;
  /** Where it is now. */
  path: string;
  size: number;
  sha256: string;
  /** Bytes that were already on disk from an interrupted get. */
  resumedFrom: number;
  /** True when the file was already in place with the right hash, so nothing was fetched. */
  alreadyThere: boolean;
}

/** What {@link ShareClient.get} reports. */
export interface GetResult {
  files: GotFile[];
  /** Bytes fetched from the server in this run. */
  bytes: number;
  expiresAt: number;
  /** False for a share in the clear (see {@link ShareListing.enciphered}). */
  enciphered: boolean;
}

/** Data a download holds while it waits for `share.sending` (see {@link ShareClient.get}). */
const MAX_EARLY_BYTES = 16 * 2 ** 20;

interface Pending {
  onMessage(msg: AnyMessage): void;
  fail(err: SfxError): void;
}

/** How long a one-answer request (a listing) waits for the server. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Options of a one-answer request. */
export interface RequestOptions {
  /** Aborting it gives up at once (SFX_CANCELLED). */
  signal?: AbortSignal;
  /** Gives up after this long (SFX_CONNECTION_LOST); default 30 s. */
  timeoutMs?: number;
}

/** Runs share requests over one {@link ShareLink}. */
export class ShareClient {
  readonly #link: ShareLink;
  readonly #pending = new Map<number, Pending>();
  readonly #unsubscribe: (() => void)[] = [];
  #lastReq = 0;

  constructor(link: ShareLink) {
    this.#link = link;
    this.#unsubscribe.push(
      link.onMessage((msg) => {
        const req = msg.req;
        if (typeof req !== "number") return;
        this.#pending.get(req)?.onMessage(msg);
      }),
      link.onClose((err) => {
        for (const p of [...this.#pending.values()]) p.fail(err);
      }),
    );
  }

  /** Stops listening to the link (the link itself stays open). */
  dispose(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  #newReq(): number {
    // Request ids double as data PPID tags: skip any whose tag is in use.
    for (let i = 0; i < 4096; i++) {
      // Odd, so that no exchange on the same connection has the tag (see nextShareRequestId).
      const req = this.#lastReq = nextShareRequestId(this.#lastReq);
      if (![...this.#pending.keys()].some((r) => xidTag(r) === xidTag(req))) return req;
    }
    throw new SfxError("SFX_LIMIT", "Too many share requests in flight on one connection");
  }

  /** Sends `message` for `req` and resolves with the first answer `accept` takes. */
  #request<T>(req: number, message: Uint8Array, accept: (msg: AnyMessage) => T | undefined, opts: RequestOptions = {}): Promise<T> {
    return new Promise<T>((resolvePromise, rejectPromise) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => settle(() => rejectPromise(new SfxError("SFX_CANCELLED", "Cancelled")));
      const settle = (then: () => void) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(req);
        then();
      };
      const reject = (err: unknown) => settle(() => rejectPromise(err));
      this.#pending.set(req, {
        onMessage: (msg) => {
          if (ErrorMessage.is(msg)) return reject(errorFromMessage(msg));
          const value = accept(msg);
          if (value !== undefined) settle(() => resolvePromise(value));
        },
        fail: (err) => reject(err),
      });
      // A server that never answers must not hold the command for good: Ctrl-C, or the timeout.
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const ms = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
      timer = setTimeout(() => reject(new SfxError("SFX_CONNECTION_LOST", `The server did not answer within ${ms / 1000} s`)), ms);
      try {
        this.#link.send(message);
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Lists a share: files, sizes, expiry. `SFX_BAD_CODE` locally for a malformed code. */
  async list(code: string, opts: RequestOptions = {}): Promise<ShareListing> {
    return (await this.#list(code, opts)).listing;
  }

  async #list(code: string, opts: RequestOptions): Promise<OpenedListing> {
    // The server is sent the code's lookup, never the code (for a share in the clear, its store key).
    const keys = isPlainCode(code) ? undefined : ShareCipher.of(code);
    const req = this.#newReq();
    const msg = await this.#request(req, ShareLs.encode({ req, code: lookupOf(code) }), (m) => (ShareListingMessage.is(m) ? m : undefined), opts);
    let files = msg.files;
    if (keys) {
      if (msg.sealed === undefined) throw new SfxError("SFX_PROTOCOL", "The server listed the share without its sealed list of files");
      files = keys.open(msg.sealed);
      // The server's files are the list's, in its order, or they are not this share's.
      const matches = files.length === msg.files.length && files.every((f, i) => msg.files[i].path === storedName(i) && msg.files[i].size === f.size);
      if (!matches) throw new SfxError("SFX_PROTOCOL", "The server's files are not those of the share's sealed list");
    } else if (msg.sealed !== undefined) {
      throw new SfxError("SFX_PROTOCOL", "The server listed a sealed list of files for a share in the clear");
    }
    // Names are checked before anyone sees or uses them: `../x`, or terminal escapes to print. A
    // sealed list's are its uploader's (who had the code), not the server's.
    const whose = keys ? "The share's sealed list holds" : "The server listed";
    if (keys) {
      // A sealed list's names pass the rules its upload had to, which the server can no longer check.
      try {
        const checked = checkSharePaths(files.map((f) => f.path));
        const changed = checked.findIndex((p, i) => p !== files[i].path);
        if (changed >= 0) throw new SfxError("SFX_BAD_ARGUMENT", `${JSON.stringify(files[changed].path)} is not in Unicode NFC`);
      } catch (err) {
        throw new SfxError("SFX_PROTOCOL", `${whose} a name no share may hold: ${(err as Error).message}`, { cause: err });
      }
    }
    const seen = new Set<string>();
    for (const f of files) {
      try {
        sanitizeRelativePath(f.path);
      } catch (err) {
        // Not the user's doing (a share put by sfx holds no such name): said so, not as if the user gave it.
        throw new SfxError("SFX_PROTOCOL", `${whose} an unsafe file name: ${(err as Error).message}`, { cause: err });
      }
      if (seen.has(f.path)) throw new SfxError("SFX_PROTOCOL", `${whose} ${JSON.stringify(f.path)} twice`);
      seen.add(f.path);
    }
    return {
      listing: { files, createdAt: msg.createdAt, expiresAt: msg.expiresAt, maxDownloads: msg.maxDownloads, downloads: msg.downloads, enciphered: keys !== undefined },
      ...(keys ? { keys } : {}),
      stored: msg.files.map((f, index) => ({ name: f.path, index })),
    };
  }

  /**
   * Uploads `files` as one share and resolves with its code, expiry and
   * files (and a warning when the server shortened the expiry).
   */
  async put(files: readonly LocalShareFile[], opts: PutOptions = {}): Promise<CreatedShare> {
    checkPut(opts);
    // The server sees the names no more: they are checked here, as it checked them, and sealed
    // as it stored them (in Unicode NFC).
    const names = checkSharePaths(files.map((f) => f.path));
    const keys = ShareCipher.generate();
    checkSealable(keys, files);
    /** Each file as sealed in the list: its name, size and SHA-256 before enciphering. */
    const sealedFiles: SealedFile[] = [];
    const req = this.#newReq();
    const total = files.reduce((n, f) => n + f.size, 0);
    let failure: SfxError | undefined;
    let readyResolve!: (warning: string | undefined) => void;
    let createdResolve!: (c: CreatedShare) => void;
    let reject!: (err: SfxError) => void;
    const ready = new Promise<string | undefined>((r) => (readyResolve = r));
    const created = new Promise<CreatedShare>((r, j) => {
      createdResolve = r;
      reject = (err) => {
        failure ??= err;
        j(err);
      };
    });
    created.catch(() => {});
    /** Every byte and end has been handed to the transport. */
    let allSent = false;
    const onAbort = () => {
      // Once the server has every byte too, what is left is its own (hash checks, publishing).
      if (allSent && (this.#link.unsent?.() ?? 0) === 0) return opts.onTooLateToCancel?.();
      // The upload's bytes still queued would only be dropped by the server: the cancel goes first.
      this.#link.discardData?.(req);
      this.#tryCancel(req, "cancelled");
      this.#pending.get(req)?.fail(new SfxError("SFX_CANCELLED", "Upload cancelled"));
    };
    /** Counts whatever moves the upload on (messages, bytes handed to the transport), for the stall watch. */
    let moves = 0;
    this.#pending.set(req, {
      onMessage: (msg) => {
        moves++;
        if (ErrorMessage.is(msg)) this.#pending.get(req)?.fail(errorFromMessage(msg));
        else if (ShareReady.is(msg)) readyResolve(msg.warning);
        else if (ShareCreated.is(msg)) {
          this.#pending.delete(req);
          createdResolve({
            code: keys.code,
            createdAt: msg.createdAt,
            expiresAt: msg.expiresAt,
            maxDownloads: msg.maxDownloads,
            downloads: 0,
            files: sealedFiles,
            enciphered: true,
            ...(msg.warning ? { warning: msg.warning } : {}),
          });
        }
      },
      fail: (err) => {
        this.#pending.delete(req);
        readyResolve(undefined);
        reject(err);
      },
    });
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const stopWatch = this.#watch(req, () => moves);
    try {
      this.#link.send(SharePut.encode({
        req,
        lookup: keys.lookup,
        files: files.map((f, i) => ({ path: storedName(i), size: f.size })),
        ...(opts.expiresInMs !== undefined ? { expiresInMs: opts.expiresInMs } : {}),
        ...(opts.expiresAt !== undefined ? { expiresAt: opts.expiresAt } : {}),
        ...(opts.maxDownloads !== undefined ? { maxDownloads: opts.maxDownloads } : {}),
      }));
      await ready;
      if (failure) throw failure;
      let sent = 0;
      for (let i = 0; i < files.length && !failure; i++) {
        const f = files[i];
        const stream = shareDataStream(i);
        const ppid = dataPpid(req, i);
        /** Of the file's bytes (sealed in the list), and of what the server is sent (which it checks). */
        const hash = createHash("sha256");
        const sentHash = createHash("sha256");
        const cipher = keys.cipher(i, 0);
        let size = 0;
        const source = f.read()[Symbol.asyncIterator]();
        try {
          while (!failure) {
            const next = await source.next();
            // Cancelled or failed while the read was under way: nothing more goes out.
            if (next.done || failure) break;
            const data = next.value;
            const n = data.length;
            size += n;
            if (size > f.size) break;
            hash.update(data);
            // A fresh buffer from the source (see SourceFile), enciphered in place, then not touched: the transport may free it.
            cipher.apply(data);
            sentHash.update(data);
            if (!this.#link.sendData(stream, data, ppid, { release: true })) await Promise.race([this.#link.drained(), created]);
            sent += n;
            moves++;
            opts.onProgress?.({ bytes: sent, total, file: f.path });
          }
        } catch (err) {
          if (!failure) throw err instanceof SfxError ? err : ioError(err, "read", f.path);
        } finally {
          await source.return?.();
        }
        if (failure) break;
        if (size !== f.size) {
          throw new SfxError("SFX_IO", `${f.path} changed while it was being uploaded (${f.size} bytes expected)`);
        }
        this.#link.send(ShareEnd.encode({ req, file: i, size, sha256: sentHash.digest("hex") }));
        sealedFiles.push({ path: names[i], size, sha256: hash.digest("hex") });
      }
      if (!failure) this.#link.send(ShareSeal.encode({ req, sealed: keys.seal(sealedFiles) }));
      allSent = !failure;
      return await created;
    } catch (err) {
      const e = failure ?? (err instanceof SfxError ? err : new SfxError("SFX_TRANSFER_FAILED", (err as Error).message, { cause: err }));
      this.#link.discardData?.(req);
      this.#tryCancel(req, sealedReason(e));
      this.#pending.delete(req);
      throw e;
    } finally {
      stopWatch();
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Fails request `req` (telling the server) once `progress()` stands still for the link's stall
   * limit, not counting time while `busy()`. Returns the function that stops watching.
   */
  #watch(req: number, progress: () => number, busy?: () => boolean): () => void {
    const limit = this.#link.stallMs;
    if (limit === undefined) return () => {};
    return watchStall(limit, progress, (seconds) => {
      const pending = this.#pending.get(req);
      if (!pending) return;
      const why = `Nothing moved for ${seconds} s`;
      this.#tryCancel(req, why);
      this.#pending.delete(req); // told once: failing does not cancel again
      pending.fail(new SfxError("SFX_TRANSFER_FAILED", `${why}: the server stopped answering (is it overloaded?)`));
    }, { busy });
  }

  #tryCancel(req: number, reason: string): void {
    if (!this.#pending.has(req)) return;
    try {
      this.#link.send(ShareCancel.encode({ req, reason: reason.slice(0, 200) }));
    } catch {
      // the link is gone; nothing to cancel
    }
  }

  /**
   * Downloads all or the named files of a share into `opts.dir`, resuming
   * interrupted files. On failure, partial files are kept (hidden, as
   * `.name.sfx-part`) for the next `get` to continue.
   */
  async get(code: string, given: GetOptions): Promise<GetResult> {
    // Resolved once, as a path is read (`link/../x` is ./x): every step then means the same
    // directory, where mkdir on paper and the kernel's walk through the link had parted.
    const opts = { ...given, dir: resolve(given.dir) };
    const { listing, keys, stored } = await this.#list(code, { signal: opts.signal });
    const storedOf = new Map(listing.files.map((f, i) => [f, stored[i]]));
    let wanted = listing.files;
    if (opts.names && opts.names.length > 0) {
      const byName = new Map(listing.files.map((f) => [f.path, f]));
      wanted = [];
      for (const n of opts.names) {
        const name = n.normalize("NFC").replace(/\\/g, "/").replace(/^\.\//, "").replace(/\/+$/, "");
        const f = byName.get(n.normalize("NFC")) ?? byName.get(name);
        // A directory of the share names every file under it.
        const under = f ? [f] : listing.files.filter((x) => x.path.startsWith(`${name}/`));
        if (under.length === 0) throw new SfxError("SFX_BAD_ARGUMENT", `The share has no file or directory named ${JSON.stringify(n)}: 'sfx share ls ${code}' lists what it has`);
        for (const x of under) if (!wanted.includes(x)) wanted.push(x);
      }
    }
    // list() checked the server's names before any of them is used, even to look for a copy
    // already there: `../x` would hash a file outside the directory, and asking or not would tell
    // the server whether its guess of that file's contents was right.
    const total = wanted.reduce((n, f) => n + f.size, 0);
    const results: GotFile[] = [];
    const todo: GetEntry[] = [];
    /** Writers opened, here or as their bytes come: kept (hidden, resumable) if the get fails. */
    const opened: SafeWrite[] = [];
    let moved = 0;
    const listings = new Map<string, Promise<Set<string>>>();
    const cache = newSafeWriteCache();
    try {
      /** Each file to fetch, with what an interrupted get kept of it. */
      const plan: { file: GetEntry["file"]; kept: number }[] = [];
      let resumable = 0;
      for (const f of wanted) {
        const existing = await alreadyThere(opts.dir, f.path, f.size, f.sha256, !opts.overwrite);
        if (existing) {
          results.push({ name: f.path, path: existing, size: f.size, sha256: f.sha256, resumedFrom: 0, alreadyThere: true });
          moved += f.size;
          continue;
        }
        // A file an interrupted get kept in part (noted with its hash: a part another share's file of
        // this name left is not continued) is opened first, to say where to start. At most
        // MAX_RESUMED_FILES are; every other file opens when its bytes come, a few at a time, so
        // that a share of thousands of files does not open thousands at once.
        const kept = resumable < MAX_RESUMED_FILES ? (await resumableBytes(opts.dir, f.path, f.sha256, listings)) ?? 0 : 0;
        if (kept > 0) resumable++;
        plan.push({ file: f, kept });
      }
      if (plan.length === 0) return { files: results, bytes: 0, expiresAt: listing.expiresAt, enciphered: listing.enciphered };
      // Refuse what cannot fit before asking, and before creating any directory: a download that
      // fills the disk half-way helps nobody.
      const creating = plan.filter((e) => e.kept === 0);
      // Each new directory on the way takes an inode as each file does.
      const dirs = await newDirectories(opts.dir, creating.map((e) => e.file.path));
      // Every file of a get is noted with its hash as it is written (resumable).
      const atOnce = Math.min(plan.length, MAX_OPEN_WRITERS);
      const room = await roomFor(opts.dir, plan.map((e) => e.file.size - e.kept), creating.length + dirs, inodesInPassing(atOnce, atOnce));
      if (room?.inodes && room.inodes.need > room.inodes.free) {
        const what = `${creating.length} ${creating.length === 1 ? "file" : "files"}${dirs > 0 ? ` and ${dirs} ${dirs === 1 ? "folder" : "folders"}` : ""}`;
        throw new SfxError(
          "SFX_IO",
          `Not enough room in ${opts.dir}: ${what} to create take ${room.inodes.need} inodes while being written (a file being written also takes a lock, a link and a note for a while), it has ${room.inodes.free} free (its file system is out of inodes, not of space)`,
        );
      }
      if (room && !room.fits) {
        const resumed = plan.reduce((n, e) => n + e.kept, 0);
        const kept = resumed > 0 ? ` more (${formatBytes(resumed)} of them already here)` : "";
        throw new SfxError("SFX_IO", `Not enough free space in ${opts.dir}: the files need ${formatBytes(room.need)}${kept}, it has ${formatBytes(room.free)}`);
      }
      const tooLong = await pathTooLong(opts.dir, plan.map((e) => e.file.path));
      if (tooLong !== undefined) {
        throw new SfxError("SFX_IO", `Cannot save ${tooLong.path} in ${opts.dir}: its path would be ${tooLong.bytes} bytes, more than the system takes (${PATH_MAX_BYTES.toLocaleString("en-US")})`);
      }
      await prepareDirectory(opts.dir);
      for (const { file: f, kept } of plan) {
        if (kept === 0) {
          // Where it goes is checked now all the same, before anything is asked for.
          await prepareDestination(opts.dir, f.path, cache);
          todo.push({ file: f, stored: storedOf.get(f)!, offset: 0 });
          continue;
        }
        const writer = await openSafeWrite(opts.dir, f.path, { size: f.size, resume: true, resumeKey: f.sha256, overwrite: opts.overwrite });
        opened.push(writer);
        moved += writer.offset;
        todo.push({ file: f, stored: storedOf.get(f)!, offset: writer.offset, writer });
      }
      // Bytes kept from an interrupted get are hashed before anything is asked for: the server
      // stops a download whose client reads nothing for a while. Ctrl-C stops it (the catch below
      // keeps the parts; their hash stops at once).
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new SfxError("SFX_CANCELLED", "Download cancelled"));
        if (opts.signal?.aborted) return onAbort();
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        void Promise.all(opened.map((w) => w.ready)).then(() => {
          opts.signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
      // Only a share with a download limit can be held up by downloads in progress (see onWaiting).
      const fetched = await this.#fetch(keys, lookupOf(code), todo, opened, cache, total, moved, { ...opts, onWaiting: listing.maxDownloads === null ? undefined : opts.onWaiting });
      for (const { file, offset } of todo) {
        const r = fetched.get(file.path)!;
        results.push({ name: file.path, path: r.path, size: r.size, sha256: r.sha256, resumedFrom: offset, alreadyThere: false });
      }
      const bytes = todo.reduce((n, e) => n + e.file.size - e.offset, 0);
      return { files: results, bytes, expiresAt: listing.expiresAt, enciphered: listing.enciphered };
    } catch (err) {
      const root = await realpath(opts.dir).catch(() => resolve(opts.dir));
      for (const writer of opened) {
        const bytes = await writer.abort({ keepPartial: true });
        if (bytes > 0) opts.onKept?.({ path: relative(root, writer.finalPath).split(sep).join("/"), bytes, temporary: writer.partPath });
      }
      // Folders made for files that never arrived (those with a file or a kept part stay).
      await removeMadeDirectories(cache);
      throw err;
    }
  }

  /** `keys`: an enciphered share's (none for one in the clear); `code`: what the server is told, its lookup or the code in the clear. */
  async #fetch(
    keys: ShareCipher | undefined,
    code: string,
    todo: GetEntry[],
    opened: SafeWrite[],
    cache: SafeWriteCache,
    total: number,
    startBytes: number,
    opts: GetOptions,
  ): Promise<Map<string, { path: string; size: number; sha256: string }>> {
    const req = this.#newReq();
    /** By the name the server keeps each under. */
    const byPath = new Map(todo.map((e) => [e.stored.name, e]));
    /**
     * `holds`: its writer was opened here and holds one of the MAX_OPEN_WRITERS until it finishes.
     * `cipher`: an enciphered share's file's key stream, from where the download of it starts.
     */
    type Slot = {
      w: GetEntry;
      writer?: Promise<SafeWrite>;
      holds?: boolean;
      received: number;
      end?: string;
      finishing?: Promise<void>;
      cipher?: { apply(data: Uint8Array): void };
    };
    // Writers opened as bytes come: at most MAX_OPEN_WRITERS at once (the server sends one file
    // after another, but finishing one — hash, fsync, rename — may lag behind the next ones).
    let free = MAX_OPEN_WRITERS;
    const queue: (() => void)[] = [];
    const giveBack = () => {
      const next = queue.shift();
      if (next) next();
      else free++;
    };
    /** Every open started: settled before #fetch returns, so that a failed get keeps (and unlocks) every writer. */
    const opening: Promise<unknown>[] = [];
    const writerOf = (slot: Slot): Promise<SafeWrite> => {
      if (slot.w.writer) return Promise.resolve(slot.w.writer);
      if (slot.writer) return slot.writer;
      slot.writer = (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((r) => queue.push(r))).then(async () => {
        if (failed) {
          giveBack();
          throw new SfxError("SFX_CANCELLED", "The download has failed");
        }
        try {
          // From its start (the plan said 0), noted so that it can be resumed if this get fails. A part
          // another get is writing now is left to it: this one writes its own (that get asked first).
          const w = await openSafeWrite(opts.dir, slot.w.file.path, { size: slot.w.file.size, resume: true, resumeKey: slot.w.file.sha256, discard: true, busyOk: true, overwrite: opts.overwrite, cache });
          opened.push(w);
          slot.holds = true;
          return w;
        } catch (err) {
          giveBack();
          throw err;
        }
      });
      opening.push(slot.writer.catch(() => {}));
      return slot.writer;
    };
    let slots: Slot[] | undefined;
    const results = new Map<string, { path: string; size: number; sha256: string }>();
    let moved = startBytes;
    let settle!: { resolve: () => void; reject: (e: SfxError) => void };
    const finished = new Promise<void>((resolvePromise, reject) => (settle = { resolve: resolvePromise, reject }));
    finished.catch(() => {});
    /** Every file is verified and in place, and the server was told so: nothing can fail the get now. */
    let received = false;
    /** The connection ended after every byte and every end had arrived: the get finishes here, uncounted. */
    let cutOff = false;
    let failed = false;
    const succeed = () => {
      this.#pending.delete(req);
      settle.resolve();
    };
    const fail = (err: SfxError) => {
      if (failed) return;
      if (received) return succeed();
      failed = true;
      this.#tryCancel(req, keys ? sealedReason(err) : err.message);
      this.#pending.delete(req);
      settle.reject(err);
      for (const waiting of queue.splice(0)) waiting(); // they see `failed`, and open nothing
    };
    const maybeDone = () => {
      if (!slots || results.size !== slots.length || failed) return;
      received = true;
      if (cutOff) return succeed();
      try {
        // The download counts (towards the share's maxDownloads) only now; its answer is share.done.
        this.#link.send(ShareReceived.encode({ req }));
      } catch {
        succeed(); // the connection is gone: the files are here all the same (the server counts nothing)
      }
    };
    const maybeFinish = (slot: Slot) => {
      if (slot.finishing || slot.end === undefined || slot.w.offset + slot.received !== slot.w.file.size) return;
      const end = slot.end;
      // Only the work counts as ours (`local`): bytes waiting for a writer are not, so a server
      // that stops sending is still found out.
      slot.finishing = writerOf(slot).then(async (w) => {
        local++;
        try {
          return await w.finish(end, slot.w.file.size);
        } finally {
          local--;
        }
      }).finally(() => {
        if (slot.holds) {
          slot.holds = false;
          giveBack();
        }
      }).then((r) => {
        results.set(slot.w.file.path, r);
        maybeDone();
      }, (err) => {
        if (isSfxError(err, "SFX_INTEGRITY") && slot.w.offset > 0) {
          // The bytes kept from an interrupted get were not what they should be (changed on disk?).
          return fail(new SfxError("SFX_INTEGRITY", `${err.message}; it had resumed from ${formatBytes(slot.w.offset)} kept from an earlier get, which did not match: the same get again fetches it whole`));
        }
        fail(err instanceof SfxError ? err : new SfxError("SFX_IO", String(err)));
      });
    };
    /**
     * The server's error, or the connection's end. Once every byte and every end has arrived,
     * what is left (hash check, fsync, rename) is local: the get finishes (uncounted, unless the
     * server saw every byte acknowledged), whether the server stopped, or gave up waiting for
     * share.received while a slow disk synced.
     */
    const allArrived = () => slots?.every((s) => s.end !== undefined && s.w.offset + s.received === s.w.file.size) === true;
    const endedEarly = (err: SfxError) => {
      if (!received && allArrived()) cutOff = true;
      else fail(err);
    };
    // A Ctrl-C once every byte and end is here stops nothing: the files are being checked and put in
    // place (a rename cannot be taken back). The get finishes as when the connection ends then,
    // rather than say "cancelled, the partial download is kept" of files that are whole.
    const onAbort = () => {
      if (!received && allArrived()) cutOff = true;
      else fail(new SfxError("SFX_CANCELLED", "Download cancelled"));
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // SCTP orders each stream on its own: data may overtake `share.sending` (e.g. when the
    // control packet was lost and resent). Hold such data, bounded, until the plan is known.
    let early: { data: Uint8Array; ppid: number }[] = [];
    let earlyBytes = 0;
    /** Counts whatever moves the download on, for the stall watch; `local`: writes and checks under way. */
    let moves = 0;
    let local = 0;
    const onData = (data: Uint8Array, ppid: number): void | Promise<void> => {
      if (failed) return;
      const { tag, fileIndex } = parseDataPpid(ppid);
      if (tag !== xidTag(req)) return; // another transfer's: not progress of this one
      moves++;
      if (!slots) {
        earlyBytes += data.byteLength;
        if (earlyBytes > MAX_EARLY_BYTES) return fail(new SfxError("SFX_PROTOCOL", "The server sent data before saying what it sends"));
        early.push({ data, ppid });
        return;
      }
      const slot = slots[fileIndex];
      if (!slot) return fail(new SfxError("SFX_PROTOCOL", `The server sent data for file ${fileIndex}, which was not asked for`));
      if (slot.w.offset + slot.received + data.byteLength > slot.w.file.size) {
        return fail(new SfxError("SFX_PROTOCOL", `The server sent more than ${slot.w.file.size} bytes of ${slot.w.file.path}`));
      }
      slot.cipher?.apply(data);
      slot.received += data.byteLength;
      moved += data.byteLength;
      opts.onProgress?.({ bytes: moved, total, file: slot.w.file.path });
      // The message is ours alone: the write frees it once it is on disk.
      return writerOf(slot).then(async (w) => {
        local++;
        try {
          await w.write(data, { release: true });
        } finally {
          local--;
          moves++;
        }
      }).then(() => maybeFinish(slot), (err) => fail(err));
    };
    const stopData = this.#link.onData((_stream, data, ppid) => onData(data, ppid));
    this.#pending.set(req, {
      onMessage: (msg) => {
        if (failed) return;
        moves++;
        // share.done, or any other answer once every file is here and verified (the server
        // stopping): the files are in place.
        if (received) return succeed();
        if (ErrorMessage.is(msg)) {
          const err = errorFromMessage(msg);
          if (!keys) return endedEarly(err);
          // The server names an enciphered share's file as it keeps it (`3`): said by its name.
          const message = renameUnreadableCopy(err.message, (name) => byPath.get(name)?.file.path);
          return endedEarly(message === err.message ? err : new SfxError(err.code, message));
        }
        if (ShareSending.is(msg)) {
          const list: Slot[] = [];
          const offered = new Set<string>();
          for (const f of msg.files) {
            const w = byPath.get(f.path);
            if (!w || f.offset !== w.offset || f.size !== w.file.size || offered.has(f.path)) {
              return fail(new SfxError("SFX_PROTOCOL", `The server offered ${JSON.stringify(f.path)}, which was not asked for`));
            }
            offered.add(f.path);
            list.push({ w, received: 0, ...(keys ? { cipher: keys.cipher(w.stored.index, w.offset) } : {}) });
          }
          if (list.length !== todo.length) {
            const missing = todo.filter((w) => !offered.has(w.stored.name)).map((w) => JSON.stringify(w.file.path));
            return fail(new SfxError("SFX_PROTOCOL", `The server did not offer ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}, which were asked for`));
          }
          slots = list;
          const held = early;
          early = [];
          for (const e of held) void onData(e.data, e.ppid);
          return;
        }
        if (ShareEnd.is(msg) && slots) {
          const slot = slots[msg.file];
          if (!slot) return fail(new SfxError("SFX_PROTOCOL", `End of an unknown file ${msg.file}`));
          // An enciphered share's file is kept only if what it deciphers to hashes as its sealed list says.
          slot.end = keys ? slot.w.file.sha256 : msg.sha256;
          maybeFinish(slot);
          return;
        }
        if (ShareDone.is(msg)) return fail(new SfxError("SFX_PROTOCOL", "The server said the download was done before it sent every file"));
      },
      // Once every byte and every end has arrived, what is left (hash check, fsync, rename) is
      // local: a connection ending now (the server stopping) changes nothing.
      fail: endedEarly,
    });
    const stopWatch = this.#watch(req, () => moves, () => local > 0);
    let waitingTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      // An abort that came after the kept parts were hashed and before the listener above was added: ask for nothing.
      if (opts.signal?.aborted) {
        this.#pending.delete(req);
        throw new SfxError("SFX_CANCELLED", "Download cancelled");
      }
      this.#link.send(ShareGet.encode({ req, code, files: todo.map((e) => ({ path: e.stored.name, offset: e.offset })) }));
      // A share whose remaining downloads are all held by downloads in progress waits while the server
      // asks their clients for a word (a killed one is let go after 10 s): said, not a silent wait.
      if (opts.onWaiting) {
        const onWaiting = opts.onWaiting;
        waitingTimer = setTimeout(() => moves === 0 && !failed && onWaiting(), WAITING_HINT_MS);
      }
      await finished;
      return results;
    } finally {
      clearTimeout(waitingTimer);
      await Promise.all(opening);
      // A file being checked and put in place when the get failed is waited for: its rename cannot be
      // taken back, and its writer must not be aborted under it (said kept, its part then moved or removed).
      await Promise.all((slots ?? []).map((s) => s.finishing));
      stopWatch();
      stopData();
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** Where under `dir` a file with exactly these bytes already is (checked by size, then SHA-256). */
async function alreadyThere(dir: string, name: string, size: number, sha256: string, copies: boolean): Promise<string | undefined> {
  // The name itself, or (`copies`) a numbered copy an earlier get saved when the name was taken.
  const first = resolve(dir, ...localRelativePath(name).split("/"));
  // Only inside `dir`: a symbolic link on the way that leads out is the writer's to refuse, not ours to read through.
  const [root, parent] = await Promise.all([realpath(dir), realpath(dirname(first))]).catch(() => [undefined, undefined]);
  if (root === undefined || parent === undefined || (parent !== root && !parent.startsWith(root + sep))) return undefined;
  // A deleted copy leaves a gap (x (1) gone, x (2) there): look past a few.
  for (let n = 0, gaps = 0; n < (copies ? 10_000 : 1) && gaps < 8; n++) {
    const path = n === 0 ? first : numbered(first, n);
    if (await sameFile(path, size, sha256)) return path;
    gaps = n > 0 && !(await lstat(path).then(() => true, () => false)) ? gaps + 1 : 0;
  }
  return undefined;
}

/** Where a one-shot share call connects. */
export interface ShareServerOption {
  /** The server; discovered on the local network when absent. */
  server?: ServerAddress;
}

async function withShareClient<T>(opts: ShareServerOption & { signal?: AbortSignal }, fn: (client: ShareClient) => Promise<T>): Promise<T> {
  const conn = await connect({ server: opts.server, signal: opts.signal });
  const client = new ShareClient(connectionShareLink(conn));
  try {
    return await fn(client);
  } finally {
    client.dispose();
    await conn.close();
  }
}

/**
 * Uploads files and directories as a new share, on a connection of its own.
 *
 * @example
 * ```ts
 * const { code, expiresAt } = await sharePut(["report.pdf", "photos"], {
 *   server: { host: "127.0.0.1", port: 6969 },
 *   expiresInMs: 2 * 3_600_000,
 * });
 * ```
 */
export async function sharePut(paths: readonly string[], opts: PutOptions & ShareServerOption = {}): Promise<CreatedShare> {
  checkPut(opts); // before walking the files and connecting
  const files = await collectShareFiles(paths);
  return withShareClient(opts, (client) => client.put(files, opts));
}

/**
 * Lists a share's files, sizes and expiry.
 *
 * @example
 * ```ts
 * const { files } = await shareList("7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", { server: { host: "127.0.0.1", port: 6969 } });
 * ```
 */
export async function shareList(code: string, opts: ShareServerOption & RequestOptions = {}): Promise<ShareListing> {
  parseCode(code);
  return withShareClient(opts, (client) => client.list(code, opts));
}

/**
 * Downloads all or the named files of a share into `opts.dir`, resuming
 * what an interrupted call left.
 *
 * @example
 * ```ts
 * await shareGet("7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", { dir: "/tmp/in", server: { host: "127.0.0.1", port: 6969 } });
 * ```
 */
export async function shareGet(code: string, opts: GetOptions & ShareServerOption): Promise<GetResult> {
  parseCode(code);
  return withShareClient(opts, (client) => client.get(code, opts));
}
