/**
 * A hand-made sender for tests that speak the exchange protocol themselves
 * (hostile or odd senders): what they send goes through as a real sender's
 * would. Its offer commits to a key, `started()` reveals the key after the
 * start, each file's bytes are enciphered (from byte 0, in the order sent)
 * and each `end`'s hash is replaced by its tag (see
 * src/protocol/exchange_crypto.ts). The bytes and hashes a test gives are
 * the plain ones; a wrong hash stays wrong.
 */
import { type ExchangeCipher, ExchangeKeyPair } from "../src/protocol/exchange_crypto.ts";
import { decodeMessage, End, Key, Offer, parseDataPpid } from "../src/protocol/index.ts";

/** What of a connection a hand-made sender uses. */
export interface SenderLink {
  sendControl(bytes: Uint8Array): void;
  sendData(stream: number, data: Uint8Array, ppid: number): boolean | void;
  close(...args: never[]): Promise<void>;
}

export class HandSender implements SenderLink {
  readonly #conn: SenderLink;
  readonly #keys = ExchangeKeyPair.generate();
  #crypt: ExchangeCipher | undefined;
  readonly #ciphers = new Map<number, { apply(data: Uint8Array): void }>();
  #files: Array<{ path: string; size: number | null; modified?: number }> = [];

  constructor(conn: SenderLink) {
    this.#conn = conn;
  }

  /** What the offer carries: the commitment to this sender's key. */
  get commit(): string {
    return this.#keys.commitment;
  }

  /**
   * An offer of `files` to `to`, committing to the key; the keys are bound to `bindTo` (by default
   * the same list: another is what a server that rewrote the offer on the way would make of it).
   */
  offer(xid: number, to: string, files: Array<{ path: string; size: number | null; modified?: number }>, bindTo = files): void {
    this.#files = bindTo;
    this.#conn.sendControl(Offer.encode({ xid, to, files, commit: this.commit }));
  }

  /**
   * On the sender's `start`: derives the keys from the receiver's and sends this sender's, or
   * (`keyLater`) returns a function that sends it, for a key that comes after the first bytes.
   */
  started(xid: number, start: { key?: string }, opts: { keyLater?: boolean; key?: string } = {}): () => void {
    if (start.key === undefined) throw new Error("the start carries no key");
    this.#crypt = this.#keys.agree(start.key, "sender", { files: this.#files });
    const sendKey = () => this.#conn.sendControl(Key.encode({ xid, key: opts.key ?? this.#keys.publicKey }));
    if (!opts.keyLater) sendKey();
    return sendKey;
  }

  /** The verification code, once started. */
  get code(): string | undefined {
    return this.#crypt?.code;
  }

  sendControl(bytes: Uint8Array): void {
    const m = decodeMessage(bytes);
    if (End.is(m) && this.#crypt) {
      return this.#conn.sendControl(End.encode({ ...m, sha256: this.#crypt.endTag(m.file, m.size, m.sha256) }));
    }
    this.#conn.sendControl(bytes);
  }

  /** Sends `data`, the next bytes of its file, enciphered (then changed by `tamper`, if given, as someone on the way might). */
  sendData(stream: number, data: Uint8Array, ppid: number, tamper?: (enciphered: Uint8Array) => void): boolean | void {
    if (!this.#crypt) throw new Error("data before started()");
    const { fileIndex } = parseDataPpid(ppid);
    let cipher = this.#ciphers.get(fileIndex);
    if (cipher === undefined) this.#ciphers.set(fileIndex, cipher = this.#crypt.cipher(fileIndex, 0));
    const copy = new Uint8Array(data);
    cipher.apply(copy);
    tamper?.(copy);
    return this.#conn.sendData(stream, copy, ppid);
  }

  close(...args: never[]): Promise<void> {
    return this.#conn.close(...args);
  }
}
