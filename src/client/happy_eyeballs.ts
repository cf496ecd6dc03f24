/**
 * Happy Eyeballs (RFC 8305) for a server's name: its addresses are tried in
 * the resolver's order with the families interleaved, each attempt given a
 * head start of {@link ATTEMPT_DELAY_MS} before the next begins beside it,
 * and the first to succeed wins; the others are cancelled, or let go of if
 * they succeed too. A name whose first address is blackholed (an IPv6 route
 * that leads nowhere, a firewall that drops UDP for one family) then costs a
 * quarter of a second, not the whole connect timeout.
 *
 * Knows nothing of SCTP: an attempt is any function of an address.
 *
 * @example
 * ```ts
 * const addresses = interleaveFamilies(["2001:db8::1", "2001:db8::2", "192.0.2.1"]);
 * // → ["2001:db8::1", "192.0.2.1", "2001:db8::2"]
 * const socket = await firstToSucceed(addresses, (address, signal) => open(address, signal), {
 *   discard: (late) => late.close(),
 * });
 * ```
 *
 * @module
 */
import { isIP } from "node:net";

/** How long an attempt runs alone before the next address is tried beside it: RFC 8305 §5's recommended Connection Attempt Delay. */
export const ATTEMPT_DELAY_MS = 250;

/**
 * The addresses in the resolver's order (RFC 6724's, from getaddrinfo),
 * rearranged so that the families alternate, starting with the first
 * address's family (RFC 8305 §4, a First Address Family Count of 1).
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  if (addresses.length === 0) return [];
  const family = isIP(addresses[0]);
  const first = addresses.filter((a) => isIP(a) === family);
  const other = addresses.filter((a) => isIP(a) !== family);
  const out: string[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i++) {
    if (i < first.length) out.push(first[i]);
    if (i < other.length) out.push(other[i]);
  }
  return out;
}

/** One address's failed attempt. */
export interface AttemptFailure {
  address: string;
  error: unknown;
}

/** Every attempt failed: their failures, in the order of the addresses. */
export class AllAttemptsFailed extends Error {
  readonly failures: readonly AttemptFailure[];

  constructor(failures: readonly AttemptFailure[]) {
    super(`all ${failures.length} attempts failed`);
    this.failures = failures;
    this.name = "AllAttemptsFailed";
  }
}

/** Options for {@link firstToSucceed}. */
export interface RaceOptions<T> {
  /** The head start of each attempt; default {@link ATTEMPT_DELAY_MS}. */
  delayMs?: number;
  /** Aborts every attempt, and rejects with {@link RaceOptions.cancelled}'s error. */
  signal?: AbortSignal;
  /** The error to reject with when `signal` aborts; default the signal's reason. */
  cancelled?: () => unknown;
  /** No attempt starts after this time (`performance.now()`, or `now`): the addresses left are not tried. */
  deadline?: number;
  /** The clock `deadline` is on; default `performance.now`. */
  now?: () => number;
  /** The reason the attempts still running are aborted with when one wins (their signals' `reason`). */
  lostReason?: unknown;
  /** Lets go of a success that came after another had won (closes what it opened). Its errors are ignored. */
  discard(result: T): unknown;
}

/**
 * Starts `attempt` on the first address, then on the next one when
 * `delayMs` has passed without a success or at once when an attempt fails,
 * and so on; resolves with the first success. Each attempt gets a signal
 * that aborts when another wins (or `signal` aborts): it should then give
 * up and clean up. Rejects with {@link AllAttemptsFailed} when every attempt
 * has failed. Leaves no timer behind.
 */
export function firstToSucceed<T>(
  addresses: readonly string[],
  attempt: (address: string, signal: AbortSignal) => Promise<T>,
  opts: RaceOptions<T>,
): Promise<T> {
  const delayMs = opts.delayMs ?? ATTEMPT_DELAY_MS;
  return new Promise<T>((resolve, reject) => {
    if (addresses.length === 0) return reject(new AllAttemptsFailed([]));
    const controllers: AbortController[] = [];
    const failures: Array<AttemptFailure & { index: number }> = [];
    let next = 0;
    let running = 0;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    /** Ends the race: every attempt but the winner's (`won`) is told to give up. */
    const settle = (reason?: unknown, won?: AbortController) => {
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      for (const c of controllers) if (c !== won) c.abort(reason);
    };
    const onAbort = () => {
      if (settled) return;
      settle(opts.signal!.reason);
      reject(opts.cancelled ? opts.cancelled() : opts.signal!.reason);
    };
    const now = opts.now ?? (() => performance.now());
    const late = () => opts.deadline !== undefined && now() >= opts.deadline;
    /** Starts the next address's attempt; false when there is none to start (all started, or the deadline passed). */
    const start = (): boolean => {
      clearTimeout(timer);
      timer = undefined;
      if (settled || next >= addresses.length || (next > 0 && late())) return false;
      const index = next++;
      const address = addresses[index];
      const controller = new AbortController();
      controllers.push(controller);
      running++;
      new Promise<T>((r) => r(attempt(address, controller.signal))).then(
        (result) => {
          running--;
          if (settled) {
            void Promise.resolve().then(() => opts.discard(result)).catch(() => {});
            return;
          }
          settle(opts.lostReason, controller);
          resolve(result);
        },
        (error) => {
          running--;
          if (settled) return;
          failures.push({ address, error, index });
          // One look at the clock, in start(): the deadline passing between two looks had left the race unsettled.
          if (start()) return;
          if (running === 0) {
            settle();
            failures.sort((a, b) => a.index - b.index);
            reject(new AllAttemptsFailed(failures.map(({ address, error }) => ({ address, error }))));
          }
        },
      );
      if (next < addresses.length) timer = setTimeout(start, delayMs);
      return true;
    };

    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    start();
  });
}
