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
import { WRITE_BATCH_BYTES, WRITE_BATCH_CHUNKS } from "./defaults.ts";
import { releaseReceived } from "../protocol/release.ts";

/** A file as a client announces it before uploading. */
export interface UploadFileSpec {
  /** Relative `/`-separated path inside the share. */
  path: string;
  /** Exact size in bytes. */
  size: number;
}

interface QueuedWrite {
  chunk: Uint8Array;
  release: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Options of {@link FileSink.write}. */
export interface SinkWriteOptions {
  /**
   * The sink owns `chunk` from now on: once it is on disk, its memory is
   * freed at once ({@link releaseReceived}) rather than at the next garbage
   * collection. For received messages nothing else reads again.
   */
  release?: boolean;
}

/**
 * Receives one file's bytes. `write()` resolves when the chunk is on disk:
 * await it before taking more from the network, and the sender slows down.
 * Chunks that arrive while a write is in progress are written together by
 * the next one (one `writev`, up to {@link WRITE_BATCH_BYTES}), so a fast
 * uploader costs one system call per batch rather than per message.
 */
export class FileSink {
  /** Index of the file in the upload's list. */
  readonly index: number;
  /** The size announced. */
  readonly size: number;
  readonly #fh: FileHandle;
  readonly #hash: Hash = createHash("sha256");
  #received = 0;
  #queue: QueuedWrite[] = [];
  #writing: Promise<void> | null = null;
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
  write(chunk: Uint8Array, options: SinkWriteOptions = {}): Promise<void> {
    if (this.#state !== "open") return Promise.reject(new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is already ${this.#state}`));
    if (this.#received + chunk.byteLength > this.size) {
      this.#state = "failed";
      return Promise.reject(new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is longer than the ${this.size} bytes announced`));
    }
    this.#received += chunk.byteLength;
    this.#hash.update(chunk);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ chunk, release: options.release === true, resolve, reject });
      this.#writing ??= this.#writeQueued();
    });
  }

  /** Writes the queue in batches until it is empty; settles each chunk's promise. */
  async #writeQueued(): Promise<void> {
    while (this.#queue.length > 0) {
      if (this.#state === "failed") {
        // Discarded (or overrun) meanwhile: the file is going away, write no more of it.
        const failure = new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload was abandoned`);
        for (const w of this.#queue.splice(0)) w.reject(failure);
        break;
      }
      let n = 0;
      let bytes = 0;
      while (n < this.#queue.length && n < WRITE_BATCH_CHUNKS && (n === 0 || bytes + this.#queue[n].chunk.byteLength <= WRITE_BATCH_BYTES)) {
        bytes += this.#queue[n++].chunk.byteLength;
      }
      const batch = this.#queue.splice(0, n);
      try {
        await writeAll(this.#fh, batch.map((w) => w.chunk));
      } catch (err) {
        this.#state = "failed";
        const failure = storeFailure("Cannot store an uploaded file", err);
        for (const w of [...batch, ...this.#queue.splice(0)]) w.reject(failure);
        break;
      }
      for (const w of batch) {
        if (w.release) releaseReceived(w.chunk);
        w.resolve();
      }
    }
    this.#writing = null;
  }

  /** Resolves once every chunk accepted so far is written (or failed). */
  #settled(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  /**
   * Ends the file: checks the byte count and the client's SHA-256 against the
   * one computed while receiving, and fsyncs. `SFX_TRANSFER_FAILED` when bytes
   * are missing, `SFX_INTEGRITY` when the hashes differ.
   */
  async end(sha256: string): Promise<void> {
    if (this.#state !== "open") throw new SfxError("SFX_PROTOCOL", `File ${this.index} of the upload is already ${this.#state}`);
    await this.#settled();
    if (this.#state !== "open") throw new SfxError("SFX_IO", `File ${this.index} of the upload could not be stored`);
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
    await this.#settled();
    await this.#fh.close().catch(() => {});
  }
}

/** Writes every byte of `chunks` in order at the file position, looping on short writes. */
async function writeAll(fh: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    let { bytesWritten } = rest.length === 1 ? await fh.write(rest[0], 0, rest[0].byteLength) : await fh.writev(rest);
    if (bytesWritten === 0 && rest.some((c) => c.byteLength > 0)) throw new Error("the file system accepted no bytes");
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i].byteLength) bytesWritten -= rest[i++].byteLength;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten);
  }
}

/** Opens the data file of upload file `index` under `dir/files/`. */
export async function openSink(dir: string, index: number, size: number): Promise<FileSink> {
  try {
    return new FileSink(index, size, await open(join(dir, "files", String(index)), "wx", 0o600));
  } catch (err) {
    throw storeFailure("Cannot store an uploaded file", err);
  }
}

/**
 * The uploader's error when the store cannot write: a full disk is the
 * server's, which the words say, and a limit of the server's (`SFX_LIMIT`,
 * exit 6, as its quota is), not the uploader's own I/O error (exit 8).
 */
export function storeFailure(what: string, err: unknown): SfxError {
  if (err instanceof SfxError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    const why = code === "ENOSPC" ? "the server's disk is full (ENOSPC)" : "the server's disk quota is exceeded (EDQUOT)";
    return new SfxError("SFX_LIMIT", `${what}: ${why}`, { cause: err });
  }
  // The uploader hears the error's kind, not the server's paths; the server's log has the whole error (the cause).
  return new SfxError("SFX_IO", `${what}: the server's store could not be written (${code ?? (err as Error)?.message ?? String(err)})`, { cause: err });
}
