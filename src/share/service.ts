/**
 * The server side of shares: answers `share.*` control messages from one
 * client connection ({@link SharePeer}) with the {@link ShareStore}, takes
 * upload bytes from data streams, and serves downloads with backpressure.
 *
 * It knows nothing of SCTP: the server session adapts itself to
 * {@link SharePeer} (see `src/server/`), and tests use an in-memory peer.
 *
 * @module
 */
import type { Readable } from "node:stream";
import { getLogger } from "@logtape/logtape";
import { SfxError } from "../errors.ts";
import { ASK_AGAIN_MS, GONE_AFTER_SILENT_MS, stillThere } from "../protocol/association.ts";
import { type AnyMessage, CONTROL_STREAM, dataPpid, errorToMessage, FIRST_DATA_STREAM, parseDataPpid, ProtocolError, STREAMS, xidTag } from "../protocol/index.ts";
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
import { DownloadsHeldError, type ShareDownload, type ShareStore, type ShareUpload, shortKey } from "./store.ts";
import { codeKey, isSentForm } from "./code.ts";
import { MAX_DOWNLOADS_LIMIT, MAX_REQUESTS_PER_CLIENT, UPLOAD_FIRST_BYTES_MS, UPLOAD_MAX_HOURS, UPLOAD_STALL_MS, uploadPaceBytes } from "./defaults.ts";
import { storedName } from "./share_crypto.ts";
import { formatBytes } from "../units.ts";
import { PEER_FAILURE_TIMEOUT_MS } from "../protocol/defaults.ts";
import { addressKey, hostKey } from "../failure_limiter.ts";
import type { FileSink } from "./upload.ts";

/** A refusal of the same kind from the same client, or its listing of the same share, is logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

const log = getLogger(["sfx", "share"]);

/** The reason a holder found gone is disconnected with. */
const NO_ANSWER = "nothing heard from you for 10 s, while another client waited for your download to end";

/** Said with a refusal for uploads in progress: one of them may be a killed client's, which holds its place for a while. */
const KILLED_UPLOAD_NOTE = ` (one whose \`share put\` was killed ends once the server has heard nothing from it for ${PEER_FAILURE_TIMEOUT_MS / 1000} s)`;

/** One client connection as the share service sees it. */
export interface SharePeer {
  /** The client's address (host only), for the failed-lookup rate limit and logs. */
  readonly address: string;
  /** How the log names the client (`address:port`, as the session's lines do); default the address. */
  readonly label?: string;
  /** Sends one control message (already encoded). */
  send(message: Uint8Array): void;
  /**
   * Sends one data message; false means "full": wait for {@link drained}
   * before the next. The peer owns `data` from here on (the service sends
   * fresh buffers it never touches again), so it may free it once delivered.
   */
  sendData(stream: number, data: Uint8Array, ppid: number): boolean;
  /** Resolves when the peer can take more data (at once when it can already). */
  drained(): Promise<void>;
  /**
   * Bytes sent and not yet acknowledged by the client, if known: a download
   * whose client takes data slowly shows it here long before "drained".
   */
  buffered?(): number;
  /**
   * Of the messages given on `stream`, how many the client's transport has
   * acknowledged (as `Association.messagesAcknowledged`; still answered after
   * the connection ended): a download whose every message (data, and the
   * control messages saying what it is) was acknowledged counts even if its
   * client leaves without `share.received`.
   */
  acknowledged?(stream: number): { given: number; acknowledged: number };
  /** It starts (true) or stops (false) having uploads in progress: the server sizes its receive window by that. */
  sending?(on: boolean): void;
  /** It starts (true) or stops (false) having downloads in progress: the server sizes its send buffer towards it by that. */
  receiving?(on: boolean): void;
  /** Whether the client says anything within `withinMs` when asked now (see `Association.checkPeer`); absent: taken as yes. */
  checkPeer?(withinMs: number): Promise<boolean>;
  /** Milliseconds since anything came from the client (see `Association.silentForMs`); absent: 0. */
  readonly silentForMs?: number;
  /** Ends the client's connection at once, telling it `reason`. */
  abort?(reason: string): void;
}

/** How the log names `peer`. */
function who(peer: SharePeer): string {
  return peer.label ?? peer.address;
}

/** The data stream file `index` of a request travels on. */
export function shareDataStream(index: number, streams = STREAMS): number {
  return FIRST_DATA_STREAM + (index % (streams - FIRST_DATA_STREAM));
}

interface UploadFileState {
  sink?: Promise<FileSink>;
  chain: Promise<void>;
  end?: { size: number; sha256: string };
  finishing?: Promise<void>;
  done: boolean;
}

interface UploadState {
  kind: "upload";
  req: number;
  upload: ShareUpload;
  files: UploadFileState[];
  verified: number;
  /** The list of files the client sealed (`share.seal`, after its last end): the share is made once it is here and every file is verified. */
  sealed?: string;
  /** The share is being made (or was): it is made once. */
  committing?: boolean;
  failed: boolean;
  /** When the server said ready, and when a byte or an end of this upload last arrived (stall detection). */
  startedAt: number;
  movedAt: number;
  /** Bytes arrived so far, and at the start of the pace watch's window (see {@link uploadPaceBytes}). */
  received: number;
  windowFrom: number;
  windowAt: number;
}

interface DownloadState {
  kind: "download";
  req: number;
  download: ShareDownload;
  cancelled: boolean;
  reading?: Readable;
  /** When the client last took data (or the download started). */
  movedAt: number;
  /** The peer's unacknowledged bytes at the stall watcher's last look. */
  lastBuffered?: number;
  /** Everything was sent (these many bytes): the download counts when the client says it has it all. */
  sent?: number;
  /** Per data stream the download used, how many messages given to it had to be acknowledged for all of them to be. */
  through?: { stream: number; given: number }[];
}

type RequestState = UploadState | DownloadState;

/** A peer's requests in progress, by id; tells the peer when its first upload (download) starts and its last ends. */
class PeerRequests extends Map<number, RequestState> {
  readonly #peer: SharePeer;
  #uploads = 0;
  #downloads = 0;

  constructor(peer: SharePeer) {
    super();
    this.#peer = peer;
  }

  override set(req: number, state: RequestState): this {
    this.delete(req);
    super.set(req, state);
    if (state.kind === "upload" && ++this.#uploads === 1) this.#peer.sending?.(true);
    if (state.kind === "download" && ++this.#downloads === 1) this.#peer.receiving?.(true);
    return this;
  }

  override delete(req: number): boolean {
    const state = super.get(req);
    if (!super.delete(req)) return false;
    if (state!.kind === "upload" && --this.#uploads === 0) this.#peer.sending?.(false);
    if (state!.kind === "download" && --this.#downloads === 0) this.#peer.receiving?.(false);
    return true;
  }

  override clear(): void {
    for (const req of [...this.keys()]) this.delete(req);
  }
}

/** The share messages this service answers. */
export const SHARE_REQUESTS = [SharePut, ShareEnd, ShareSeal, ShareLs, ShareGet, ShareReceived, ShareCancel] as const;
export const SHARE_REQUEST_TYPES: readonly string[] = SHARE_REQUESTS.map((def) => def.type);

/** A stored file that is not what its manifest says (cut short, grown): found while serving it. */
class StoredFileDamaged extends Error {}

/** Serves shares to many peers from one store. */
export class ShareService {
  readonly store: ShareStore;
  readonly #peers = new Map<SharePeer, PeerRequests>();

  readonly #stallMs: number;
  readonly #now: () => number;
  readonly #firstBytesMs: number;
  #stallTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * `stallMs`: an upload with no byte for this long is abandoned, and a
   * download whose client takes nothing for this long is stopped (default
   * {@link UPLOAD_STALL_MS}).
   */
  constructor(store: ShareStore, opts: { stallMs?: number; firstBytesMs?: number; now?: () => number } = {}) {
    this.store = store;
    this.#stallMs = opts.stallMs ?? UPLOAD_STALL_MS;
    this.#firstBytesMs = opts.firstBytesMs ?? UPLOAD_FIRST_BYTES_MS;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * While uploads are in progress, looks every few seconds for one that
   * has received nothing for the stall time: a client that reserved an
   * upload and sends nothing would otherwise hold its slot and its share of
   * the quota until it disconnects.
   */
  #watchStalls(): void {
    if (this.#stallTimer) return;
    this.#stallTimer = setInterval(() => {
      const now = this.#now();
      let watched = 0;
      for (const [peer, requests] of this.#peers) {
        for (const state of [...requests.values()]) {
          watched++;
          if (state.kind === "download") {
            // "drained" comes only after half the send buffer went: a slow but steady client shows
            // its progress as unacknowledged bytes going down.
            const buffered = peer.buffered?.();
            if (buffered !== undefined && state.lastBuffered !== undefined && buffered < state.lastBuffered) state.movedAt = now;
            state.lastBuffered = buffered;
          }
          if (state.kind === "upload" && now - state.movedAt < this.#stallMs && now - state.windowAt >= this.#stallMs) {
            // Moving, but is it moving? A trickle of bytes would hold the reservation, and its share of the quota, for ever.
            const moved = state.received - state.windowFrom;
            const need = Math.min(state.upload.spec.bytes - state.windowFrom, uploadPaceBytes(state.upload.spec.bytes, now - state.windowAt));
            const seconds = Math.round((now - state.windowAt) / 1000);
            state.windowFrom = state.received;
            state.windowAt = now;
            if (moved < need) {
              log.warn("Upload {upload} from {client} abandoned: {moved} bytes arrived in {seconds} s, under the {need} its size needs", { upload: state.upload.spec.id.slice(0, 8), client: who(peer), moved, seconds, need });
              const why = `Only ${formatBytes(moved)} arrived in ${seconds} s, less than the ${formatBytes(need)} that finish an upload of this size within ${UPLOAD_MAX_HOURS} h: the server abandoned the upload`;
              void this.#failUpload(peer, state, new SfxError("SFX_TRANSFER_FAILED", why));
            }
            continue;
          }
          if (state.kind === "upload" && this.#firstBytesMs < this.#stallMs && state.movedAt === state.startedAt && now - state.startedAt >= this.#firstBytesMs) {
            const seconds = Math.round((now - state.startedAt) / 1000);
            log.warn("Upload {upload} from {client} abandoned: nothing arrived in the {seconds} s after the server was ready", { upload: state.upload.spec.id.slice(0, 8), client: who(peer), seconds });
            void this.#failUpload(peer, state, new SfxError("SFX_TRANSFER_FAILED", `Nothing arrived in the ${seconds} s after the server was ready: the server abandoned the upload`));
            continue;
          }
          if (now - state.movedAt < this.#stallMs) continue;
          const seconds = Math.round((now - state.movedAt) / 1000);
          if (state.kind === "upload") {
            log.warn("Upload {upload} from {client} abandoned: nothing arrived for {seconds} s", { upload: state.upload.spec.id.slice(0, 8), client: who(peer), seconds });
            void this.#failUpload(peer, state, new SfxError("SFX_TRANSFER_FAILED", `Nothing arrived for ${seconds} s: the server abandoned the upload`));
          } else {
            // A client that stops reading would hold the share's files (even past its expiry) and a download slot.
            log.warn("Download for {client} stopped: it read nothing for {seconds} s", { client: who(peer), seconds });
            this.#reply(peer, errorToMessage(new SfxError("SFX_TRANSFER_FAILED", `You read nothing for ${seconds} s: the server stopped the download`), { req: state.req }));
            void this.#cancel(peer, state.req, "stalled");
          }
        }
      }
      if (watched === 0) this.#stopWatchingStalls();
    }, Math.max(50, Math.min(10_000, this.#stallMs / 4, this.#firstBytesMs / 3)));
    (this.#stallTimer as { unref?: () => void }).unref?.();
  }

  #stopWatchingStalls(): void {
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** Stops watching for stalled uploads (the server is stopping). */
  stop(): void {
    this.#stopWatchingStalls();
  }

  /** Uploads being set up (the store not answered yet), per peer. */
  readonly #startingByPeer = new WeakMap<SharePeer, Map<number, number>>();

  /** Its puts being set up: request → the bytes they will reserve. */
  #starting(peer: SharePeer): Map<number, number> {
    let s = this.#startingByPeer.get(peer);
    if (!s) this.#startingByPeer.set(peer, (s = new Map()));
    return s;
  }

  /** Refuses a request beyond {@link MAX_REQUESTS_PER_CLIENT} of its kind in progress on this connection. */
  #checkPerClient(requests: Map<number, RequestState>, starting: ReadonlyMap<number, number>, kind: "upload" | "download", waiting = 0): void {
    let n = kind === "upload" ? starting.size : waiting;
    for (const r of requests.values()) if (r.kind === kind) n++;
    if (n >= MAX_REQUESTS_PER_CLIENT) {
      throw new SfxError("SFX_LIMIT", `This connection has ${n} ${kind}s in progress already, the most the server allows: wait for one to end`);
    }
  }

  /**
   * Refuses an upload beyond half the store's upload slots in progress from
   * one address over all its connections, or beyond a quarter of its quota
   * reserved by them: the slots are shared by everyone, and one machine
   * opening connections must not take them all. An IPv6 /64, whose addresses
   * one host may step through, gets three quarters of the slots and half the quota.
   */
  #checkPerAddress(address: string, bytes: number): void {
    const L = this.store.limits;
    for (const [keyOf, one, slots, quota] of [[hostKey, "one address", 2, 4], [addressKey, "one IPv6 /64 network", 4 / 3, 2]] as const) {
      const key = keyOf(address);
      let n = 0;
      let reserved = 0;
      for (const [peer, requests] of this.#peers) {
        if (keyOf(peer.address) !== key) continue;
        // Puts still being set up count too, with what they will reserve: several sent at once must not all pass.
        for (const starting of this.#startingByPeer.get(peer)?.values() ?? []) {
          n++;
          reserved += starting;
        }
        for (const r of requests.values()) {
          if (r.kind !== "upload") continue;
          n++;
          reserved += r.upload.spec.bytes;
        }
      }
      const who = key === hostKey(address) ? address : key;
      const most = Math.max(1, Math.floor(L.maxUploadsInProgress / slots));
      if (n >= most) {
        throw new SfxError("SFX_LIMIT", `${who} has ${n} uploads in progress already, the most the server allows from ${one}: wait for one to end${KILLED_UPLOAD_NOTE}`);
      }
      const mostBytes = Math.max(L.maxShareBytes, Math.floor(L.maxStoreBytes / quota));
      if (reserved > 0 && reserved + bytes > mostBytes) {
        throw new SfxError("SFX_LIMIT", `${who} has uploads of ${formatBytes(reserved)} in progress already; ${formatBytes(bytes)} more would pass the ${formatBytes(mostBytes)} the server lets ${one} reserve: wait for one to end${KILLED_UPLOAD_NOTE}`);
      }
    }
  }

  #requests(peer: SharePeer): PeerRequests {
    let m = this.#peers.get(peer);
    if (!m) {
      // Closed while a request of it awaited something: nothing of it may be kept now.
      if (this.#gone.has(peer)) throw new SfxError("SFX_CONNECTION_LOST", "The connection has ended");
      m = new PeerRequests(peer);
      this.#peers.set(peer, m);
    }
    return m;
  }

  /** True when `msg` is a share message this service handles. */
  handles(msg: AnyMessage): boolean {
    return SHARE_REQUEST_TYPES.includes(msg.type);
  }

  /**
   * Handles one decoded `share.*` message. Never throws: a failure is sent
   * back to the peer as an `error` echoing `req`.
   */
  async handleMessage(peer: SharePeer, msg: AnyMessage): Promise<void> {
    const req = typeof msg.req === "number" ? msg.req : undefined;
    try {
      if (SharePut.is(msg)) await this.#put(peer, msg);
      else if (ShareEnd.is(msg)) await this.#end(peer, msg);
      else if (ShareSeal.is(msg)) await this.#seal(peer, msg);
      else if (ShareLs.is(msg)) this.#ls(peer, sentForm(msg));
      else if (ShareGet.is(msg)) await this.#get(peer, sentForm(msg));
      else if (ShareReceived.is(msg)) await this.#received(peer, msg.req);
      else if (ShareCancel.is(msg)) await this.#cancel(peer, msg.req, msg.reason ?? "cancelled by the client");
      else throw new SfxError("SFX_PROTOCOL", `Unexpected '${msg.type}' message`);
    } catch (err) {
      this.#noteRefusal(peer, msg.type, err);
      this.#reply(peer, errorToMessage(err, req === undefined ? {} : { req }));
    }
  }

  /** When each kind of refusal (client, request type, message shape) was last logged, and how many since went unsaid. */
  readonly #noted = new Map<string, { at: number; unsaid: number }>();

  /**
   * Logs a refusal the admin should see — a limit (quota, size, too many wrong
   * codes), a disk error, a bug — at most once a minute per client and kind,
   * so a client hammering the server cannot flood the log. The kind is the
   * message with its figures and names left out: a full store is not hidden behind a
   * share that was too large a moment before (one address may be a whole
   * office behind NAT). The next line of a kind says how many went unsaid.
   */
  #noteRefusal(peer: SharePeer, type: string, err: unknown): void {
    const code = err instanceof SfxError ? err.code : "SFX_INTERNAL";
    if (code !== "SFX_LIMIT" && code !== "SFX_IO" && code !== "SFX_INTERNAL") return;
    const reason = (err as Error)?.message ?? String(err);
    // Figures and quoted names left out: a client cannot make a line of each refusal by varying them.
    const unsaid = this.#toLog(`${peer.address} ${type} ${code} ${reason.replace(/"(?:[^"\\]|\\.)*"|'[^']*'|[0-9][0-9.,]*/g, "#")}`);
    if (unsaid < 0) return;
    const more = unsaid > 0 ? ` (and ${unsaid} more like it in the minute before)` : "";
    log.warn(`Share request {type} from {client} refused: {reason}${more}`, { type, client: who(peer), code, reason, unsaid });
  }

  /**
   * Whether a line of kind `key` is logged now: -1 when one was within
   * {@link REFUSAL_LOG_INTERVAL_MS} (this one is counted instead), else how
   * many went unsaid since the last.
   */
  #toLog(key: string): number {
    const now = this.#now();
    const last = this.#noted.get(key);
    if (last !== undefined && now - last.at < REFUSAL_LOG_INTERVAL_MS) {
      last.unsaid++;
      return -1;
    }
    if (this.#noted.size >= 1000) {
      for (const [k, v] of this.#noted) if (now - v.at >= REFUSAL_LOG_INTERVAL_MS) this.#noted.delete(k);
    }
    this.#noted.set(key, { at: now, unsaid: 0 });
    return last?.unsaid ?? 0;
  }

  #reply(peer: SharePeer, message: Uint8Array): void {
    try {
      peer.send(message);
    } catch (err) {
      log.debug("Cannot answer {client}: {error}", { client: who(peer), error: String(err) });
    }
  }

  async #put(peer: SharePeer, msg: ReturnType<typeof SharePut.validate>): Promise<void> {
    const requests = this.#requests(peer);
    const starting = this.#starting(peer);
    if (requests.has(msg.req) || starting.has(msg.req) || [...requests.keys(), ...starting.keys()].some((r) => xidTag(r) === xidTag(msg.req))) {
      throw new SfxError("SFX_PROTOCOL", `Request ${msg.req} is already in progress`);
    }
    this.#checkPerClient(requests, starting, "upload");
    const bytes = msg.files.reduce((n, f) => n + (Number.isSafeInteger(f.size) ? f.size : 0), 0);
    this.#checkPerAddress(peer.address, bytes);
    checkListable(msg.files);
    // Taken before the store is asked (which waits): a second put with this req meanwhile is refused above.
    starting.set(msg.req, bytes);
    let upload: ShareUpload;
    try {
      upload = await this.store.beginUpload({
        files: msg.files,
        expiresInMs: msg.expiresInMs,
        expiresAt: msg.expiresAt,
        maxDownloads: msg.maxDownloads,
        client: who(peer),
        owner: hostKey(peer.address),
        network: addressKey(peer.address),
        lookup: msg.lookup,
      });
    } finally {
      starting.delete(msg.req);
    }
    if (this.#peers.get(peer) !== requests) {
      await upload.abort("client gone");
      return;
    }
    // What it reserves of the quota, and for whom: the line to find when the store is full.
    log.info("Upload {upload} from {client} started: {files} file(s), {bytes} bytes reserved", { upload: upload.spec.id.slice(0, 8), client: who(peer), files: msg.files.length, bytes: upload.spec.bytes });
    // One reading: "nothing moved since the start" is movedAt === startedAt, which two readings a
    // millisecond apart made false, and an upload that never sent held its reservation for the
    // whole stall time instead of the first-bytes time.
    const now = this.#now();
    const state: UploadState = {
      kind: "upload",
      req: msg.req,
      upload,
      files: msg.files.map(() => ({ chain: Promise.resolve(), done: false })),
      verified: 0,
      failed: false,
      startedAt: now,
      movedAt: now,
      received: 0,
      windowFrom: 0,
      windowAt: now,
    };
    requests.set(msg.req, state);
    this.#watchStalls();
    this.#reply(peer, ShareReady.encode({ req: msg.req, ...(upload.warning ? { warning: upload.warning } : {}) }));
    // Empty files need no data: they complete on their end message alone.
  }

  /** True when a data message with this PPID belongs to one of `peer`'s uploads in progress. */
  takesData(peer: SharePeer, ppid: number): boolean {
    const requests = this.#peers.get(peer);
    if (!requests) return false;
    const { tag } = parseDataPpid(ppid);
    for (const s of requests.values()) if (s.kind === "upload" && xidTag(s.req) === tag) return true;
    return false;
  }

  /**
   * Takes one data message. Resolves when its bytes are on disk: a caller
   * that counts the bytes not yet resolved and pauses the peer gives the
   * uploader backpressure. Data for no live upload (late bytes of a
   * cancelled one) is dropped. `data` is ours from here on: once written,
   * its memory is freed and its length reads 0.
   */
  handleData(peer: SharePeer, _stream: number, data: Uint8Array, ppid: number): Promise<void> {
    const { tag, fileIndex } = parseDataPpid(ppid);
    const requests = this.#peers.get(peer);
    if (!requests) return Promise.resolve();
    let state: UploadState | undefined;
    for (const s of requests.values()) if (s.kind === "upload" && xidTag(s.req) === tag) state = s;
    if (!state || state.failed) return Promise.resolve();
    state.movedAt = this.#now();
    state.received += data.length;
    const file = state.files[fileIndex];
    if (!file) return this.#failUpload(peer, state, new SfxError("SFX_PROTOCOL", `Data for file ${fileIndex}, which the upload does not have`));
    const st = state;
    file.sink ??= st.upload.file(fileIndex);
    // Queue the bytes in order, but do not wait for the previous write: what
    // arrives meanwhile goes to disk in the next batch. The sink frees the
    // message once written (the session hands it to us alone).
    const queued = file.chain.then(() => file.sink!).then((sink) => ({ sink, written: sink.write(data, { release: true }) }));
    file.chain = queued.then(() => {}, () => {});
    return queued.then(async ({ sink, written }) => {
      await written;
      if (file.end && sink.received === sink.size) await this.#finishFile(peer, st, fileIndex);
    }).catch((err) => this.#failUpload(peer, st, err));
  }

  async #end(peer: SharePeer, msg: { req: number; file: number; size: number; sha256: string }): Promise<void> {
    const state = this.#peers.get(peer)?.get(msg.req);
    if (!state || state.kind !== "upload") throw new SfxError("SFX_PROTOCOL", `No upload ${msg.req} in progress`);
    if (state.failed) return; // told why already, or about to be
    state.movedAt = this.#now();
    const file = state.files[msg.file];
    if (!file || file.end) {
      return this.#failUpload(peer, state, new SfxError("SFX_PROTOCOL", `Unexpected end of file ${msg.file}`));
    }
    const announced = state.upload.files[msg.file].size;
    if (msg.size !== announced) {
      const path = state.upload.files[msg.file].path;
      return this.#failUpload(peer, state, new SfxError("SFX_TRANSFER_FAILED", `File ${path} ended at ${msg.size} bytes, ${announced} were announced`));
    }
    file.end = { size: msg.size, sha256: msg.sha256 };
    file.sink ??= state.upload.file(msg.file);
    // Bytes may still be in flight on the data stream (SCTP orders streams separately): finish
    // now if they are all here, else when the last one arrives.
    const st = state;
    const p = file.chain.then(async () => {
      const sink = await file.sink!;
      if (sink.received === sink.size) await this.#finishFile(peer, st, msg.file);
    });
    file.chain = p.catch(() => {});
    await p.catch((err) => this.#failUpload(peer, st, err));
  }

  async #finishFile(peer: SharePeer, state: UploadState, index: number): Promise<void> {
    const file = state.files[index];
    if (file.done || state.failed) return;
    file.done = true;
    const sink = await file.sink!;
    await sink.end(file.end!.sha256);
    state.verified++;
    await this.#maybeCommit(peer, state);
  }

  /** The client's sealed list of the upload's files: the last thing the share waits for. */
  async #seal(peer: SharePeer, msg: { req: number; sealed: string }): Promise<void> {
    const state = this.#peers.get(peer)?.get(msg.req);
    if (!state || state.kind !== "upload") throw new SfxError("SFX_PROTOCOL", `No upload ${msg.req} in progress`);
    if (state.failed) return;
    state.movedAt = this.#now();
    if (state.sealed !== undefined) return this.#failUpload(peer, state, new SfxError("SFX_PROTOCOL", "The upload's list of files was sealed twice"));
    try {
      checkSealedListing(state.upload.files.map((f) => f.size), msg.sealed);
    } catch (err) {
      return this.#failUpload(peer, state, err);
    }
    state.sealed = msg.sealed;
    await this.#maybeCommit(peer, state).catch((err) => this.#failUpload(peer, state, err));
  }

  /** Makes the share once every file is verified and its list sealed. */
  async #maybeCommit(peer: SharePeer, state: UploadState): Promise<void> {
    if (state.verified !== state.files.length || state.sealed === undefined || state.committing || state.failed) return;
    state.committing = true;
    const created = await state.upload.commit(state.sealed);
    this.#peers.get(peer)?.delete(state.req);
    log.info("Share {share} uploaded by {client}: {files} file(s)", { share: shortKey(codeKey(created.code)), client: who(peer), files: created.files.length });
    this.#reply(peer, ShareCreated.encode({
      req: state.req,
      createdAt: created.createdAt,
      expiresAt: created.expiresAt,
      maxDownloads: created.maxDownloads,
      files: created.files,
      ...(created.warning ? { warning: created.warning } : {}),
    }));
  }

  async #failUpload(peer: SharePeer, state: UploadState, err: unknown): Promise<void> {
    if (state.failed) return;
    state.failed = true;
    // Kept (failed) while the store cleans up, and answered before it is gone: what the client
    // still sends meanwhile is dropped, not answered with "no upload in progress" ahead of why.
    // The log gets the whole error (the server's path in it), the client only what it may know.
    const cause = (err as Error)?.cause as Error | undefined;
    await state.upload.abort(`failed: ${(err as Error).message}${cause?.message ? ` (${cause.message})` : ""}`).catch(() => {});
    this.#reply(peer, errorToMessage(err, { req: state.req }));
    const requests = this.#peers.get(peer);
    if (requests?.get(state.req) === state) requests.delete(state.req);
  }

  #ls(peer: SharePeer, msg: { req: number; code: string }): void {
    const listing = this.store.list(msg.code, peer.address, who(peer));
    // Who saw a share's names is the admin's to know, as who downloaded it: once a minute per client and share.
    const share = shortKey(codeKey(msg.code));
    const unsaid = this.#toLog(`${peer.address} ls ${share}`);
    if (unsaid >= 0) {
      const more = unsaid > 0 ? ` (and ${unsaid} more times in the minute before)` : "";
      log.info(`Share {share} listed by {client}: {files} file(s)${more}`, { share, client: who(peer), files: listing.files.length, unsaid });
    }
    this.#reply(peer, ShareListingMessage.encode({ req: msg.req, ...listing }));
  }

  async #get(peer: SharePeer, msg: ReturnType<typeof ShareGet.validate>): Promise<void> {
    await this.store.saveCountOf(msg.code);
    const requests = this.#requests(peer);
    const waitingNow = this.#waitingGets.get(peer);
    if (requests.has(msg.req) || waitingNow?.has(msg.req)) throw new SfxError("SFX_PROTOCOL", `Request ${msg.req} is already in progress`);
    this.#checkPerClient(requests, new Map(), "download", waitingNow?.size ?? 0);
    const begin = () => this.store.beginDownload(msg.code, peer.address, msg.files.map((f) => f.path), who(peer));
    let download: ShareDownload;
    try {
      download = begin();
    } catch (err) {
      if (!(err instanceof DownloadsHeldError)) throw err;
      // Often the user's own: the same get run again after kill -9, whose first run holds the slot.
      let waiting = this.#waitingGets.get(peer);
      if (!waiting) this.#waitingGets.set(peer, waiting = new Set());
      waiting.add(msg.req);
      let released: boolean;
      try {
        released = await this.#releaseGoneHolders(err.share);
      } finally {
        waiting.delete(msg.req);
        if (waiting.size === 0 && this.#waitingGets.get(peer) === waiting) this.#waitingGets.delete(peer);
      }
      if (!released) throw new SfxError("SFX_LIMIT", "Every remaining download of this share is in progress, and their clients answered the server just now: try again when one ends (one that completes uses its download up; the last one, the share)");
      // Waited: the client may have gone meanwhile.
      if (this.#peers.get(peer) !== requests) throw new SfxError("SFX_CONNECTION_LOST", "The client left while its get waited");
      try {
        download = begin();
      } catch (again) {
        if (!(again instanceof DownloadsHeldError)) throw again;
        throw new SfxError("SFX_LIMIT", "Every remaining download of this share is in progress: the one a client that had gone held was let go, and another get took it first");
      }
    }
    const offsets = new Map(msg.files.map((f) => [f.path.normalize("NFC"), f.offset]));
    const plan = download.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, offset: offsets.get(f.path) ?? 0 }));
    for (const p of plan) {
      if (p.offset > p.size) {
        await download.cancel();
        throw new SfxError("SFX_BAD_ARGUMENT", `Invalid offset ${p.offset} for ${p.path} (${p.size} bytes)`);
      }
    }
    const state: DownloadState = { kind: "download", req: msg.req, download, cancelled: false, movedAt: this.#now() };
    requests.set(msg.req, state);
    this.#watchStalls();
    this.#reply(peer, ShareSending.encode({ req: msg.req, files: plan }));
    void this.#pump(peer, state, plan);
  }

  /**
   * Asks each client holding a download of share `share` for a word
   * ({@link stillThere}): one silent until nothing has been heard from it for
   * {@link GONE_AFTER_SILENT_MS} is gone: disconnected, and its downloads let
   * go. Whether any was. One check at a time per share, and none within
   * {@link ASK_AGAIN_MS} of one all answered.
   */
  #releaseGoneHolders(share: string): Promise<boolean> {
    const last = this.#lastCheck.get(share);
    if (last !== undefined && this.#now() - last < ASK_AGAIN_MS) return Promise.resolve(false);
    let check = this.#holderChecks.get(share);
    if (!check) {
      check = this.#checkHolders(share).finally(() => this.#holderChecks.delete(share));
      this.#holderChecks.set(share, check);
    }
    return check;
  }

  async #checkHolders(share: string): Promise<boolean> {
    const holders: SharePeer[] = [];
    for (const [peer, requests] of this.#peers) {
      for (const st of requests.values()) {
        if (st.kind === "download" && !st.cancelled && st.download.share === share) {
          holders.push(peer);
          break;
        }
      }
    }
    const answered = await Promise.all(holders.map((p) => stillThere(p)));
    if (answered.every(Boolean)) {
      if (this.#lastCheck.size >= 1000) this.#lastCheck.clear();
      this.#lastCheck.set(share, this.#now());
    }
    let released = false;
    for (let i = 0; i < holders.length; i++) {
      const p = holders[i];
      if (answered[i] || !p.abort) continue;
      const silent = Math.round((p.silentForMs ?? GONE_AFTER_SILENT_MS) / 1000);
      log.warn("Share {share}: nothing heard from {client}, downloading it, for {silent} s, asked every second: disconnecting it, as another client's get waits for its download", { share: shortKey(share), client: who(p), silent });
      p.abort(NO_ANSWER);
      await this.peerClosed(p);
      released = true;
    }
    return released;
  }

  /** When each share's holders were last asked and all answered (see #releaseGoneHolders). */
  readonly #lastCheck = new Map<string, number>();
  /** Checks of each share's holders under way. */
  readonly #holderChecks = new Map<string, Promise<boolean>>();
  /** Gets waiting for a check of their share's holders, per client: they count against its limit. */
  readonly #waitingGets = new Map<SharePeer, Set<number>>();

  async #pump(peer: SharePeer, state: DownloadState, plan: { path: string; size: number; sha256: string; offset: number }[]): Promise<void> {
    let bytes = 0;
    /** The file being read, and how much of it was: a stored file that cannot be read, or ends early, is the server's fault. */
    let reading: { path: string; from: number; read: number } | undefined;
    /** True while the bytes go to the peer: what fails then (the connection closing) is not the store's. */
    let sending = false;
    try {
      for (let i = 0; i < plan.length && !state.cancelled; i++) {
        const f = plan[i];
        const stream = shareDataStream(i);
        const ppid = dataPpid(state.req, i);
        reading = { path: f.path, from: f.offset, read: 0 };
        const source = await state.download.read(f.path, f.offset);
        state.reading = source;
        for await (const chunk of source) {
          if (state.cancelled) break;
          const n = (chunk as Uint8Array).byteLength;
          // More than the manifest says: the rest is not this file's (the client would refuse it anyway).
          if (reading.read + n > f.size - f.offset) throw new StoredFileDamaged(`it holds more than the ${f.size} bytes its manifest says`);
          reading.read += n;
          bytes += n;
          sending = true;
          if (!peer.sendData(stream, chunk as Uint8Array, ppid)) await peer.drained();
          sending = false;
          state.movedAt = this.#now();
        }
        source.destroy();
        state.reading = undefined;
        if (state.cancelled) break;
        // Ended early (a stored file cut short on the server's disk): the client would wait for the rest for ever.
        if (reading.read !== f.size - f.offset) throw new StoredFileDamaged(`it ends at byte ${f.offset + reading.read} of the ${f.size} its manifest says`);
        reading = undefined;
        this.#reply(peer, ShareEnd.encode({ req: state.req, file: i, size: f.size, sha256: f.sha256 }));
      }
      if (state.cancelled) return;
      // Sent is not received: the last bytes may still be in buffers on the way, and a client
      // cut off now would find a share that allows one download used up. It counts on
      // share.received, or, should the client leave without it, once its transport has
      // acknowledged every data message given so far on the streams this download used.
      state.sent = bytes;
      if (peer.acknowledged) {
        // The control stream too: the share.sending and share.end messages that say what the bytes are.
        const streams = new Set([CONTROL_STREAM, ...plan.map((_, i) => shareDataStream(i))]);
        state.through = [...streams].map((stream) => ({ stream, given: peer.acknowledged!(stream).given }));
      }
    } catch (err) {
      if (state.cancelled) return;
      state.cancelled = true;
      this.#peers.get(peer)?.delete(state.req);
      await state.download.cancel();
      if (reading !== undefined && !sending && (err instanceof StoredFileDamaged || !(err instanceof SfxError))) {
        // The store's own file: the admin's to see to, in the log; the client is told which file, not where it is kept.
        log.error("Share {share}: cannot serve {file} to {client}: {error}", { share: shortKey(state.download.share), file: reading.path, client: who(peer), error: (err as Error).message });
        const code = (err as NodeJS.ErrnoException).code;
        const why = err instanceof StoredFileDamaged ? "it is damaged" : code === "ENOENT" ? "it is missing" : code ?? "a read error";
        const told = new SfxError("SFX_TRANSFER_FAILED", unreadableCopy(reading.path, why));
        this.#reply(peer, errorToMessage(told, { req: state.req }));
        return;
      }
      log.warn("Download for {client} failed: {error}", { client: who(peer), error: (err as Error).message });
      this.#reply(peer, errorToMessage(err instanceof SfxError ? err : new SfxError("SFX_IO", (err as Error).message), { req: state.req }));
    }
  }

  /** The client has every file of download `req`, verified: now it counts. */
  async #received(peer: SharePeer, req: number): Promise<void> {
    const requests = this.#peers.get(peer);
    const state = requests?.get(req);
    if (state?.kind !== "download" || state.sent === undefined) {
      throw new SfxError("SFX_PROTOCOL", `Request ${req} is no download whose files were all sent`);
    }
    requests!.delete(req);
    await state.download.complete();
    this.#reply(peer, ShareDone.encode({ req, files: state.download.files.length, bytes: state.sent }));
  }

  async #cancel(peer: SharePeer, req: number, reason: string, requests = this.#peers.get(peer)): Promise<void> {
    const state = requests?.get(req);
    if (!state) return;
    requests!.delete(req);
    if (state.kind === "upload") {
      state.failed = true;
      await state.upload.abort(reason);
    } else {
      state.cancelled = true;
      state.reading?.destroy();
      // Every byte sent and acknowledged by the client's transport: it has the files, whether or not
      // it says share.received (a client cut off now still finishes them). Counted, so that leaving
      // without the receipt is no way round maxDownloads; bytes still on their way are not counted.
      const through = state.through?.every((t) => peer.acknowledged!(t.stream).acknowledged >= t.given) === true;
      if (through) await state.download.complete();
      else await state.download.cancel();
    }
  }

  /** The peer disconnected: abandons its uploads and stops its downloads. */
  peerClosed(peer: SharePeer): Promise<void> {
    // Called again while the first call still cancels (see #checkHolders): the same wait.
    const closing = this.#closing.get(peer);
    if (closing) return closing;
    this.#gone.add(peer);
    const requests = this.#peers.get(peer);
    if (!requests) return Promise.resolve();
    // Gone before anything is awaited: a put whose upload is still being set up sees it and aborts that upload.
    this.#peers.delete(peer);
    this.#waitingGets.delete(peer);
    const done = (async () => {
      for (const req of [...requests.keys()]) await this.#cancel(peer, req, "client disconnected", requests);
    })().finally(() => this.#closing.delete(peer));
    this.#closing.set(peer, done);
    return done;
  }

  /** peerClosed()s under way. */
  readonly #closing = new Map<SharePeer, Promise<void>>();
  /** Peers closed: a request of theirs that awaited something meanwhile makes no state for them. */
  readonly #gone = new WeakSet<SharePeer>();

  /**
   * The server is stopping: tells the peer that each of its uploads and
   * downloads ends for that reason (so it does not report a lost
   * connection), then abandons them as {@link peerClosed} does.
   */
  async serverClosing(peer: SharePeer): Promise<void> {
    this.#gone.add(peer);
    this.#waitingGets.delete(peer);
    const requests = this.#peers.get(peer);
    if (!requests) return;
    this.#peers.delete(peer); // as in peerClosed: before anything is awaited
    for (const req of [...requests.keys()]) {
      this.#reply(peer, errorToMessage(new SfxError("SFX_CONNECTION_LOST", "The server is shutting down"), { req }));
      await this.#cancel(peer, req, "server shutting down", requests);
    }
  }

  /** Number of gets waiting for a check of their share's holders (for tests and diagnostics). */
  get waitingGets(): number {
    let n = 0;
    for (const m of this.#waitingGets.values()) n += m.size;
    return n;
  }

  /** Number of uploads and downloads in progress (for tests and diagnostics). */
  get activeRequests(): number {
    let n = 0;
    for (const m of this.#peers.values()) n += m.size;
    return n;
  }
}

/**
 * A request's `code` as clients send it: a lookup, or `v1:` and a store key (see `lookupOf`), never
 * a code itself, which would give the server the key of an enciphered share (a client that sends
 * one is told so, and nothing is looked up).
 */
function sentForm<T extends { code: string }>(msg: T): T {
  if (!isSentForm(msg.code)) {
    throw new SfxError("SFX_BAD_CODE", "Invalid share lookup: send the code's lookup (64 hex digits), or v1: and the store key of a share in the clear, never the code itself");
  }
  return msg;
}

/** What a client is told of a stored file the server cannot read: by the name the server keeps it under. */
export function unreadableCopy(name: string, why: string): string {
  return `The server cannot read its copy of ${name} (${why}): tell the server's admin`;
}

/** The same message with `name` (an enciphered share's file, which the server knows as `0`, `1`, …) given by `rename`. */
export function renameUnreadableCopy(message: string, rename: (name: string) => string | undefined): string {
  const m = /^The server cannot read its copy of (\d+) \((.*)\): tell the server's admin$/.exec(message);
  const name = m ? rename(m[1]) : undefined;
  return m && name !== undefined ? unreadableCopy(name, m[2]) : message;
}

/**
 * Refuses a share whose list of files could not be told in one control
 * message: its listing, and a get's plan (the largest, with each file's
 * SHA-256 and offset), must fit, or nobody could list or fetch it (and its
 * uploader would not even hear its code). A put request fits, but the
 * answers carry more per file than it does.
 */
function checkListable(files: readonly { path: string; size: number }[]): void {
  fitsOneMessage(files.length, () => ShareSending.encode({ req: 2 ** 31 - 1, files: files.map((f) => ({ path: f.path, size: f.size, offset: f.size, sha256: "0".repeat(64) })) }));
}

/**
 * Refuses an enciphered share whose listing, its sealed list with it, would not fit one control
 * message (nobody could list it): the uploader before it sends anything, the server when the
 * list comes. `sizes`: its files' sizes, in order.
 */
export function checkSealedListing(sizes: readonly number[], sealed: string): void {
  fitsOneMessage(sizes.length, () =>
    ShareListingMessage.encode({
      req: 2 ** 31 - 1,
      createdAt: MAX_TIME_MS,
      expiresAt: MAX_TIME_MS,
      maxDownloads: MAX_DOWNLOADS_LIMIT,
      downloads: MAX_DOWNLOADS_LIMIT,
      files: sizes.map((size, i) => ({ path: storedName(i), size, sha256: "0".repeat(64) })),
      sealed,
    }));
}

/** `encode`s a share's list of files; `SFX_LIMIT` when that is more than one control message holds. */
function fitsOneMessage(files: number, encode: () => unknown): void {
  try {
    encode();
  } catch (err) {
    if (err instanceof ProtocolError && err.reason === "too-large") {
      throw new SfxError("SFX_LIMIT", `The list of these ${files} files is too large for one share (${err.message}): share fewer files at once, or an archive (tar)`);
    }
    throw err;
  }
}
