/**
 * The relative paths files have inside a share. The store refuses, rather
 * than silently rewrites, any path that could escape a download directory or
 * confuse a terminal: absolute paths, `.` and `..` components, empty
 * components, backslashes, control characters, over-long names, duplicates,
 * and a file that is also another file's directory. Names that are only
 * unusual on Windows (`aux.c`, `12:30.log`) are kept: a Windows downloader
 * renames them as it writes.
 *
 * On top of its own checks it applies the protocol's rule for received
 * names (`src/protocol/paths.ts`, which `sfx share get` enforces before
 * writing), so a share never holds a name its downloaders would refuse.
 *
 * @module
 */
import { SfxError } from "../errors.ts";
import { sanitizeRelativePath } from "../protocol/paths.ts";
import { CONTROL_CHARS } from "../protocol/schema.ts";
import { MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_PATH_DEPTH } from "./defaults.ts";


function refuse(path: string, why: string): never {
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid file name in share ${quoted(path)}: ${why}`);
}

function quoted(path: string): string {
  return JSON.stringify(path.length > 100 ? `${path.slice(0, 100)}…` : path);
}

/**
 * Checks one relative path (`/`-separated) and returns it in Unicode NFC, or
 * throws `SFX_BAD_ARGUMENT` saying why it is refused.
 */
export function checkSharePath(path: string): string {
  if (typeof path !== "string" || path.length === 0) refuse(String(path), "it is empty");
  if (CONTROL_CHARS.test(path)) refuse(path, "it contains a control character");
  if (path.includes("\\")) refuse(path, "it contains a backslash");
  if (path.startsWith("/")) refuse(path, "it is an absolute path");
  const nfc = path.normalize("NFC");
  if (Buffer.byteLength(nfc) > MAX_PATH_BYTES) refuse(path, `it is longer than ${MAX_PATH_BYTES} bytes`);
  const parts = nfc.split("/");
  if (parts.length > MAX_PATH_DEPTH) refuse(path, `it is nested deeper than ${MAX_PATH_DEPTH} directories`);
  for (const part of parts) {
    if (part === "") refuse(path, "it has an empty component");
    if (part === "." || part === "..") refuse(path, `it has a '${part}' component`);
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) refuse(path, `a component is longer than ${MAX_NAME_BYTES} bytes`);
  }
  try {
    sanitizeRelativePath(nfc);
  } catch (err) {
    refuse(path, (err as Error).message.replace(/^Refusing file name .*?: /, ""));
  }
  return nfc;
}

/** `text` with every character outside printable ASCII written as its code point: `cafe\u{301}`. */
function codePoints(text: string): string {
  return [...text].map((c) => /[\x20-\x7e]/.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`).join("");
}

/**
 * Checks every path of a file list (see {@link checkSharePath}) and that they
 * can all exist side by side: no duplicates (compared case-insensitively, so a
 * share unpacks the same on case-insensitive file systems) and no file that
 * is also a directory of another. Returns the NFC paths in the same order.
 */
export function checkSharePaths(paths: readonly string[]): string[] {
  const out = paths.map(checkSharePath);
  const files = new Map<string, number>();
  const dirs = new Set<string>();
  for (const [i, p] of out.entries()) {
    const key = p.toLowerCase();
    const j = files.get(key);
    if (j !== undefined) {
      const twin = out[j];
      if (twin === p && paths[j] !== paths[i]) {
        // They look the same, and are not: show where they differ.
        refuse(p, `another file, ${quoted(paths[j])}, differs from it only in Unicode form (${codePoints(paths[j])} and ${codePoints(paths[i])}; a share must unpack the same on every file system)`);
      }
      const same = twin === p ? "has the same name" : "differs from it only in case or Unicode form";
      refuse(p, `another file, ${quoted(twin)}, ${same} (a share must unpack the same on every file system)`);
    }
    if (dirs.has(key)) refuse(p, "it is also a directory of another file");
    files.set(key, i);
    const parts = key.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const d of dirs) if (files.has(d)) refuse(out.find((p) => p.toLowerCase() === d)!, "it is also a directory of another file");
  return out;
}
