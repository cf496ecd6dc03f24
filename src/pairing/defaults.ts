/**
 * Every limit and default of the exchange server, in one place. `sfx serve`
 * has a flag for each of {@link PairingLimits}; the server reads nothing else.
 *
 * @module
 */

/** Server limits an operator may change (`sfx serve --max-clients …`). */
export interface PairingLimits {
  /** Most clients connected at once; more are refused with SFX_LIMIT. */
  maxClients: number;
  /** Most clients connected at once from one IP address (one machine, or one NAT). */
  maxClientsPerAddress: number;
  /** Largest file an offer may announce (and a file of unknown size may reach). */
  maxFileSize: number;
  /** Most files in one offer. */
  maxFilesPerOffer: number;
  /** How long a receiver has to accept or reject an offer. */
  offerTimeoutMs: number;
  /** A client that sends nothing for this long, outside an exchange, is disconnected (clients ping at a third of it). */
  idleTimeoutMs: number;
  /** How long a client has to say hello after connecting. */
  helloTimeoutMs: number;
}

/** Most clients connected at once. */
export const MAX_CLIENTS = 1000;
/**
 * Most clients from one address: a small office behind one NAT, but not one host taking every slot
 * (at 256, four addresses of one LAN host held all 1,000 for as long as they pinged).
 */
export const MAX_CLIENTS_PER_ADDRESS = 64;
/** Largest file: 1 TiB. */
export const MAX_FILE_SIZE = 2 ** 40;
/** Most files per offer (the protocol's own cap is 10,000). */
export const MAX_FILES_PER_OFFER = 10_000;
/** A receiver has a minute to answer an offer (time for a person to read the prompt). */
export const OFFER_TIMEOUT_MS = 60_000;
/** Five minutes of silence outside an exchange ends a connection. */
export const IDLE_TIMEOUT_MS = 300_000;
/** Ten seconds to say hello. */
export const HELLO_TIMEOUT_MS = 10_000;

/**
 * Connections that have not said hello yet, per address: each is a handshake
 * in progress, counted by no client limit until its hello, and holding its
 * receive window (see {@link CONTROL_WINDOW_BYTES}). More are aborted.
 */
export const MAX_PENDING_HELLOS_PER_ADDRESS = 64;
/** Connections, said hello or not, beyond maxClients (per address: beyond maxClientsPerAddress) are aborted at once. */
export const PENDING_HELLO_ALLOWANCE = 64;
/**
 * The server's receive window for a client that is not sending a file: enough
 * for any control message, and 64 KiB + one control message is all such a
 * client (or a stranger that never says hello) can make the server hold.
 */
export const CONTROL_WINDOW_BYTES = 64 * 1024;
/**
 * The receive window of a client while it sends (an exchange, a share upload;
 * the SCTP default): what a file needs to stream over a long path.
 */
export const CLIENT_WINDOW_BYTES = 8 * 1024 * 1024;
/**
 * What the windows of all sending clients may add up to: 64 get the whole
 * {@link CLIENT_WINDOW_BYTES}; more share it (see WindowPool).
 */
export const SENDER_WINDOW_POOL_BYTES = 512 * 1024 * 1024;
/**
 * What the server may queue unacknowledged for one client it streams data to
 * (the receiver of an exchange, a share download; the SCTP default send
 * high-water mark).
 */
export const RECEIVER_BUFFER_BYTES = 4 * 1024 * 1024;
/** The least such a client gets however many receive at once. */
export const RECEIVER_BUFFER_MIN_BYTES = 256 * 1024;
/**
 * What the send buffers of all receiving clients may add up to: 64 get the
 * whole {@link RECEIVER_BUFFER_BYTES}; more share it (see SendBufferPool).
 */
export const RECEIVER_BUFFER_POOL_BYTES = 256 * 1024 * 1024;

/** Digits in a client ID ("482 913"): the protocol's (a receive code is an ID and six digits more). */
export { ID_DIGITS } from "../protocol/defaults.ts";
/** A released ID is not reused for this long, so an old ID does not reach a newcomer. */
export const ID_QUARANTINE_MS = 10 * 60_000;
/** Most released IDs remembered for quarantine. */
export const ID_QUARANTINE_MAX = 50_000;

/**
 * Offers to IDs no client holds, per client address: this many at once, then
 * {@link UNKNOWN_IDS_PER_MINUTE} — plenty for typos, far too few to find
 * connected clients by trying IDs.
 */
export const UNKNOWN_ID_BURST = 20;
/** Offers to unknown IDs earned back per minute (see {@link UNKNOWN_ID_BURST}). */
export const UNKNOWN_IDS_PER_MINUTE = 10;
/** Protocol errors tolerated from one client before its association is aborted. */
export const MAX_PROTOCOL_ERRORS = 20;

/** The defaults, as one object. */
export const DEFAULT_PAIRING_LIMITS: PairingLimits = {
  maxClients: MAX_CLIENTS,
  maxClientsPerAddress: MAX_CLIENTS_PER_ADDRESS,
  maxFileSize: MAX_FILE_SIZE,
  maxFilesPerOffer: MAX_FILES_PER_OFFER,
  offerTimeoutMs: OFFER_TIMEOUT_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  helloTimeoutMs: HELLO_TIMEOUT_MS,
};
