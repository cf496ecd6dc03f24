/**
 * LAN discovery: a responder on each server, a searcher in each client,
 * meeting on an administratively scoped multicast group (TTL 1); servers
 * answer by unicast with who they are and where to connect.
 *
 * @module
 */
export { startDiscoveryResponder } from "./responder.ts";
export type { DiscoveryResponder, DiscoveryResponderStats, ResponderOptions } from "./responder.ts";
export { discoverServers, findFirstServer, findOnlyServer, noServerError, sortServers } from "./searcher.ts";
export type { DiscoveredServer, DiscoverOptions } from "./searcher.ts";
export {
  decodeDiscoveryMessage,
  DiscoveryDecodeError,
  encodeQuery,
  encodeReply,
  isDiscoveryDatagram,
} from "./message.ts";
export type { DiscoveryMessage, DiscoveryQuery, DiscoveryReply, DropReason } from "./message.ts";
export { DISCOVERY_GROUP, DISCOVERY_PORT } from "./defaults.ts";
export type { DiscoveryLog } from "./log.ts";
