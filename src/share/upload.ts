/**
 * One upload in progress: its files are written under the store's
 * `uploads/<id>/` directory, hashed as they arrive, checked against the size
 * announced and the SHA-256 the client sends at the end of each file, and
 * fsynced. Nothing under `uploads/` is ever visible as a share; the store
 * publishes an upload by renaming its directory into `shares/` only once
 * every file is complete and verified ({@link ShareStore.commit}).
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { SfxError } from "../errors.ts";

/** A file as a client announces it before uploading. */
export interface UploadFileSpec {
  /** Relative `/`-separated path inside the share. */
  path: string;
  /** Exact size in bytes. */
  size: number;
}

/**
 * Receives one file's bytes. `write()` resolves when the chunk is on disk:
 * await it before taking more from the network, and the sender slows down.
 */
export class FileSink {
  /** Index of the file in the upload's list. */
  readonly index: number;
  /** The size announced. */
  readonly size: number;
  readonly #fh: FileHandle;
  readonly #hash: Hash = createHash("sha256");
  #received = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #state: "open" | "verified" | "failed" = "open";
  #sha256 = "";

  constructor(index: number, size: number, fh: FileHandle) {
    this.index = index;
    this.size = size;
    this.#fh = fh;
  }

  /** Bytes accepted so far. */
  get received(): number {
    return this.#received;
  }

  /** True once {@link end} has verified the file. */
  get verified(): boolean {
    return this.#state === "verified";
  }

  /** The verified hash (after {@link end}). */
  get sha256(): string {
    return this.#sha256;
  }

  /** Appends a chunk; `SFX_PROTOCOL` if it would exceed the announced size. */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== "open") return Promise.reject(new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is already ${this.#state}`));
    if (this.#received + chunk.byteLength > this.size) {
      this.#state = "failed";
      return Promise.reject(new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is longer than the ${this.size} bytes announced`));
    }
    this.#received += chunk.byteLength;
    this.#hash.update(chunk);
    const p = this.#tail.then(async () => {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await this.#fh.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    });
    this.#tail = p.catch(() => {});
    return p.catch((err) => {
      this.#state = "failed";
      throw new SfxError("SFX_IO", `Cannot store an uploaded file: ${(err as Error).message}`, { cause: err });
    });
  }

  /**
   * Ends the file: checks the byte count and the client's SHA-256 against the
   * one computed while receiving, and fsyncs. `SFX_TRANSFER_FAILED` when bytes
   * are missing, `SFX_INTEGRITY` when the hashes differ.
   */
  async end(sha256: string): Promise<void> {
    if (this.#state !== "open") throw new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is already ${this.#state}`);
    await this.#tail;
    if (this.#received !== this.size) {
      this.#state = "failed";
      throw new SfxError("SFX_TRANSFER_FAILED", `File ${this.index} of the upload ended after ${this.#received} of ${this.size} bytes`);
    }
    const actual = this.#hash.digest("hex");
    if (actual !== sha256.toLowerCase()) {
      this.#state = "failed";
      throw new SfxError("SFX_INTEGRITY", `File ${this.index} of the upload does not match its SHA-256: nothing was kept`);
    }
    await this.#fh.sync();
    await this.#fh.close();
    this.#sha256 = actual;
    this.#state = "verified";
  }

  /** Closes the file without verifying it (abort). */
  async discard(): Promise<void> {
    if (this.#state === "verified") return;
    this.#state = "failed";
    await this.#tail;
    await this.#fh.close().catch(() => {});
  }
}

/** Opens the data file of upload file `index` under `dir/files/`. */
export async function openSink(dir: string, index: number, size: number): Promise<FileSink> {
  const fh = await open(join(dir, "files", String(index)), "wx", 0o600);
  return new FileSink(index, size, fh);
}
