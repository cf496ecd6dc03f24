/**
 * Every discovery limit and default, in one place.
 *
 * @module
 */

/**
 * The multicast group servers join. 239.255.0.0/16 is the IPv4 Local Scope
 * (RFC 2365 §6.1): administratively scoped, never routed off the site.
 */
export const DISCOVERY_GROUP = "239.255.69.69";

/** The UDP port queries go to; `sfx serve` shares it with its SCTP endpoint. */
export const DISCOVERY_PORT = 6969;

/** Queries leave with TTL 1: they never cross a router. */
export const DISCOVERY_TTL = 1;

/** Datagrams longer than this are dropped unread (a reply is at most ~420 bytes). */
export const MAX_DISCOVERY_DATAGRAM = 512;

/** Longest server name carried in a reply, in UTF-8 bytes (longer names are cut). */
export const MAX_NAME_BYTES = 64;

/** Longest version string carried in a reply, in UTF-8 bytes. */
export const MAX_VERSION_BYTES = 32;

/** Most addresses a reply lists. */
export const MAX_ADDRESSES = 16;

/** Replies per second each source address may draw, once its burst is spent. */
export const REPLY_RATE_PER_SECOND = 10;

/** Replies a source address may draw at once. */
export const REPLY_BURST = 20;

/** Source addresses the rate limiter remembers; beyond this the oldest are forgotten. */
export const MAX_RATE_SOURCES = 4096;

/** How long `discoverServers()` listens for answers, by default. */
export const DISCOVERY_TIMEOUT_MS = 1000;

/**
 * How long a search for the one server listens after the first answer for
 * another: past the second round of queries (sent 250 ms after the first).
 */
export const DISCOVERY_SETTLE_MS = 300;

/** How many times a search sends its query within the timeout, in case one is lost. */
export const QUERY_REPEATS = 3;

/** Most distinct servers one search collects. */
export const MAX_SERVERS_PER_SEARCH = 256;
