/**
 * The rule for relative paths in the protocol (offers, shares): what a
 * receiver refuses to write, so a server can refuse the same names up front.
 * `src/client/safe_write.ts` applies it before writing anything.
 *
 * @module
 */
import { SfxError } from "../errors.ts";
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from "./defaults.ts";

/** Suffix of temporary files: `.<name>.sfx-part` next to the final `<name>`. */
export const PART_SUFFIX = ".sfx-part";

const encoder = new TextEncoder();
// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides
// (which make a name display as something else).
// deno-lint-ignore no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** Characters Windows refuses in names; refused everywhere, so a name received here can be sent on anywhere. */
const WINDOWS_RESERVED_CHARS = /[<>:"\\|?*]/;
const WINDOWS_RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Checks a relative path from the network (`/` separators) and returns it
 * normalised, or throws `SFX_PROTOCOL` naming what is wrong: absolute paths,
 * `.` or `..` segments, empty segments, control characters, characters or
 * names Windows reserves, names ending in a dot or space, over-long names.
 * Nothing is "fixed up" silently: a sender that needs this is misbehaving.
 */
export function sanitizeRelativePath(path: string): string {
  const refuse = (why: string): never => {
    throw new SfxError("SFX_PROTOCOL", `Refusing file name ${JSON.stringify(path.slice(0, 200))}: ${why}`);
  };
  if (typeof path !== "string" || path.length === 0) refuse("it is empty");
  if (encoder.encode(path).length > MAX_PATH_BYTES) refuse(`longer than ${MAX_PATH_BYTES} bytes`);
  if (FORBIDDEN_CHARS.test(path)) refuse("it contains control characters");
  if (path.startsWith("/")) refuse("it is an absolute path");
  if (/^[a-zA-Z]:/.test(path)) refuse("it starts with a drive letter");
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "") refuse("it has an empty path segment");
    if (segment === "." || segment === "..") refuse("it leaves the target directory");
    if (WINDOWS_RESERVED_CHARS.test(segment)) refuse("it contains a reserved character (< > : \" \\ | ? *)");
    if (WINDOWS_RESERVED_NAMES.test(segment)) refuse("it is a reserved device name");
    if (/[. ]$/.test(segment)) refuse("a name ends with a dot or a space");
    if (encoder.encode(segment).length > MAX_SEGMENT_BYTES) refuse(`a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
    if (segment.endsWith(PART_SUFFIX)) refuse(`names ending in ${PART_SUFFIX} are reserved for partial files`);
  }
  return segments.join("/");
}

