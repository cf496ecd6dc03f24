/**
 * A share's manifest (`manifest.json` in its directory): the files with their
 * relative path, size and SHA-256, when the share was created and expires,
 * and its download count and limit. It never holds the code.
 *
 * Written atomically: to a temporary name, fsynced, renamed over the old
 * one, then the directory fsynced, so a crash leaves the old manifest or the
 * new one, never half of either.
 *
 * @module
 */
import { lstat, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { SfxError } from "../errors.ts";
import { MAX_CONTROL_BYTES } from "../protocol/defaults.ts";
import { checkSharePaths } from "./share_path.ts";

/** The manifest's file name inside a share directory. */
export const MANIFEST_NAME = "manifest.json";

/** The longest sealed list a manifest holds: one that fits a control message. */
export const MAX_SEALED_CHARS = MAX_CONTROL_BYTES;

/** Version of the manifest format. */
export const MANIFEST_VERSION = 1;

/** One file of a share. */
export interface ShareFile {
  /** Relative `/`-separated path, already checked by {@link checkSharePaths}. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the whole file. */
  sha256: string;
  /** Name of the data file inside the share's `files/` directory (never the user's name). */
  blob: string;
}

/** A share's manifest. */
export interface Manifest {
  version: number;
  files: ShareFile[];
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Expiry time, ms since the epoch: the share is refused from this instant. */
  expiresAt: number;
  /** Completed downloads after which the share is deleted, or null for no limit. */
  maxDownloads: number | null;
  /** Completed downloads so far. */
  downloads: number;
  /**
   * An enciphered share's list of files (names, sizes, SHA-256s), as its client sealed it (base64 of
   * AES-256-GCM): the server holds it for the share's clients and cannot read it. Its `files` are
   * then named `0`, `1`, … in the list's order, and their SHA-256s are of the enciphered bytes.
   */
  sealed?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A sealed list: base64, at most the largest control message. */
const SEALED = /^[A-Za-z0-9+/]*={0,2}$/;

function bad(why: string): never {
  throw new SfxError("SFX_IO", `Corrupt share manifest: ${why}`);
}

/** Checks a parsed manifest; throws `SFX_IO` on anything unexpected. */
export function validateManifest(value: unknown): Manifest {
  if (typeof value !== "object" || value === null) bad("not an object");
  const m = value as Record<string, unknown>;
  if (m.version !== MANIFEST_VERSION) bad(`version ${String(m.version)}`);
  if (!Array.isArray(m.files) || m.files.length === 0) bad("no files");
  const files: ShareFile[] = [];
  for (const f of m.files as unknown[]) {
    const r = f as Record<string, unknown>;
    if (typeof r !== "object" || r === null || typeof r.path !== "string") bad("file without a path");
    if (!Number.isSafeInteger(r.size) || (r.size as number) < 0) bad("bad file size");
    if (typeof r.sha256 !== "string" || !HEX64.test(r.sha256)) bad("bad file hash");
    if (typeof r.blob !== "string" || !/^[0-9]{1,6}$/.test(r.blob)) bad("bad blob name");
    files.push({ path: r.path, size: r.size as number, sha256: r.sha256, blob: r.blob });
  }
  try {
    checkSharePaths(files.map((f) => f.path));
  } catch (err) {
    bad((err as Error).message);
  }
  for (const k of ["createdAt", "expiresAt", "downloads"] as const) {
    if (!Number.isSafeInteger(m[k]) || (m[k] as number) < 0) bad(`bad ${k}`);
  }
  if (m.maxDownloads !== null && (!Number.isSafeInteger(m.maxDownloads) || (m.maxDownloads as number) < 1)) {
    bad("bad maxDownloads");
  }
  if (m.sealed !== undefined && (typeof m.sealed !== "string" || m.sealed.length > MAX_SEALED_CHARS || !SEALED.test(m.sealed))) bad("bad sealed list");
  return {
    version: MANIFEST_VERSION,
    files,
    createdAt: m.createdAt as number,
    expiresAt: m.expiresAt as number,
    maxDownloads: m.maxDownloads as number | null,
    downloads: m.downloads as number,
    ...(m.sealed === undefined ? {} : { sealed: m.sealed as string }),
  };
}

/** The largest manifest read: a share's most files (10,000) with the longest paths (4 KiB) and their fields. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** Reads and checks `dir/manifest.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_NAME);
  // What is not a regular file is no manifest (and a FIFO would hold the server's start for ever).
  const st = await lstat(path);
  if (!st.isFile()) bad(st.isDirectory() ? "a directory" : st.isSymbolicLink() ? "a symbolic link" : "not a regular file");
  // Read whole at start: one far larger than any share's could make (10,000 files of 4 KiB paths: ~45 MB) is no manifest.
  if (st.size > MAX_MANIFEST_BYTES) bad(`${st.size} bytes, more than any manifest's ${MAX_MANIFEST_BYTES}`);
  const text = await readFile(path, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    bad("not JSON");
  }
  return validateManifest(parsed);
}

/** fsyncs a directory, so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `dir/manifest.json` atomically: temporary file, fsync, rename, fsync of `dir`. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const final = join(dir, MANIFEST_NAME);
  const temp = `${final}.tmp`;
  const fh = await open(temp, "w", 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(manifest, null, 1)}\n`);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(temp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(temp, final);
  await fsyncDir(dir);
}
