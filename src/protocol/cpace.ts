/**
 * CPace (draft-irtf-cfrg-cpace, the CPACE-X25519-SHA512 suite): a
 * password-authenticated key exchange. Two parties who share a short
 * secret, here the six digits of a receiver's code, each send one message
 * and derive the same key (ISK) if and only if they used the same secret.
 * Someone between them (the server that relays the messages) learns nothing
 * it could test guesses against offline: each run lets it try one guess, by
 * taking part with the secret it guessed, and a wrong guess ends that run.
 *
 * The group is X25519's (RFC 7748); the secret becomes the generator through
 * Elligator 2 (RFC 9380 §6.7.1). X25519 itself is node:crypto's, so the only
 * arithmetic here is the map, done once per exchange with BigInt.
 *
 * @example
 * ```ts
 * const ctx = { ci: "482913", sid };                         // both sides know these
 * const a = Cpace.start("305117", ctx, "A's data");          // initiator: a.share goes to B
 * const b = Cpace.start("305117", ctx, "B's data");          // responder: b.share goes to A
 * const iskA = a.finish(b.share, "B's data", "initiator");
 * const iskB = b.finish(a.share, "A's data", "responder");   // equal to iskA
 * ```
 *
 * @module
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject, timingSafeEqual } from "node:crypto";
import { SfxError } from "../errors.ts";

/** Curve25519's field: GF(2^255 - 19). */
const P = 2n ** 255n - 19n;
/** Its Montgomery coefficient A (RFC 7748 §4.1). */
const A = 486662n;
/** Elligator 2's non-square Z for this field (RFC 9380 §6.7.1). */
const Z = 2n;
const DSI = Buffer.from("CPace255");
/** SHA-512's input block: the generator string's zero padding fills its first block (draft §6.1). */
const HASH_BLOCK = 128;
/** DER prefixes of X25519 keys: the 32 raw bytes follow. */
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Byte strings with their LEB128 length in front, concatenated (the draft's `lv_cat`). */
export function lvCat(...parts: Uint8Array[]): Buffer {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    const len: number[] = [];
    let n = part.length;
    do {
      len.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    out.push(Uint8Array.from(len), part);
  }
  return Buffer.concat(out);
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = ((base % P) + P) % P;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

const mod = (x: bigint) => ((x % P) + P) % P;

/** A / 2 in the field (2⁻¹ is 2^(P−2), Fermat). */
const HALF_A = mod(A * modPow(2n, P - 2n));

/** Elligator 2 onto Curve25519 (RFC 9380 §6.7.1): a field element to the u-coordinate of a point on the curve (not its twist). */
export function elligator2(r: bigint): bigint {
  const v = mod(-A * modPow(1n + Z * r * r, P - 2n));
  const gv = mod(v * v * v + A * v * v + v);
  // Euler's criterion: 1 when g(v) is a square (v is on the curve), P − 1 when not, 0 for 0.
  const legendre = modPow(gv, (P - 1n) / 2n);
  const epsilon = legendre === P - 1n ? -1n : legendre;
  return mod(epsilon * v - (1n - epsilon) * HALF_A);
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function encodeU(u: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** What both sides must agree on besides the secret: a channel identifier and a session id (draft §3.1). */
export interface CpaceContext {
  ci: Uint8Array | string;
  sid: Uint8Array;
}

const bytes = (s: Uint8Array | string) => (typeof s === "string" ? Buffer.from(s) : s);

/** The generator for this secret and context (the draft's `calculate_generator`): 32 bytes, a u-coordinate. */
export function cpaceGenerator(secret: Uint8Array | string, ctx: CpaceContext): Buffer {
  const prs = bytes(secret);
  const prsLen = lvCat(prs).length - prs.length;
  const zpad = Math.max(0, HASH_BLOCK - 1 - (prsLen + prs.length) - (1 + DSI.length));
  const genString = lvCat(DSI, prs, new Uint8Array(zpad), bytes(ctx.ci), ctx.sid);
  const hash = createHash("sha512").update(genString).digest().subarray(0, 32);
  hash[31] &= 0x7f; // decodeUCoordinate (RFC 7748 §5): 255 bits
  return encodeU(elligator2(littleEndian(hash)));
}

/** X25519(scalar, u), or `SFX_PROTOCOL` when the result is the neutral element (u of low order; draft §6.2 `scalar_mult_vfy`). */
function scalarMult(scalar: KeyObject, u: Uint8Array): Buffer {
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey: scalar, publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, u]), format: "der", type: "spki" }) });
  } catch (err) {
    // OpenSSL refuses an all-zero result itself.
    throw new SfxError("SFX_PROTOCOL", "The other side's share of the code exchange is a point of small order", { cause: err });
  }
  if (out.every((b) => b === 0)) throw new SfxError("SFX_PROTOCOL", "The other side's share of the code exchange is a point of small order");
  return out;
}

/** One side of one CPace run: made with the secret, finished with the other side's message. */
export class Cpace {
  /** This side's message, Ya or Yb: 32 bytes. */
  readonly share: Buffer;
  readonly #scalar: KeyObject;
  readonly #sid: Uint8Array;
  readonly #ad: Uint8Array;

  private constructor(share: Buffer, scalar: KeyObject, sid: Uint8Array, ad: Uint8Array) {
    this.share = share;
    this.#scalar = scalar;
    this.#sid = sid;
    this.#ad = ad;
  }

  /** A run with a fresh scalar (never reused); `ad` is this side's associated data, sent in the clear beside the share. */
  static start(secret: Uint8Array | string, ctx: CpaceContext, ad: Uint8Array | string = ""): Cpace {
    return Cpace.withScalar(generateKeyPairSync("x25519").privateKey, secret, ctx, ad);
  }

  /** @internal A run with a given scalar (32 bytes, little-endian): the draft's test vectors. */
  static withScalar(scalar: KeyObject | Uint8Array, secret: Uint8Array | string, ctx: CpaceContext, ad: Uint8Array | string = ""): Cpace {
    const key = scalar instanceof Uint8Array ? createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: "der", type: "pkcs8" }) : scalar;
    const g = cpaceGenerator(secret, ctx);
    return new Cpace(scalarMult(key, g), key, ctx.sid, bytes(ad));
  }

  /**
   * The intermediate session key, 64 bytes, from the other side's share and
   * associated data (draft §6.2, initiator-responder transcript). Equal on
   * both sides exactly when they used the same secret, context and messages.
   */
  finish(peerShare: Uint8Array, peerAd: Uint8Array | string, role: "initiator" | "responder"): CpaceKeys {
    if (peerShare.length !== 32) throw new SfxError("SFX_PROTOCOL", "The other side's share of the code exchange is not 32 bytes");
    // This side's own share sent back (a reflection): with equal associated data, its own tag would
    // then check as the other side's, from someone who knows nothing of the secret.
    if (timingSafeEqual(Buffer.from(peerShare), this.share)) throw new SfxError("SFX_PROTOCOL", "The other side's share of the code exchange is this side's own, sent back");
    const k = scalarMult(this.#scalar, peerShare);
    const mine = lvCat(this.share, this.#ad), theirs = lvCat(peerShare, bytes(peerAd));
    const transcript = role === "initiator" ? Buffer.concat([mine, theirs]) : Buffer.concat([theirs, mine]);
    const isk = createHash("sha512").update(lvCat(Buffer.concat([DSI, Buffer.from("_ISK")]), this.#sid, k)).update(transcript).digest();
    k.fill(0);
    return new CpaceKeys(isk, this.#sid, mine, theirs);
  }
}

/** A finished run's key, and the tags by which each side shows it holds it (draft §9.4, explicit key confirmation). */
export class CpaceKeys {
  /** ISK: 64 bytes. Not for use as it is: derive keys from it. */
  readonly isk: Buffer;
  readonly #macKey: Buffer;
  readonly #mine: Buffer;
  readonly #theirs: Buffer;

  /** @internal Made by {@link Cpace.finish}. */
  constructor(isk: Buffer, sid: Uint8Array, mine: Buffer, theirs: Buffer) {
    this.isk = isk;
    this.#macKey = createHash("sha512").update("CPaceMac").update(sid).update(isk).digest();
    this.#mine = mine;
    this.#theirs = theirs;
  }

  /** This side's tag: HMAC-SHA-256 over the message it sent, 32 bytes in hex. */
  get tag(): string {
    return createHmac("sha256", this.#macKey).update(this.#mine).digest("hex");
  }

  /** Whether `tag` is the other side's: it then used the same secret (compared in constant time). */
  checkTag(tag: string | undefined): boolean {
    const want = createHmac("sha256", this.#macKey).update(this.#theirs).digest();
    const got = Buffer.from(tag ?? "", "hex");
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
