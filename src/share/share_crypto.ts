/**
 * End-to-end encryption of shares: the server stores bytes and a list it
 * cannot read, and finds a share by a lookup that tells it nothing of the
 * keys.
 *
 * - **Code.** The uploading client makes the code (24 Crockford base32
 *   characters: 115 random bits and a check). HKDF-SHA-256 over it gives the lookup the
 *   server is told, the files' key and the list's key ({@link shareSecrets}).
 *   The code itself never leaves the client, nor does either key.
 * - **Files.** AES-256-CTR under the files' key, file `i`'s byte `o` with the
 *   counter block `i` ‖ `o / 16` ({@link KeyStream}): a download resumed at
 *   any byte continues the key stream, and nothing is added, so the
 *   server's sizes and quota are the files' own. The server keeps them as
 *   `0`, `1`, … and checks the SHA-256 of what it was sent, as before.
 * - **List.** The names, sizes and SHA-256s (of the bytes before
 *   enciphering) are compressed and sealed with AES-256-GCM under the list's
 *   key; the server keeps the sealed list and hands it back with every
 *   listing. A downloader opens it, fetches `0`, `1`, … as the list says,
 *   deciphers, and keeps a file only if its SHA-256 is the list's. A list
 *   changed on the server does not open; bytes changed there do not hash
 *   to the list's SHA-256.
 *
 * What the server still sees: how many files, their sizes, when and from
 * where a share is uploaded, listed and downloaded.
 *
 * @example
 * ```ts
 * const up = ShareCipher.generate();          // the uploader: a new code
 * up.code;                                    // "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", shown to the user
 * const sealed = up.seal([{ path: "a.txt", size: 5, sha256: "…" }]);
 * const down = ShareCipher.of(up.code);       // whoever has the code
 * down.lookup === up.lookup;                  // what both send the server
 * down.open(sealed);                          // [{ path: "a.txt", size: 5, sha256: "…" }]
 * ```
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { SfxError } from "../errors.ts";
import { KeyStream } from "../protocol/exchange_crypto.ts";
import { formatCode, generateCode, parseCode, shareSecrets } from "./code.ts";

/** A file as the sealed list gives it: its real name, size and SHA-256 (hex, of its bytes before enciphering). */
export interface SealedFile {
  path: string;
  size: number;
  sha256: string;
}

/** Bound to every sealed list: a list of something else does not open as one. */
const LIST_AAD = Buffer.from("sfx share list v1");
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The most a sealed list may inflate to: 10,000 files with 1 KiB paths, with room to spare. */
const MAX_LIST_BYTES = 32 * 2 ** 20;
const HEX64 = /^[0-9a-f]{64}$/;

/** The name the server keeps file `index` of an enciphered share under. */
export function storedName(index: number): string {
  return String(index);
}

/** A share's keys, from its code: the lookup the server is sent, the files' key stream, and the list's seal. */
export class ShareCipher {
  /** The code, grouped with hyphens: what the user gives to whoever should download. */
  readonly code: string;
  /** What the server is sent instead of the code. */
  readonly lookup: string;
  readonly #stream: KeyStream;
  readonly #listKey: Buffer;

  private constructor(code: string) {
    const secrets = shareSecrets(code);
    this.code = formatCode(parseCode(code));
    this.lookup = secrets.lookup;
    this.#stream = new KeyStream(secrets.dataKey);
    this.#listKey = secrets.listKey;
  }

  /** A new share's: a fresh random code. */
  static generate(): ShareCipher {
    return new ShareCipher(generateCode());
  }

  /** The share of `code` (24 characters; `SFX_BAD_CODE` otherwise). */
  static of(code: string): ShareCipher {
    return new ShareCipher(code);
  }

  /** File `index`'s key stream from byte `offset` on: `apply` enciphers or deciphers each next piece, in place. */
  cipher(index: number, offset: number): { apply(data: Uint8Array): void } {
    return this.#stream.cipher(index, offset);
  }

  /** The list of files, compressed and sealed: base64 of IV ‖ AES-256-GCM ciphertext ‖ tag. */
  seal(files: readonly SealedFile[]): string {
    const plain = deflateRawSync(JSON.stringify({ v: 1, files: files.map((f) => [f.path, f.size, f.sha256]) }));
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv("aes-256-gcm", this.#listKey, iv).setAAD(LIST_AAD);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([iv, body, c.getAuthTag()]).toString("base64");
  }

  /**
   * The list a {@link seal} made with this code's key, or `SFX_PROTOCOL`: it
   * does not open (changed, or sealed under another code) or is not a list.
   * Names are not checked here: the caller checks them as any server's.
   */
  open(sealed: string): SealedFile[] {
    const bytes = Buffer.from(sealed, "base64");
    if (bytes.length < IV_BYTES + TAG_BYTES) throw notAList("it is too short");
    let plain: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", this.#listKey, bytes.subarray(0, IV_BYTES)).setAAD(LIST_AAD);
      d.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      plain = Buffer.concat([d.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), d.final()]);
    } catch {
      throw new SfxError("SFX_PROTOCOL", "The share's list of files does not open with this code's key: the server changed it, or holds another share under this code's lookup");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(inflateRawSync(plain, { maxOutputLength: MAX_LIST_BYTES }).toString("utf8"));
    } catch (err) {
      throw notAList((err as Error).message);
    }
    const list = (parsed as { v?: unknown; files?: unknown })?.files;
    if ((parsed as { v?: unknown })?.v !== 1 || !Array.isArray(list) || list.length === 0) throw notAList("no files in it");
    return list.map((entry: unknown) => {
      const [path, size, sha256] = Array.isArray(entry) ? entry : [];
      if (typeof path !== "string" || !Number.isSafeInteger(size) || size < 0 || typeof sha256 !== "string" || !HEX64.test(sha256)) {
        throw notAList("an entry is malformed");
      }
      return { path, size, sha256 };
    });
  }
}

function notAList(why: string): SfxError {
  // Sealed under this code's key, so made by a client that had the code: not the server's doing.
  return new SfxError("SFX_PROTOCOL", `The share's list of files opens but is not one sfx made (${why})`);
}
