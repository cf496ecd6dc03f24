/**
 * Plugs the share service into the server's sessions: registers a handler
 * for each `share.*` request type, routes upload bytes from the data streams
 * (pausing the association while the disk catches up, so a fast uploader is
 * slowed by SCTP flow control rather than buffered in memory), and ends a
 * client's uploads and downloads when its session closes.
 *
 * It depends only on the shape of the session server (`src/server/session.ts`),
 * not on the module, so imports keep flowing downwards.
 *
 * @example
 * ```ts
 * const store = await ShareStore.open({ dir });
 * const shares = attachShareService(exchange.sessions, store);
 * // on shutdown: await shares.close(); await store.close();
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { AssociationLike } from "../protocol/association.ts";
import type { AnyMessage, MessageType } from "../protocol/registry.ts";
import { SHARE_REQUESTS, type SharePeer, ShareService } from "./service.ts";
import type { ShareStore } from "./store.ts";
import { formatAddress } from "../transport/datagram.ts";

const log = getLogger(["sfx", "share"]);

/** Upload bytes not yet on disk after which the client's association is paused. */
export const UPLOAD_PAUSE_BYTES = 1 * 2 ** 20;

/** The parts of a server session the share service uses. */
export interface ShareSession {
  readonly association: AssociationLike;
  sendControl(bytes: Uint8Array): void;
  sendData(streamId: number, data: Uint8Array, ppid: number, opts?: { release?: boolean }): boolean;
  /** The client starts (true) or stops (false) having uploads in progress (see SharePeer.sending). */
  sending?(on: boolean): void;
  /** The client starts (true) or stops (false) having downloads in progress (see SharePeer.receiving). */
  receiving?(on: boolean): void;
}

/** The parts of the session server the share service uses. */
export interface ShareSessionHost<S extends ShareSession> {
  handle<T>(def: MessageType<T>, handler: (session: S, msg: AnyMessage & T) => void | Promise<void>): void;
  routeData(route: (session: S, streamId: number, data: Uint8Array, ppid: number) => boolean): void;
  onSessionClose(listener: (session: S) => void): void;
}

interface PeerEntry {
  peer: SharePeer;
  pendingBytes: number;
  paused: boolean;
  closed: boolean;
  drainWaiters: Set<{ resolve: () => void; reject: (e: Error) => void }>;
}

/** The share service attached to a session server. */
export interface AttachedShareService {
  readonly service: ShareService;
  /** Ends every upload and download in progress. */
  close(): Promise<void>;
}

/** Registers the share handlers into `host` and serves them from `store`. */
export function attachShareService<S extends ShareSession>(host: ShareSessionHost<S>, store: ShareStore, opts: { stallMs?: number } = {}): AttachedShareService {
  const service = new ShareService(store, opts);
  const peers = new Map<S, PeerEntry>();

  const entryOf = (session: S): PeerEntry => {
    const e = peers.get(session);
    if (e) return e;
    const a = session.association;
    const entry: PeerEntry = { pendingBytes: 0, paused: false, closed: false, drainWaiters: new Set(), peer: undefined as never };
    entry.peer = {
      address: a.remote.address,
      label: formatAddress(a.remote.address, a.remote.port),
      send: (bytes) => session.sendControl(bytes),
      sendData: (stream, data, ppid) => {
        if (entry.closed) throw new Error("connection closed");
        // Download chunks are fresh buffers nothing else reads: the association frees each one
        // as soon as the client has acknowledged it, instead of leaving it to V8's next full GC.
        return session.sendData(stream, data, ppid, { release: true });
      },
      buffered: () => a.bufferedAmount,
      acknowledged: (stream) => a.messagesAcknowledged(stream),
      sending: (on) => session.sending?.(on),
      receiving: (on) => session.receiving?.(on),
      checkPeer: a.checkPeer ? (ms) => a.checkPeer!(ms) : undefined,
      get silentForMs() {
        return a.silentForMs ?? 0;
      },
      abort: (reason) => a.abort(reason),
      drained: () => {
        if (entry.closed) return Promise.reject(new Error("connection closed"));
        return new Promise<void>((resolve, reject) => {
          const w = { resolve, reject };
          entry.drainWaiters.add(w);
          a.once("drain", () => {
            entry.drainWaiters.delete(w);
            resolve();
          });
        });
      },
    };
    peers.set(session, entry);
    return entry;
  };

  const handler = (session: S, msg: AnyMessage) => service.handleMessage(entryOf(session).peer, msg);
  for (const def of SHARE_REQUESTS as readonly MessageType<unknown>[]) host.handle(def, handler);

  host.routeData((session, streamId, data, ppid) => {
    const entry = peers.get(session);
    if (!entry || !service.takesData(entry.peer, ppid)) return false;
    const length = data.byteLength; // handleData frees `data` once written
    entry.pendingBytes += length;
    if (!entry.paused && entry.pendingBytes > UPLOAD_PAUSE_BYTES) {
      entry.paused = true;
      session.association.pause();
    }
    void service.handleData(entry.peer, streamId, data, ppid).finally(() => {
      entry.pendingBytes -= length;
      if (entry.paused && entry.pendingBytes <= UPLOAD_PAUSE_BYTES / 2) {
        entry.paused = false;
        if (!entry.closed) session.association.resume();
      }
    });
    return true;
  });

  host.onSessionClose((session) => {
    const entry = peers.get(session);
    if (!entry) return;
    peers.delete(session);
    entry.closed = true;
    for (const w of entry.drainWaiters) w.reject(new Error("connection closed"));
    entry.drainWaiters.clear();
    service.peerClosed(entry.peer).catch((err) => log.error("Cleaning up after {client} failed: {error}", { client: entry.peer.address, error: String(err) }));
  });

  return {
    service,
    async close() {
      for (const [session, entry] of [...peers]) {
        peers.delete(session);
        entry.closed = true;
        for (const w of entry.drainWaiters) w.reject(new Error("server closing"));
        await service.serverClosing(entry.peer);
      }
      service.stop();
    },
  };
}
