/**
 * The rule for relative paths in the protocol (offers, shares): what a
 * receiver refuses to write, so a server can refuse the same names up front.
 * `src/client/safe_write.ts` applies it before writing anything.
 *
 * @module
 */
import { SfxError } from "../errors.ts";
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from "./defaults.ts";
import { CONTROL_CHARS, printable } from "./schema.ts";

/** Suffix of temporary files: `.<name>.sfx-part` next to the final `<name>`. */
export const PART_SUFFIX = ".sfx-part";
/** Suffix of the lock that says which process writes a temporary file: `.<name>.sfx-lock`. */
export const LOCK_SUFFIX = ".sfx-lock";
/** Suffix of the note beside a resumable temporary file saying what it is becoming (a share get's file hash): `.<name>.sfx-resume`. */
export const RESUME_SUFFIX = ".sfx-resume";
/** Prefix of the short-lived files that taking over a stale lock makes beside it (src/file_lock.ts); a crash may leave one. */
export const STALE_LOCK_PREFIX = ".sfx-stale-";

/**
 * Whether `name` is one of those files as src/file_lock.ts names them: the prefix, then 16 hex
 * digits (a hash of the lock's name, or this process's nonce and a counter). Another name with the
 * prefix is a user's file.
 */
export function isStaleLockName(name: string): boolean {
  return name.startsWith(STALE_LOCK_PREFIX) && /^[0-9a-f]{16}(-\d+)?$/.test(name.slice(STALE_LOCK_PREFIX.length));
}

const encoder = new TextEncoder();
// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides
// (which make a name display as something else).
const FORBIDDEN_CHARS = CONTROL_CHARS;

/**
 * Checks a relative path from the network (`/` separators) and returns it
 * normalised, or throws `SFX_PROTOCOL` naming what is wrong: absolute paths,
 * `.` or `..` segments, empty segments, control characters, backslashes (a
 * separator on Windows), over-long names, and the names sfx uses for its own
 * temporary files. Nothing is "fixed up" silently: a sender that needs this
 * is misbehaving.
 *
 * Names that are ordinary on Linux and macOS but not on Windows (`aux.c`,
 * `12:30.log`, `what?.txt`, `trailing.`) pass: a receiver on Windows stores
 * them under a name Windows accepts ({@link localRelativePath}).
 */
export function sanitizeRelativePath(path: string): string {
  const refuse = (why: string): never => {
    // Control characters escaped (bell\u0007.txt), as left-out names are shown; what JSON leaves (C1, bidi) made printable.
    throw new SfxError("SFX_PROTOCOL", `Refusing file name ${printable(JSON.stringify(String(path).slice(0, 200)))}: ${why}`);
  };
  if (typeof path !== "string" || path.length === 0) refuse("it is empty");
  if (encoder.encode(path).length > MAX_PATH_BYTES) refuse(`longer than ${MAX_PATH_BYTES} bytes`);
  if (FORBIDDEN_CHARS.test(path)) refuse("it contains control characters");
  // A lone surrogate is written to disk as U+FFFD, so two different names would be one file.
  if (!path.isWellFormed()) refuse("it is not valid Unicode (a lone surrogate)");
  if (path.startsWith("/")) refuse("it is an absolute path");
  if (path.includes("\\")) refuse("it contains a backslash (a path separator on Windows)");
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "") refuse("it has an empty path segment");
    if (segment === "." || segment === "..") refuse("it leaves the target directory");
    if (encoder.encode(segment).length > MAX_SEGMENT_BYTES) refuse(`a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
    // Any case: on a case-insensitive file system `.x.SFX-PART` is x's temporary file.
    const lower = segment.toLowerCase();
    if (lower.endsWith(PART_SUFFIX) || lower.endsWith(LOCK_SUFFIX) || lower.endsWith(RESUME_SUFFIX) || lower.startsWith(STALE_LOCK_PREFIX)) {
      refuse(`names ending in ${PART_SUFFIX}, ${LOCK_SUFFIX} or ${RESUME_SUFFIX}, or starting with ${STALE_LOCK_PREFIX}, are reserved for partial files`);
    }
  }
  return segments.join("/");
}

/** Characters Windows refuses in names. */
const WINDOWS_RESERVED_CHARS = /[<>:"|?*]/g;
/** Device names Windows reserves, with any extension. */
const WINDOWS_RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$/i;

/**
 * The name a checked path ({@link sanitizeRelativePath}) gets on this
 * machine's file system. On Windows, each character Windows refuses becomes
 * `_`, a trailing dot or space becomes `_`, and a device name (`aux.c`) gets a
 * leading `_`; elsewhere the path is used as it is.
 */
export function localRelativePath(path: string, platform: string = process.platform): string {
  if (platform !== "win32") return path;
  return path.split("/").map((segment) => {
    let s = segment.replace(WINDOWS_RESERVED_CHARS, "_").replace(/[. ]$/, "_");
    if (WINDOWS_RESERVED_NAMES.test(s)) s = `_${s}`;
    return s;
  }).join("/");
}
