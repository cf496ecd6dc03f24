/**
 * sfx — Streaming Files eXchange, as a library.
 *
 * Everything the `sfx` command does is here to embed: run a server
 * ({@link startServer}), connect a client to it and send or receive files
 * ({@link connect}, {@link sendFiles}, {@link Receiver}), use the anonymous
 * share store ({@link sharePut}, {@link shareList}, {@link shareGet}), find
 * servers on the LAN ({@link discoverServers}), and — underneath all of it —
 * the user-space SCTP-over-UDP transport ({@link SctpEndpoint}), which knows
 * nothing of files. Errors are {@link SfxError}s with stable codes.
 *
 * This file only re-exports; each symbol is documented where it is defined.
 *
 * @example Run a server, then send a file from one client to another
 * ```ts
 * import { collectFiles, connect, ExchangeCode, Receiver, sendFiles, startServer } from "./mod.ts";
 *
 * const server = await startServer({ host: "127.0.0.1", port: 0, logDir: "/tmp/sfx-demo/logs", storage: "/tmp/sfx-demo/shares" });
 * const at = { host: "127.0.0.1", port: server.port };
 * const [bob, alice] = await Promise.all([connect({ server: at }), connect({ server: at })]);
 * const files = await collectFiles(["./report.pdf"]);
 * // Bob's code (his ID and six secret digits) reaches Alice by voice or chat; the server never sees the digits.
 * const code = new ExchangeCode();
 * // Bob waits for one offer while Alice sends: awaited together, so that either one's error is caught.
 * const [received] = await Promise.all([
 *   new Receiver(bob, { dir: "/tmp/sfx-demo/inbox", code, decide: async () => true }).receiveOne(),
 *   sendFiles(alice, { to: code.format(bob.id), files }),
 * ]);
 * console.log(received); // { from, accepted: true, files: [{ path, sha256, … }], bytes, seconds }
 * await Promise.all([alice.close(), bob.close()]);
 * await server.close();
 * ```
 *
 * @example The transport on its own: an SCTP echo over UDP
 * ```ts
 * import { openDatagramSocket, SctpEndpoint } from "./mod.ts";
 *
 * const server = SctpEndpoint.listen({ socket: await openDatagramSocket({ host: "127.0.0.1", port: 0 }) });
 * server.on("association", (a) => a.on("message", (stream, data) => a.send(stream, data)));
 * const client = SctpEndpoint.listen({ socket: await openDatagramSocket({ host: "127.0.0.1", port: 0 }) });
 * const a = await client.connect(server.localAddress, { streams: 4 });
 * const echoed = new Promise((resolve) => a.once("message", (stream, data) => resolve(`${stream} ${new TextDecoder().decode(data)}`)));
 * a.send(1, new TextEncoder().encode("hello"));
 * console.log(await echoed); // 1 hello
 * await a.close(); // graceful: everything sent is delivered first
 * await client.close(); // an endpoint closes its socket too
 * await server.close();
 * ```
 *
 * @module
 */

// Errors and version
export { describeError, ERROR_CODES, exitStatusFor, isSfxError, SfxError } from "./src/errors.ts";
export type { ErrorCode } from "./src/errors.ts";
export { VERSION } from "./src/version.ts";

// Server
export { startServer } from "./src/server/server.ts";
export type { RunningServer, ServerOptions } from "./src/server/server.ts";
export { runServer } from "./src/server/run.ts";
export type { RunOptions } from "./src/server/run.ts";
export { getLogger, setupLogging } from "./src/log/index.ts";
export type { Logging, LoggingOptions } from "./src/log/index.ts";

// Client: connection, exchanges, shares
export { ClientConnection, connect } from "./src/client/connection.ts";
export type { ConnectOptions, ServerAddress, WelcomeInfo } from "./src/client/connection.ts";
export { sendByCode, sendFiles } from "./src/client/send.ts";
export { collectFiles } from "./src/client/walk.ts";
export type { CollectOptions, SkipKind, SourceFile } from "./src/client/walk.ts";
export type { SendByCodeOptions, SendOptions, SendResult } from "./src/client/send.ts";
export { receiveByCode, Receiver } from "./src/client/receive.ts";
export type { IncomingOffer, ReceiveByCodeOptions, ReceivedExchange, ReceiveOptions } from "./src/client/receive.ts";
export { ExchangeCode, parseReceiverTarget, parseSenderCode } from "./src/protocol/exchange_code.ts";
export { openSafeWrite, sanitizeRelativePath } from "./src/client/safe_write.ts";
export { collectShareFiles, connectionShareLink, ShareClient, shareGet, shareList, sharePut } from "./src/client/share.ts";
export type { GetOptions, GetResult, GotFile, PutOptions, ShareLink, ShareProgress } from "./src/client/share.ts";
export { formatId } from "./src/pairing/id_registry.ts";

// Share store (server side)
export { DEFAULT_SHARE_LIMITS, generateCode, openShareStore, parseCode, ShareStore } from "./src/share/index.ts";
export type { CreatedShare, ShareLimits, ShareListing } from "./src/share/index.ts";

// Discovery
export {
  DISCOVERY_GROUP,
  DISCOVERY_PORT,
  discoverServers,
  findFirstServer,
  findOnlyServer,
  isDiscoveryDatagram,
  startDiscoveryResponder,
} from "./src/discovery/index.ts";
export type {
  DiscoveredServer,
  DiscoverOptions,
  DiscoveryResponder,
  DiscoveryResponderStats,
  ResponderOptions,
} from "./src/discovery/index.ts";

// Transport: SCTP over UDP
export { Association, ManualClock, SCTP_DEFAULTS, SctpEndpoint, systemClock } from "./src/transport/sctp/index.ts";
export type {
  AssociationEvents,
  AssociationState,
  AssociationStats,
  Clock,
  CloseReason,
  EndpointStats,
  SctpEndpointEvents,
  SctpOptions,
} from "./src/transport/sctp/index.ts";
export { openDatagramSocket } from "./src/transport/socket.ts";
export { openUdpSocket } from "./src/transport/udp.ts";
export type { DatagramSocket, LocalAddress, RemoteAddress } from "./src/transport/datagram.ts";
