/**
 * Share codes: capabilities. A code is 20 random Crockford base32 characters
 * (100 bits from `crypto.getRandomValues`), printed in groups of four:
 * `7KQ2-M9XD-4T1F-HB6R-W3NP`. Parsing forgives what people do when they type
 * a code: any case, hyphens or spaces anywhere or nowhere, and Crockford's
 * look-alikes (O → 0, I and L → 1).
 *
 * The store never keeps a code: it keys shares by {@link codeKey}, a SHA-256
 * of the canonical code, so neither a directory listing nor a log line gives
 * a code away, and a lookup compares hashes, not the secret itself.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { SfxError } from "../errors.ts";
import { CODE_CHARS, CODE_GROUP } from "./defaults.ts";

/** Crockford's base32 alphabet: digits and letters without I, L, O, U. */
export const CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const DECODE = new Map<string, string>();
for (const c of CROCKFORD_ALPHABET) DECODE.set(c, c);
DECODE.set("O", "0");
DECODE.set("I", "1");
DECODE.set("L", "1");

/** A new random share code, grouped with hyphens. */
export function generateCode(): string {
  const bytes = new Uint8Array(CODE_CHARS);
  crypto.getRandomValues(bytes);
  // 256 is a multiple of 32, so `byte & 31` is uniform: exactly 5 random bits per character.
  let raw = "";
  for (const b of bytes) raw += CROCKFORD_ALPHABET[b & 31];
  return formatCode(raw);
}

/** Groups a canonical 20-character code with hyphens: `XXXX-XXXX-XXXX-XXXX-XXXX`. */
export function formatCode(canonical: string): string {
  const groups: string[] = [];
  for (let i = 0; i < canonical.length; i += CODE_GROUP) groups.push(canonical.slice(i, i + CODE_GROUP));
  return groups.join("-");
}

/**
 * The canonical form of a typed code (20 upper-case characters, no hyphens),
 * or `SFX_BAD_CODE` naming what is wrong.
 *
 * @example
 * ```ts
 * parseCode("7kq2-m9xd-4t1f-hb6r-w3np") === "7KQ2M9XD4T1FHB6RW3NP";
 * parseCode("7KQ2M9XD4T1FHB6RW3NO") === "7KQ2M9XD4T1FHB6RW3N0"; // O read as zero
 * ```
 */
export function parseCode(text: string): string {
  const example = "like 7KQ2-M9XD-4T1F-HB6R-W3NP";
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
  if (out.length !== CODE_CHARS) {
    throw new SfxError("SFX_BAD_CODE", `Invalid share code: it has ${out.length} code characters, not ${CODE_CHARS} (${example})`);
  }
  return out;
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

/**
 * The store's key for a code: hex SHA-256 of its canonical form. Shares are
 * stored and looked up under this key; the code itself is never written down.
 */
export function codeKey(code: string): string {
  return createHash("sha256").update("sfx-share-v1:").update(parseCode(code)).digest("hex");
}

/** A code shortened for messages and logs: the first group and an ellipsis. */
export function codeHint(code: string): string {
  return `${code.replace(/-/g, "").slice(0, CODE_GROUP).toUpperCase()}…`;
}
