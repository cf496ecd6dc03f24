/**
 * The exchange feature of `sfx serve`: sessions for every association of the
 * endpoint, and pairing with the relay registered into their handler table.
 * The composition root (server.ts) calls {@link startExchangeService} once;
 * other features (shares) register their handlers into `service.sessions`.
 *
 * @example
 * ```ts
 * const endpoint = SctpEndpoint.listen({ socket });
 * const service = startExchangeService({ endpoint, serverName: "box", log: getLogger(["sfx", "pairing"]) });
 * // … on shutdown:
 * await service.close();
 * ```
 *
 * @module
 */
import type { AssociationLike } from "../protocol/association.ts";
import { Accept, Cancel, Done, End, ErrorMessage, Key, Offer, Pull, Pullable, PullProof, PullRefused, PullShare, Reject, Resuming } from "../protocol/messages.ts";
import type { PairingLimits } from "../pairing/defaults.ts";
import { LogBudget, type PairingLog } from "../pairing/log.ts";
import { Pairing } from "../pairing/pairing.ts";
import { SessionServer } from "./session.ts";

/** What accepts associations: the SCTP endpoint (or a test double). */
export interface AssociationSource {
  on(event: "association", listener: (association: AssociationLike) => void): unknown;
  off?(event: "association", listener: (association: AssociationLike) => void): unknown;
}

/** Options for {@link startExchangeService}. */
export interface ExchangeServiceOptions {
  endpoint: AssociationSource;
  serverName: string;
  limits?: Partial<PairingLimits>;
  log?: PairingLog;
  /** See {@link SessionServerOptions.maxUnreadBytes}. */
  maxUnreadBytes?: number;
  /** See {@link SessionServerOptions.maxUnreadControlBytes}. */
  maxUnreadControlBytes?: number;
  /** See {@link SessionServerOptions.maxUnreadControlTotal}. */
  maxUnreadControlTotal?: number;
  /** See {@link SessionServerOptions.unreadGraceMs}. */
  unreadGraceMs?: number;
  /** See {@link SessionServerOptions.pingsPerSecond}. */
  pingsPerSecond?: number;
  /** The clock, in ms, of the unread-replies watch ({@link SessionServerOptions.now}) and of the pairing (for tests). */
  now?: () => number;
  /** See {@link SessionServerOptions.socketOverflows}. */
  socketOverflows?: () => number | undefined;
}

/** A running exchange service. */
export interface ExchangeService {
  /** Sessions and their handler table: register other features' messages here. */
  readonly sessions: SessionServer;
  readonly pairing: Pairing;
  /** Ends every exchange and session. The endpoint is the caller's to close. */
  close(): Promise<void>;
}

/** Starts sessions, pairing and the relay on an endpoint. */
export function startExchangeService(opts: ExchangeServiceOptions): ExchangeService {
  const sessions = new SessionServer({
    serverName: opts.serverName,
    limits: opts.limits,
    log: opts.log,
    maxUnreadBytes: opts.maxUnreadBytes,
    maxUnreadControlBytes: opts.maxUnreadControlBytes,
    maxUnreadControlTotal: opts.maxUnreadControlTotal,
    unreadGraceMs: opts.unreadGraceMs,
    pingsPerSecond: opts.pingsPerSecond,
    now: opts.now,
    socketOverflows: opts.socketOverflows,
  });
  const pairing = new Pairing({ limits: sessions.limits, log: opts.log, lookup: (id) => sessions.lookup(id), now: opts.now });
  sessions.handle(Offer, (s, msg) => pairing.offer(s, msg));
  sessions.handle(Pullable, (s, msg) => pairing.pullable(s, msg));
  sessions.handle(Pull, (s, msg) => pairing.pull(s, msg));
  sessions.handle(PullShare, (s, msg) => pairing.pullShare(s, msg));
  sessions.handle(PullProof, (s, msg) => pairing.pullProof(s, msg));
  sessions.handle(PullRefused, (s, msg) => pairing.pullRefused(s, msg));
  sessions.handle(Accept, (s, msg) => pairing.accept(s, msg));
  sessions.handle(Reject, (s, msg) => pairing.reject(s, msg));
  sessions.handle(Key, (s, msg) => pairing.key(s, msg));
  sessions.handle(End, (s, msg) => pairing.end(s, msg));
  sessions.handle(Resuming, (s, msg) => pairing.resuming(s, msg));
  sessions.handle(Done, (s, msg) => pairing.done(s, msg));
  sessions.handle(Cancel, (s, msg) => pairing.cancel(s, msg));
  const reports = new LogBudget();
  sessions.handle(ErrorMessage, (s, msg) => {
    if (pairing.error(s, msg)) return;
    const held = reports.take(s.logKey);
    if (held < 0) return;
    const more = held > 0 ? ` (and ${held} more reports not logged)` : "";
    sessions.log.info(`Client {label} reported {code}: {message}${more}`, { label: s.label, code: msg.code, message: msg.message.slice(0, 300) });
  });
  sessions.routeData((s, streamId, data, ppid) => pairing.data(s, streamId, data, ppid));
  sessions.onSessionClose((s, reason) => pairing.gone(s, reason));
  const onAssociation = (a: AssociationLike) => {
    sessions.attach(a);
  };
  opts.endpoint.on("association", onAssociation);
  return {
    sessions,
    pairing,
    async close() {
      opts.endpoint.off?.("association", onAssociation);
      pairing.closeAll();
      await sessions.close();
    },
  };
}
