/**
 * End-to-end encryption of an exchange's files: the server relays bytes it
 * cannot read, and a server that puts itself between the two ends (giving
 * each a key of its own) is found out by a verification code the two users
 * can compare.
 *
 * - **Keys.** Each side makes a fresh X25519 key pair for the exchange. The
 *   sender's offer carries only a commitment to its public key (its
 *   SHA-256); the receiver's accept carries its public key; then the sender
 *   reveals its own (`key`), which the receiver checks against the
 *   commitment. The server, which relays all three, must so choose the key
 *   it would give the receiver before it sees the receiver's, and the key it
 *   would give the sender before it sees the sender's: it cannot search for
 *   keys that make the two codes agree, and passes unnoticed one time in a
 *   million (the code's six digits), if the users compare.
 * - **Derived.** HKDF-SHA-256 over the X25519 secret, salted with both
 *   public keys, with the offer's list of files (names, sizes, times, in
 *   order) in its info, gives a data key, a MAC key and the verification
 *   code. A list changed on the way (a name swapped, a file dropped) gives
 *   the two ends different keys: every file then fails its check, and the
 *   codes differ.
 * - **Data.** AES-256-CTR: file `i`'s byte `o` is enciphered with the
 *   counter block `i` (64 bits) ‖ `o / 16` (64 bits), so a file resumed from
 *   any byte continues its own key stream, and no two bytes of one exchange
 *   share a counter. No length is added: the server's byte counts are the
 *   files' sizes.
 * - **Integrity.** A file's `end` carries, instead of its SHA-256, an
 *   HMAC-SHA-256 of its index, size and SHA-256 under the MAC key: the
 *   receiver hashes what it deciphered, and keeps the file only if the tag
 *   matches. Bytes changed on the way (by anyone without the key) change
 *   the hash, and the tag cannot be made to follow.
 * - **Done.** The receiver's `done` carries an HMAC over the ends it
 *   checked: the sender says "the receiver verified every file" only when
 *   it matches the ends it sent.
 *
 * What the server still sees: the names, sizes and times of the files
 * offered, who sends to whom, and how much moves.
 *
 * @example
 * ```ts
 * const sender = ExchangeKeyPair.generate(), receiver = ExchangeKeyPair.generate();
 * const offer = { commit: sender.commitment };              // sender → receiver
 * const files = [{ path: "report.pdf", size: 5 }];
 * const s = sender.agree(receiver.publicKey, "sender", { files });      // on the accept
 * const r = receiver.agree(sender.publicKey, "receiver", { files, commitment: offer.commit }); // on the sender's key
 * s.code === r.code; // "482-913", shown on both sides
 * const data = new TextEncoder().encode("hello");
 * s.cipher(0, 0).apply(data); r.cipher(0, 0).apply(data);  // enciphered, then back
 * ```
 *
 * @module
 */
import {
  type Cipheriv as Cipher,
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from "node:crypto";
import { SfxError } from "../errors.ts";

/** An X25519 public key's DER (SubjectPublicKeyInfo) prefix: the 32 raw bytes follow it. */
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");
const HEX_KEY = /^[0-9a-f]{64}$/;

/** A file as offered: what the keys are bound to. */
export interface OfferedFileKey {
  path: string;
  size: number | null;
  modified?: number;
}

/** The digest of an offer's list of files that both ends put into the keys: the same list, in the same order, gives the same digest. */
export function offerDigest(files: readonly OfferedFileKey[]): Buffer {
  const list = JSON.stringify(files.map((f) => [f.path, f.size, f.modified ?? null]));
  return createHash("sha256").update("sfx offer v1\0").update(list).digest();
}

/** The commitment the sender's offer carries: SHA-256 of its public key, under a label of its own. */
export function commitmentOf(publicKey: string): string {
  return createHash("sha256").update("sfx key commitment v1\0").update(Buffer.from(publicKey, "hex")).digest("hex");
}

/** One side's key pair for one exchange. */
export class ExchangeKeyPair {
  /** The public key, 32 bytes in hex. */
  readonly publicKey: string;
  readonly #private: KeyObject;

  private constructor(publicKey: string, privateKey: KeyObject) {
    this.publicKey = publicKey;
    this.#private = privateKey;
  }

  /** A fresh key pair (never reused: one per exchange). */
  static generate(): ExchangeKeyPair {
    const { publicKey, privateKey } = generateKeyPairSync("x25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(SPKI_X25519.length);
    return new ExchangeKeyPair(Buffer.from(raw).toString("hex"), privateKey);
  }

  /** What the sender's offer carries in place of its key. */
  get commitment(): string {
    return commitmentOf(this.publicKey);
  }

  /**
   * The exchange's keys, from the other side's public key and the list of
   * files offered (as the sender sent it, as the receiver got it). The
   * receiver gives the commitment the offer carried: a key that does not
   * match it is `SFX_PROTOCOL` (someone between the two changed it). A key
   * that is not one (malformed, or a point of small order, whose secret is
   * all zeros) is `SFX_PROTOCOL` too.
   */
  agree(peerKey: string, role: "sender" | "receiver", offered: { files: readonly OfferedFileKey[]; commitment?: string; isk?: Uint8Array }): ExchangeCipher {
    const commitment = offered.commitment;
    if (!HEX_KEY.test(peerKey)) throw new SfxError("SFX_PROTOCOL", "The other side's key is not an X25519 public key");
    if (role === "receiver" && (commitment === undefined || commitmentOf(peerKey) !== commitment)) {
      throw new SfxError("SFX_PROTOCOL", "The sender's key is not the one its offer committed to: someone between you changed it; nothing was received");
    }
    let secret: Buffer;
    try {
      const peer = createPublicKey({ key: Buffer.concat([SPKI_X25519, Buffer.from(peerKey, "hex")]), format: "der", type: "spki" });
      secret = diffieHellman({ privateKey: this.#private, publicKey: peer });
    } catch (err) {
      throw new SfxError("SFX_PROTOCOL", "The other side's key is not a usable X25519 public key", { cause: err });
    }
    if (secret.every((b) => b === 0)) throw new SfxError("SFX_PROTOCOL", "The other side's key is not a usable X25519 public key (a point of small order)");
    const [senderKey, receiverKey] = role === "sender" ? [this.publicKey, peerKey] : [peerKey, this.publicKey];
    const salt = createHash("sha256").update(Buffer.from(senderKey, "hex")).update(Buffer.from(receiverKey, "hex")).digest();
    const info = Buffer.concat([Buffer.from("sfx exchange v1\0"), offerDigest(offered.files)]);
    // Keyed with the receiver's code too: CPace's key joins the X25519 secret (see exchange_code.ts).
    const ikm = offered.isk === undefined ? secret : Buffer.concat([secret, offered.isk]);
    const okm = Buffer.from(hkdfSync("sha256", ikm, salt, info, 96));
    secret.fill(0);
    ikm.fill(0);
    return new ExchangeCipher(okm.subarray(0, 32), okm.subarray(32, 64), okm.readUInt32BE(64));
  }
}

/** An exchange's keys: the files' cipher, the tag of each file's end, and the code the users compare. */
export class ExchangeCipher {
  /** Six digits, `482-913`: the same on both sides unless someone between them holds keys of their own. */
  readonly code: string;
  readonly #stream: KeyStream;
  /** HMAC-SHA-256's inner and outer key blocks (RFC 2104), made once: node:crypto's createHmac prepares its key anew each time (about 35 µs, most of a small file's cost). */
  readonly #inner: Buffer;
  readonly #outer: Buffer;

  /** @internal Made by {@link ExchangeKeyPair.agree}. */
  constructor(dataKey: Buffer, macKey: Buffer, codeBits: number) {
    this.#stream = new KeyStream(dataKey);
    const block = Buffer.alloc(64);
    macKey.copy(block);
    this.#inner = Buffer.from(block.map((b) => b ^ 0x36));
    this.#outer = Buffer.from(block.map((b) => b ^ 0x5c));
    const digits = String(codeBits % 1_000_000).padStart(6, "0");
    this.code = `${digits.slice(0, 3)}-${digits.slice(3)}`;
  }

  /** File `file`'s key stream from byte `offset` on (see {@link KeyStream.cipher}). */
  cipher(file: number, offset: number): { apply(data: Uint8Array): void } {
    return this.#stream.cipher(file, offset);
  }

  /** What file `file`'s `end` carries in place of its SHA-256 (hex). */
  endTag(file: number, size: number, sha256: string): string {
    const head = Buffer.alloc(12);
    head.writeUInt32BE(file, 0);
    head.writeBigUInt64BE(BigInt(size), 4);
    return this.#hmac(["sfx end v1\0", head, Buffer.from(sha256, "hex")]);
  }

  /** Whether `tag` is file `file`'s end for these bytes (compared in constant time). */
  checkEnd(file: number, size: number, sha256: string, tag: string): boolean {
    return same(this.endTag(file, size, sha256), tag);
  }

  /** What the receiver's `done` carries: a tag over the ends (their tags, in file order) it checked. */
  doneTag(endTags: readonly string[]): string {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(endTags.length, 0);
    return this.#hmac(["sfx done v1\0", count, ...endTags.map((t) => Buffer.from(t, "hex"))]);
  }

  /** HMAC-SHA-256 (RFC 2104) of `parts` under the MAC key, in hex. */
  #hmac(parts: ReadonlyArray<string | Buffer>): string {
    const inner = createHash("sha256").update(this.#inner);
    for (const p of parts) inner.update(p);
    return createHash("sha256").update(this.#outer).update(inner.digest()).digest("hex");
  }

  /** Whether `tag` is the receiver's `done` for these ends (compared in constant time). */
  checkDone(endTags: readonly string[], tag: string | undefined): boolean {
    return tag !== undefined && same(this.doneTag(endTags), tag);
  }
}

/**
 * AES-256-CTR over numbered files: file `i`'s byte `o` is enciphered with
 * the counter block `i` (64 bits) ‖ `o / 16` (64 bits), so a file resumed
 * from any byte continues its own key stream, and no two bytes under one key
 * share a counter. Exchanges and enciphered shares use it.
 */
export class KeyStream {
  readonly #key: Buffer;
  /** AES-256 on single blocks, for the key stream of small pieces (see {@link cipher}). */
  readonly #blocks: Cipher;

  constructor(key: Buffer) {
    this.#key = key;
    this.#blocks = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  }

  /**
   * File `file`'s key stream from byte `offset` on: `apply` enciphers (or
   * deciphers: the same) each next piece of the file, in place, in order.
   * Pieces under {@link SMALL_PIECE} bytes, while the file has had no larger
   * one, take their key stream block by block from one AES context of the
   * key's (a tree of small files would otherwise set up an AES-CTR context
   * for each, about 17 µs and a native object to collect); larger ones a CTR
   * context of the file's own, set up at the first of them.
   */
  cipher(file: number, offset: number): { apply(data: Uint8Array): void } {
    let at = offset;
    let ctr: Cipher | undefined;
    return {
      apply: (data: Uint8Array) => {
        if (data.length === 0) return;
        if (ctr === undefined && data.length < SMALL_PIECE) {
          this.#xorStream(file, at, data);
        } else {
          ctr ??= this.#ctr(file, at);
          const out = ctr.update(data);
          data.set(out);
          // Freed now, not at the collector's next turn (a 64 KiB buffer per message otherwise piles
          // up, as received and sent messages would if the transport did not free them).
          if (out.byteLength === out.buffer.byteLength) (out.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer }).transfer?.(0);
        }
        at += data.length;
      },
    };
  }

  /** An AES-256-CTR context at file `file`'s byte `offset`: counter block `file` ‖ `offset / 16`, the rest of that block skipped. */
  #ctr(file: number, offset: number): Cipher {
    const c = createCipheriv("aes-256-ctr", this.#key, counterBlocks(file, Math.floor(offset / 16), 1));
    if (offset % 16 !== 0) c.update(Buffer.alloc(offset % 16));
    return c;
  }

  /** XORs file `file`'s key stream from byte `offset` into `data`: the same bytes as {@link #ctr}'s, from the blocks' AES. */
  #xorStream(file: number, offset: number, data: Uint8Array): void {
    const first = Math.floor(offset / 16);
    const count = Math.floor((offset + data.length - 1) / 16) - first + 1;
    const stream = this.#blocks.update(counterBlocks(file, first, count));
    const skip = offset % 16;
    for (let i = 0; i < data.length; i++) data[i] ^= stream[skip + i];
  }
}

/** Pieces smaller than this take their key stream from the exchange's AES context (see {@link KeyStream.cipher}). */
export const SMALL_PIECE = 4096;

/** `count` counter blocks from block `first` of file `file`: each `file` (64 bits) ‖ block number (64 bits), big-endian. */
function counterBlocks(file: number, first: number, count: number): Buffer {
  const out = Buffer.alloc(16 * count);
  for (let i = 0; i < count; i++) {
    const block = first + i;
    out.writeUInt32BE(Math.floor(file / 0x1_0000_0000), 16 * i);
    out.writeUInt32BE(file >>> 0, 16 * i + 4);
    out.writeUInt32BE(Math.floor(block / 0x1_0000_0000), 16 * i + 8);
    out.writeUInt32BE(block >>> 0, 16 * i + 12);
  }
  return out;
}

function same(wantHex: string, gotHex: string): boolean {
  const want = Buffer.from(wantHex, "hex");
  const got = Buffer.from(gotHex, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}
