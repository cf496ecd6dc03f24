/**
 * The composition root of `sfx serve`: it starts the server's parts in
 * order, and stops them in reverse.
 *
 * Logs; one UDP socket with the SCTP endpoint on it; the exchange service
 * (sessions, IDs, pairing, relay) on the endpoint's associations; the share
 * store served over the same sessions; the discovery responder sharing the
 * socket. A new part is one block in {@link startServer} and one entry in
 * `stops`.
 *
 * @module
 */
import { isIP } from "node:net";
import { hostname } from "node:os";
import { SfxError } from "../errors.ts";
import { getLogger, type Logging, type LogLevel, setupLogging } from "../log/index.ts";
import { type DiscoveryResponder, isDiscoveryDatagram, startDiscoveryResponder } from "../discovery/index.ts";
import { type PairingLimits, CONTROL_WINDOW_BYTES } from "../pairing/defaults.ts";
import { MAX_CONTROL_BYTES, PEER_FAILURE_TIMEOUT_MS } from "../protocol/defaults.ts";
import { attachShareService, openShareStore, type ShareLimits } from "../share/index.ts";
import { SHARE_REQUESTS } from "../share/service.ts";
import { errorToMessage } from "../protocol/messages.ts";
import type { MessageType } from "../protocol/registry.ts";
import { checkPort, type DatagramSocket, formatAddress } from "../transport/datagram.ts";
import { SctpEndpoint } from "../transport/sctp/index.ts";
import { openDatagramSocket } from "../transport/socket.ts";
import { type ExchangeService, startExchangeService } from "./exchange_service.ts";
import { advertisedAddresses } from "../discovery/interfaces.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "./defaults.ts";

/** How to run a server. Every field has a default. */
export interface ServerOptions {
  /** Address to bind; default 0.0.0.0 (needed to hear multicast discovery). */
  host?: string;
  /** UDP port for SCTP and discovery; default 6969; 0 lets the system choose. */
  port?: number;
  /** The name discovery shows; default this machine's host name. */
  name?: string;
  /** Log directory; default /var/log, falling back to the user state directory. */
  logDir?: string;
  /** Lowest level logged; default info. */
  logLevel?: LogLevel;
  /** Also log concise lines to stderr (the foreground CLI does). */
  console?: boolean;
  /**
   * Set up LogTape (default true); false when the embedding program configured it itself.
   * LogTape has one configuration per process: a server that sets it up replaces the
   * program's, and two servers in one process would share (and, closing, end) one log; give
   * every server but one `logging: false`, or configure LogTape yourself.
   */
  logging?: boolean;
  /**
   * IPv4 addresses of the interfaces to join the discovery group on; default
   * every IPv4 interface. Only a server bound to the wildcard hears multicast,
   * so one bound to a single address joins none and answers unicast queries only.
   */
  discoveryInterfaces?: string[];
  /** Exchange limits (`--max-clients` …); each missing one keeps its default (src/pairing/defaults.ts). */
  pairing?: Partial<PairingLimits>;
  /** Share storage directory (`--storage`); default /var/lib/sfx/shares, falling back to ~/.local/state/sfx/shares. */
  storage?: string;
  /** Share store limits (`--max-share-files` …); each missing one keeps its default (src/share/defaults.ts). */
  shareLimits?: Partial<ShareLimits>;
}

/** A server that is up. */
export interface RunningServer {
  /** The UDP port bound (the real one when 0 was asked for). */
  readonly port: number;
  /** The address bound. */
  readonly host: string;
  /** The name discovery shows. */
  readonly name: string;
  /** Addresses clients can reach it at. */
  readonly addresses: string[];
  /** Where the logs go (undefined when `logging: false`). */
  readonly logDir: string | undefined;
  /** Stops everything, flushes the logs; idempotent. `reason` is logged (e.g. the signal). */
  close(reason?: string): Promise<void>;
  /** Reopens the log file by name (after logrotate moved it; `sfx serve` does this on SIGHUP). */
  reopenLogs(): Promise<void>;
  /** What it is doing now, in figures (`sfx serve --status` shows them). */
  status(): ServerStatus;
}

/** A running server's figures, as `sfx serve --status --json` prints them. */
export interface ServerStatus {
  version: string;
  pid: number;
  /** When it became ready (ISO 8601). */
  startedAt: string;
  host: string;
  port: number;
  name: string;
  /** Clients connected now (welcomed or not yet). */
  clients: number;
  exchanges: {
    /** Offered or streaming now. */
    active: number;
    /** Ended since the start, by how. */
    done: number;
    rejected: number;
    cancelled: number;
    failed: number;
    /** Bytes relayed since the start, those under way included. */
    relayedBytes: number;
  };
  /** Null when the share store could not be opened (its disk full): shares are refused. */
  shares: {
    /** Shares that can be listed and fetched. */
    count: number;
    /** Bytes the store counts against its quota (files in whole blocks, uploads in progress reserved). */
    usedBytes: number;
    quotaBytes: number;
    /** Uploads in progress. */
    uploads: number;
    /** Uploads and downloads in progress. */
    requests: number;
  } | null;
}

/**
 * Starts a server: logs, SCTP endpoint, exchanges, shares, discovery.
 * Throws SfxError `SFX_IO` when the port cannot be bound or no log
 * directory is writable.
 *
 * @example
 * ```ts
 * const server = await startServer({ port: 6969, name: "office", logDir: "/tmp/sfx-logs" });
 * console.log(server.port, server.addresses);
 * await server.close();
 * ```
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = canonicalWildcard(options.host ?? DEFAULT_HOST);
  const requestedPort = options.port ?? DEFAULT_PORT;
  checkPort(requestedPort, 0);
  const name = options.name ?? hostname();

  // 1. Logs first, so every later step can report.
  const logging: Logging | undefined = options.logging === false
    ? undefined
    : await setupLogging({ dir: options.logDir, console: options.console, level: options.logLevel });
  const log = getLogger(["sfx", "server"]);

  // Parts started so far, stopped in reverse order by close() or a failed start.
  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    for (const { what, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn("Stopping the {what} failed: {error}", { what, error: err });
      }
    }
    stops.length = 0;
  };

  let port = requestedPort;
  let figures!: () => Pick<ServerStatus, "clients" | "exchanges" | "shares">;
  /** Where the socket is bound: `host`, or the address a host name resolved to. */
  let bound = host;
  try {
    // 2. The share store (recovers from a crash, sweeps expired shares), before the socket: a
    //    client that came while a large store was being read would find no share service yet.
    //    A store whose disk is full (its lock cannot even be written) leaves the server without
    //    shares, not without its relay and discovery: the admin is told, and shares come back with
    //    a restart once there is room.
    const store = await openShareStore({ storage: options.storage, limits: options.shareLimits }).catch((err) => {
      if (!diskFull(err)) throw err;
      log.error("Shares are not served: the share store cannot be opened, its disk is full ({error}); exchanges and discovery run; restart sfx serve once there is room", {
        error: (err as Error).message,
      });
      return undefined;
    });
    if (store) stops.push({ what: "share store", stop: () => store.close() });

    // 3. One UDP socket for everything. SCTP takes every datagram; those
    //    starting 00 00 (an illegal SCTP source port) come back to us as
    //    "foreign", and the discovery ones go to the responder (step 6).
    let responder: DiscoveryResponder | undefined;
    const socket = await bindUdp(host, requestedPort);
    // A name (`--host localhost`) is what it resolved to: discovery lists addresses, and the log says where.
    if (!isWildcard(host) && isIP(host) === 0) bound = socket.localAddress().address;
    const endpoint = SctpEndpoint.listen({
      socket,
      failureTimeoutMs: PEER_FAILURE_TIMEOUT_MS,
      // Nothing a client sends is larger than one control message (1 MiB) or one data message
      // (64 KiB): refusing bigger ones keeps what one message can queue towards another client small.
      maxMessageSize: MAX_CONTROL_BYTES,
      // Small until a client is welcomed (the session then opens it): a stranger who never says
      // hello, or sends data above a hole, holds 64 KiB and one message, not 8 MiB.
      receiveBufferSize: CONTROL_WINDOW_BYTES,
      onForeignDatagram: (data, from) => {
        if (isDiscoveryDatagram(data)) responder?.handle(data, from);
      },
    });
    stops.push({ what: "SCTP endpoint", stop: () => endpoint.close() }); // closes the socket too
    port = endpoint.localAddress.port;

    // 4. Exchanges: sessions, IDs, pairing and the relay on every association.
    const exchanges = startExchangeService({
      endpoint,
      serverName: name,
      limits: options.pairing,
      log: getLogger(["sfx", "pairing"]),
      socketOverflows: () => socket.receiveOverflows?.(),
    });
    stops.push({ what: "exchange service", stop: () => exchanges.close() });

    // 5. Shares, served over the same sessions as soon as a client can connect (the store was opened first).
    // An upload in which nothing arrives for the idle timeout is abandoned, as a stalled exchange is.
    const shares = store ? attachShareService(exchanges.sessions, store, { stallMs: exchanges.sessions.limits.idleTimeoutMs }) : undefined;
    if (shares) stops.push({ what: "share service", stop: () => shares.close() });
    else refuseShares(exchanges.sessions, "The server's share store is not available (its disk was full when the server started): tell the server's admin");

    // 6. Discovery: answers multicast queries with who we are and `port`.
    responder = await startDiscoveryResponder({
      name,
      advertisePort: port,
      socket,
      group: isWildcard(host) ? undefined : null,
      interfaces: options.discoveryInterfaces,
      addresses: () => announcedAddresses(bound),
      log: getLogger(["sfx", "discovery"]),
    });
    const discovery = responder;
    stops.push({ what: "discovery responder", stop: () => discovery.close() });
    figures = () => {
      const { done, rejected, cancelled, failed } = exchanges.pairing.stats;
      return {
        clients: exchanges.sessions.sessions.size,
        exchanges: { active: exchanges.pairing.active, done, rejected, cancelled, failed, relayedBytes: exchanges.pairing.relayedBytes },
        shares: store
          ? {
            count: store.size,
            usedBytes: store.usedBytes,
            quotaBytes: store.limits.maxStoreBytes,
            uploads: store.uploadsInProgress,
            requests: shares?.service.activeRequests ?? 0,
          }
          : null,
      };
    };
  } catch (err) {
    log.error("sfx {version} failed to start: {error}", { version: VERSION, error: err });
    await stopAll();
    await logging?.close();
    if (err instanceof SfxError) throw err;
    // The file system's refusal (a storage directory another user owns, a read-only disk) is the admin's to fix, not a bug.
    const errno = (err as NodeJS.ErrnoException).code;
    throw new SfxError(typeof errno === "string" && /^E[A-Z]+$/.test(errno) ? "SFX_IO" : "SFX_INTERNAL", `Cannot start the server: ${(err as Error).message}`, { cause: err });
  }

  const addresses = reachableAddresses(bound);
  // An IPv6 host in brackets ([::]:6969), as --server takes it; a name with what it resolved to.
  const where = bound === host ? formatAddress(host, port) : `${formatAddress(bound, port)} (${host})`;
  log.info(`sfx {version} ready on ${where} as {name}`, {
    version: VERSION,
    host: bound === host ? host : `${host} (${bound})`,
    port,
    name,
    addresses,
    pid: process.pid,
    logDir: logging?.dir,
  });

  let closing: Promise<void> | undefined;
  const startedAt = new Date().toISOString();
  return {
    port,
    host,
    name,
    addresses,
    logDir: logging?.dir,
    status: () => ({ version: VERSION, pid: process.pid, startedAt, host: bound, port, name, ...figures() }),
    close(reason?: string) {
      closing ??= (async () => {
        log.info("sfx stopping: {reason}", { reason: reason ?? "asked to" });
        await stopAll();
        log.info("sfx stopped");
        await logging?.close();
      })();
      return closing;
    },
    async reopenLogs() {
      if (closing || !logging) return;
      try {
        await logging.reopen();
      } catch (err) {
        // Said where it can still be read: the file open before, and the console.
        log.error("Cannot reopen the log file {file}: {error}; still writing to the file open before", { file: logging.file, error: String((err as Error)?.message ?? err) });
        throw err;
      }
      log.info("Log file reopened (SIGHUP)");
    },
  };
}

/** Whether `err`, or an error it was caused by, is a full disk or quota. */
function diskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") return true;
  }
  return false;
}

/** Answers every share request with `why` (no share store): the client says it, and the connection goes on. */
function refuseShares(sessions: ExchangeService["sessions"], why: string): void {
  for (const def of SHARE_REQUESTS as readonly MessageType<unknown>[]) {
    sessions.handle(def, (session, msg) => {
      const req = (msg as { req?: number }).req;
      session.sendControl(errorToMessage(new SfxError("SFX_IO", why), req === undefined ? {} : { req }));
    });
  }
}

/** Opens the server's UDP socket; a bind failure is SfxError `SFX_IO` naming the address. */
async function bindUdp(host: string, port: number): Promise<DatagramSocket> {
  try {
    return await openDatagramSocket({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = formatAddress(host, port);
    if (code === "EADDRINUSE") {
      throw new SfxError("SFX_IO", `Cannot listen on UDP ${where}: the port is in use (another sfx serve?)`, { cause: err });
    }
    if (code === "EACCES" && port > 0 && port < 1024) {
      // Ports below net.ipv4.ip_unprivileged_port_start (1024 by default) are root's.
      throw new SfxError("SFX_IO", `Cannot listen on UDP ${where}: a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability (or use the default 6969)`, { cause: err });
    }
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
      const why = code === "EAI_AGAIN" ? "the name could not be looked up now (no DNS yet?)" : "no such host name";
      throw new SfxError("SFX_BAD_ARGUMENT", `Cannot listen on UDP ${where}: --host ${host}: ${why} (${code}); give an address of this machine`, { cause: err });
    }
    if (code === "EADDRNOTAVAIL" || code === "EINVAL") {
      throw new SfxError("SFX_BAD_ARGUMENT", `Cannot listen on UDP ${where}: --host is not an address of this machine (${code})`, { cause: err });
    }
    throw new SfxError("SFX_IO", `Cannot listen on UDP ${where}: ${(err as Error).message}`, { cause: err });
  }
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

/** The IPv6 wildcard however written (`::0`, `0:0:0:0:0:0:0:0`) as `::`, so it is known for one. */
function canonicalWildcard(host: string): string {
  return isIP(host) === 6 && host.split(":").every((group) => /^0*$/.test(group)) ? "::" : host;
}

/** Where clients reach the server: the wildcard's addresses (its family's) plus loopback; else the bound address. */
function reachableAddresses(host: string): string[] {
  if (!isWildcard(host)) return [host];
  // Bound to `::`, the socket takes IPv4 too (Linux's default, IPV6_V6ONLY off).
  return [...announcedAddresses(host), ...(host === "::" ? ["::1", "127.0.0.1"] : ["127.0.0.1"])];
}

/** What discovery replies list: the bound address, or the wildcard's non-loopback addresses it can take (no IPv6 on 0.0.0.0). */
function announcedAddresses(host: string): string[] {
  if (!isWildcard(host)) return [host];
  try {
    return advertisedAddresses().filter((a) => host === "::" || !a.includes(":"));
  } catch {
    return []; // no interface list (a sandbox)
  }
}
