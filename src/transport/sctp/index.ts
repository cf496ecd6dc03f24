/**
 * sfx's user-space SCTP (RFC 9260) over a datagram seam (UDP encapsulation,
 * RFC 6951): endpoints that serve many associations on one socket, and
 * associations that carry whole messages on independent streams, reliably,
 * ordered or unordered, with congestion control, flow control end to end,
 * heartbeats and path MTU discovery (RFC 8899). I-DATA (RFC 8260) is
 * negotiated so a large message never holds up a small one on another
 * stream.
 *
 * @example
 * ```ts
 * import { SctpEndpoint } from "./src/transport/sctp/index.ts";
 * import { openUdpSocket } from "./src/transport/udp.ts";
 *
 * const server = SctpEndpoint.listen({ socket: await openUdpSocket({ host: "127.0.0.1", port: 0 }) });
 * server.on("association", (a) => a.on("message", (stream, data) => a.send(stream, data)));
 *
 * const client = SctpEndpoint.listen({ socket: await openUdpSocket({ host: "127.0.0.1", port: 0 }) });
 * const a = await client.connect(server.localAddress, { streams: 4 });
 * a.on("message", (stream, data) => console.log(stream, new TextDecoder().decode(data))); // 1 hello
 * a.send(1, new TextEncoder().encode("hello"));
 * // …once the answer is in:
 * await a.close();
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

export { type EndpointStats, type ForeignDatagramHandler, SctpEndpoint, type SctpEndpointEvents } from "./endpoint.ts";
export { Association, type AssociationEvents, type AssociationState, type AssociationStats, type CloseReason } from "./association.ts";
export type { SctpOptions } from "./options.ts";
export { type Clock, ManualClock, systemClock, type TimerHandle } from "./clock.ts";
export { SCTP_DEFAULTS } from "./defaults.ts";
