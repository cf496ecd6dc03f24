/**
 * Share codes: capabilities. A code is 23 random Crockford base32 characters
 * (115 bits from `crypto.getRandomValues`) and a check character, made by
 * the uploading client and printed in groups of four:
 * `7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET`. Parsing forgives what people do when they
 * type a code: any case, hyphens or spaces anywhere or nowhere, and
 * Crockford's look-alikes (O → 0, I and L → 1); the check character catches
 * what it cannot forgive: any one character mistyped, or two next to each
 * other swapped, is refused before anything is asked of the server (but for
 * 0 and Z, whose values are 31 apart: one in 16 such mistakes, at worst).
 *
 * The code never reaches the server. HKDF-SHA-256 over it gives a *lookup*
 * (what the client sends to find the share) and the keys its files and list
 * are enciphered with ({@link shareSecrets}); the lookup tells nothing of the
 * keys. Codes of 20 characters (100 bits, no check character) are those
 * servers made before shares were enciphered, whose shares are in the clear:
 * for such a code the client sends the store's key ({@link codeKey}), never
 * the code, so that a code of today typed a group short gives nothing away.
 *
 * The store never keeps a code or a lookup: it keys shares by
 * {@link codeKey}, a SHA-256 of either, so neither a directory listing nor a
 * log line gives one away, and a lookup compares hashes, not the secret itself.
 *
 * @module
 */
import { createHash, hkdfSync } from "node:crypto";
import { SfxError } from "../errors.ts";
import { CODE_CHARS, CODE_GROUP, PLAIN_CODE_CHARS } from "./defaults.ts";

/** Crockford's base32 alphabet: digits and letters without I, L, O, U. */
export const CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const DECODE = new Map<string, string>();
for (const c of CROCKFORD_ALPHABET) DECODE.set(c, c);
DECODE.set("O", "0");
DECODE.set("I", "1");
DECODE.set("L", "1");

/** A new random share code, grouped with hyphens: 24 characters (the last a check), or 20 for a share in the clear (`plain`, what servers made before shares were enciphered). */
export function generateCode(plain = false): string {
  const bytes = new Uint8Array(plain ? PLAIN_CODE_CHARS : CODE_CHARS - 1);
  crypto.getRandomValues(bytes);
  // 256 is a multiple of 32, so `byte & 31` is uniform: exactly 5 random bits per character.
  let raw = "";
  for (const b of bytes) raw += CROCKFORD_ALPHABET[b & 31];
  return formatCode(plain ? raw : raw + checkCharacter(raw));
}

/**
 * The check character of a code's first 23 characters: the sum of each
 * character's value times its position (1 to 23), modulo 31. 31 is prime and
 * the weights are distinct and under it, so one character changed, or two
 * neighbours swapped, changes the sum (but for 0 and Z, whose values are 31
 * apart).
 */
function checkCharacter(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += (i + 1) * CROCKFORD_ALPHABET.indexOf(body[i]);
  return CROCKFORD_ALPHABET[sum % 31];
}

/** Groups a canonical code with hyphens: `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. */
export function formatCode(canonical: string): string {
  const groups: string[] = [];
  for (let i = 0; i < canonical.length; i += CODE_GROUP) groups.push(canonical.slice(i, i + CODE_GROUP));
  return groups.join("-");
}

/**
 * The canonical form of a typed code (24 upper-case characters, or 20 for a
 * share in the clear, no hyphens), or `SFX_BAD_CODE` naming what is wrong.
 *
 * @example
 * ```ts
 * parseCode("7kq2-m9xd-4t1f-hb6r-w3np-5zet") === "7KQ2M9XD4T1FHB6RW3NP5ZET";
 * parseCode("7KQ2M9XD4T1FHB6RW3NP5ZOE") === "7KQ2M9XD4T1FHB6RW3NP5Z0E"; // O read as zero
 * ```
 */
export function parseCode(text: string): string {
  const example = "like 7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET";
  if (typeof text !== "string" || text.length > 4 * CODE_CHARS) {
    throw new SfxError("SFX_BAD_CODE", `Invalid share code: expected ${CODE_CHARS} characters, ${example}`);
  }
  let out = "";
  for (const ch of text.toUpperCase()) {
    if (ch === "-" || ch === " ") continue;
    const mapped = DECODE.get(ch);
    if (mapped === undefined) {
      const shown = /^[\x21-\x7e]$/.test(ch) ? `'${ch}'` : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      throw new SfxError("SFX_BAD_CODE", `Invalid share code: ${shown} is not a code character (codes are ${example})`);
    }
    out += mapped;
  }
  if (out.length !== CODE_CHARS && out.length !== PLAIN_CODE_CHARS) {
    throw new SfxError("SFX_BAD_CODE", `Invalid share code: it has ${out.length} code characters, not ${CODE_CHARS} (${example})`);
  }
  if (out.length === CODE_CHARS && checkCharacter(out.slice(0, -1)) !== out.at(-1)) {
    throw new SfxError("SFX_BAD_CODE", "Invalid share code: it is mistyped (its last character, a check on the others, does not match them): compare it with the code you were given");
  }
  return out;
}

/** Whether a code (any form {@link parseCode} takes) is one of a share in the clear: 20 characters, from a server of before shares were enciphered. */
export function isPlainCode(code: string): boolean {
  return parseCode(code).length === PLAIN_CODE_CHARS;
}

/** What a client sends to find an enciphered share: 64 hex digits. */
const LOOKUP = /^[0-9a-f]{64}$/;
/** What a client sends to find a share in the clear: `v1:` and its store key. */
const PLAIN_KEY = /^v1:([0-9a-f]{64})$/;

/**
 * What a client sends the server to find the share of `code`: the lookup of
 * an enciphered share's code, or `v1:` and the store key of a share in the
 * clear's. Never the code itself: the store key of a code of today typed a
 * group short is a hash of 100 of its bits, not the bits.
 */
export function lookupOf(code: string): string {
  const share = shareKeyOf(parseCode(code));
  return share.sealed ? share.lookup : `v1:${share.key}`;
}

/** What a code of an enciphered share gives: the lookup the server is told, and the keys it is never told. */
export interface ShareSecrets {
  /** Sent instead of the code: 64 hex digits. */
  lookup: string;
  /** AES-256 key of the files' bytes. */
  dataKey: Buffer;
  /** AES-256-GCM key of the share's list of files. */
  listKey: Buffer;
}

/** HKDF-SHA-256 over a 24-character code: its lookup and keys (see {@link ShareSecrets}). */
export function shareSecrets(code: string): ShareSecrets {
  const canonical = parseCode(code);
  if (canonical.length !== CODE_CHARS) throw new SfxError("SFX_BAD_CODE", "A share code of 20 characters is one of a share in the clear: it has no keys");
  const okm = Buffer.from(hkdfSync("sha256", canonical, "sfx share v2", "lookup, data key, list key", 96));
  return { lookup: okm.subarray(0, 32).toString("hex"), dataKey: okm.subarray(32, 64), listKey: okm.subarray(64, 96) };
}

/** True when `text` parses as a code. */
export function isCode(text: string): boolean {
  try {
    parseCode(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether `text` is what a client sends for a code ({@link lookupOf}): a lookup, or `v1:` and a store key. */
export function isSentForm(text: string): boolean {
  return typeof text === "string" && (LOOKUP.test(text) || PLAIN_KEY.test(text));
}

/**
 * What a code, or what a client sends for one ({@link lookupOf}), finds: the
 * store's key, and whether the share there is enciphered. An enciphered
 * share's key is the hex SHA-256 of its lookup (a code of 24 characters
 * gives its lookup); one in the clear's is the SHA-256 of its canonical code
 * (which a client sends as it is, after `v1:`). Shares are stored and looked
 * up under this key; neither the code nor the lookup is written down.
 * `SFX_BAD_CODE` for anything else.
 */
export function shareKeyOf(codeOrLookup: string): { key: string; sealed: true; lookup: string } | { key: string; sealed: false } {
  const text = typeof codeOrLookup === "string" ? codeOrLookup : "";
  const plainKey = PLAIN_KEY.exec(text);
  if (plainKey) return { key: plainKey[1], sealed: false };
  const canonical = LOOKUP.test(text) ? undefined : parseCode(codeOrLookup);
  if (canonical !== undefined && canonical.length === PLAIN_CODE_CHARS) {
    return { key: createHash("sha256").update("sfx-share-v1:").update(canonical).digest("hex"), sealed: false };
  }
  const lookup = canonical === undefined ? text : shareSecrets(canonical).lookup;
  return { key: createHash("sha256").update("sfx-share-v2:").update(lookup).digest("hex"), sealed: true, lookup };
}

/** The store's key for a code or what a client sends (see {@link shareKeyOf}). */
export function codeKey(codeOrLookup: string): string {
  return shareKeyOf(codeOrLookup).key;
}

/** A code shortened for messages and logs: the first group and an ellipsis. */
export function codeHint(code: string): string {
  return `${code.replace(/-/g, "").slice(0, CODE_GROUP).toUpperCase()}…`;
}
