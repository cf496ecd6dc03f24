/**
 * Client IDs: short random numbers, read aloud as two groups of three digits
 * ("482 913"), unique among live clients, and not reused for a while after
 * their client leaves so a sender with a stale ID does not reach a stranger.
 *
 * @module
 */
import { randomInt } from "node:crypto";
import { SfxError } from "../errors.ts";
import { ID_DIGITS, ID_QUARANTINE_MAX, ID_QUARANTINE_MS } from "./defaults.ts";

/** Options for {@link IdRegistry}; all injectable for tests. */
export interface IdRegistryOptions {
  digits?: number;
  quarantineMs?: number;
  now?: () => number;
  /** Random integer in [min, max). */
  random?: (min: number, max: number) => number;
}

/** Allocates and releases client IDs. */
export class IdRegistry<T = unknown> {
  #live = new Map<string, T>();
  /** Released IDs and when they were released, oldest first (Map keeps insertion order). */
  #recent = new Map<string, number>();
  #digits: number;
  #quarantineMs: number;
  #now: () => number;
  #random: (min: number, max: number) => number;

  constructor(opts: IdRegistryOptions = {}) {
    this.#digits = opts.digits ?? ID_DIGITS;
    this.#quarantineMs = opts.quarantineMs ?? ID_QUARANTINE_MS;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? randomInt;
  }

  /** Live clients. */
  get size(): number {
    return this.#live.size;
  }

  /** How many IDs exist: no leading zero, so 900,000 for six digits. */
  get capacity(): number {
    return 9 * 10 ** (this.#digits - 1);
  }

  /** Gives `value` a fresh ID. Throws SFX_LIMIT when (nearly) every ID is taken. */
  allocate(value: T): string {
    this.#expireQuarantine();
    if (this.#live.size + this.#recent.size >= this.capacity * 0.5) {
      // Random probing stays fast while at most half the space is used.
      if (this.#live.size >= this.capacity * 0.5) throw new SfxError("SFX_LIMIT", "No client ID is free on this server");
      this.#recent.clear();
    }
    const min = 10 ** (this.#digits - 1);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const id = String(this.#random(min, min * 10));
      if (this.#live.has(id) || this.#recent.has(id)) continue;
      this.#live.set(id, value);
      return id;
    }
    throw new SfxError("SFX_LIMIT", "No client ID is free on this server");
  }

  /** The client with this ID (spaces and dashes ignored), if live. */
  get(id: string): T | undefined {
    return this.#live.get(normalizeId(id));
  }

  /** Frees an ID; it stays unused for the quarantine period. */
  release(id: string): void {
    if (!this.#live.delete(id)) return;
    this.#recent.set(id, this.#now());
    while (this.#recent.size > ID_QUARANTINE_MAX) this.#recent.delete(this.#recent.keys().next().value!);
  }

  #expireQuarantine(): void {
    const cutoff = this.#now() - this.#quarantineMs;
    for (const [id, at] of this.#recent) {
      if (at > cutoff) break;
      this.#recent.delete(id);
    }
  }
}

/** "482 913", "482-913", " 482913 " → "482913". */
export function normalizeId(text: string): string {
  return text.replace(/[\s-]/g, "");
}

/** "482913" → "482 913", for people. */
export function formatId(id: string): string {
  return id.length === 6 ? `${id.slice(0, 3)} ${id.slice(3)}` : id;
}
