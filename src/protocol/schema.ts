/**
 * A tiny strict validator for control messages: each field has a check that
 * either returns the typed value or throws {@link SchemaError}. Bounds are
 * part of every check (string length in UTF-8 bytes, integer range, array
 * length), so a decoded message can never be larger or stranger than its
 * schema allows. Compare the shape of zod or valibot, kept to what sfx needs.
 *
 * @module
 */

/** Thrown by a check: `path` names the offending field (`files[3].path`). */
export class SchemaError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || "message"}: ${message}`);
    this.name = "SchemaError";
    this.path = path;
  }
}

/** Validates one value; throws {@link SchemaError} when it does not fit. */
export interface Check<T> {
  parse(value: unknown, path: string): T;
  /** True for fields that may be absent. */
  readonly optional?: boolean;
}

/** The type a check produces. */
export type Infer<C> = C extends Check<infer T> ? T : never;

/** A record of field checks, the shape of an object. */
export type Shape = Record<string, Check<unknown>>;

type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;

/** The object type a shape describes: optional checks give optional fields. */
export type InferShape<S extends Shape> =
  & { [K in RequiredKeys<S>]: Infer<S[K]> }
  & { [K in OptionalKeys<S>]?: Infer<S[K]> };

const encoder = new TextEncoder();

/** Byte length of `s` in UTF-8, without allocating for ASCII-only strings. */
export function utf8Length(s: string): number {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : encoder.encode(s).length;
}

/**
 * Characters that make text on a terminal do something or look like
 * something else: C0 controls (ESC starts escape sequences), DEL, C1
 * controls, the Unicode line and paragraph separators, and bidi overrides
 * and isolates. File names carrying them are refused.
 */
// deno-lint-ignore no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * {@link CONTROL_CHARS} and the characters that show as nothing: bidi marks
 * (U+061C, U+200E, U+200F), the zero-width space, the word joiner and
 * invisible operators, the byte-order mark. Real file names carry these (an
 * RTL application's marks, a space pasted from a web page), so they are
 * allowed in names but replaced wherever text is shown, and refused in a
 * server's name, which is shown for the user to choose by. The zero-width
 * joiners that emoji and some scripts need (U+200C, U+200D) are left alone.
 */
// deno-lint-ignore no-control-regex
export const UNPRINTABLE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
// deno-lint-ignore no-control-regex
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE_CHARS.source, "g");

/**
 * `s` safe to print: each {@link UNPRINTABLE_CHARS} character and lone
 * surrogate becomes U+FFFD. For text a peer or server sent (reasons,
 * messages, names).
 */
export function printable(s: string): string {
  return UNPRINTABLE_CHARS.test(s) || !s.isWellFormed() ? s.toWellFormed().replace(UNPRINTABLE_ALL, "\ufffd") : s;
}

/** {@link printable} line by line: for messages of several lines (an error with its causes) shown on a terminal. */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}

/** `text` cut to at most `maxBytes` of UTF-8, ending in "…" when cut (never half a surrogate pair). */
export function cutUtf8(text: string, maxBytes: number): string {
  return utf8Length(text) <= maxBytes ? text : `${truncateUtf8(text, maxBytes - 3)}…`;
}

/**
 * `text` cut to at most `maxBytes` of UTF-8 in its middle, with "…" there:
 * its start and its end kept (a long path inside "Cannot create the directory
 * for …: the name is too long" keeps the reason).
 */
export function cutMiddleUtf8(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  const room = Math.max(0, maxBytes - 3);
  const head = truncateUtf8(text, Math.ceil(room / 2));
  const bytes = encoder.encode(text);
  let start = bytes.length - (room - utf8Length(head));
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++; // not inside a character
  return `${head}…${new TextDecoder().decode(bytes.subarray(start))}`;
}

/** The longest start of `text` that is at most `maxBytes` of UTF-8, cut at a character boundary. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  const bytes = encoder.encode(text);
  let end = Math.max(0, maxBytes);
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a character
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * A string of at most `max` UTF-8 bytes (and at least `min`), optionally
 * matching `pattern`. With `printable`, control characters are replaced
 * ({@link printable}): for free text shown to a user.
 */
export function string(opts: { max: number; min?: number; pattern?: RegExp; printable?: boolean }): Check<string> {
  return {
    parse(value, path) {
      if (typeof value !== "string") throw new SchemaError(path, "must be a string");
      const n = utf8Length(value);
      if (n > opts.max) throw new SchemaError(path, `longer than ${opts.max} bytes`);
      if (n < (opts.min ?? 0)) throw new SchemaError(path, `shorter than ${opts.min} bytes`);
      if (opts.pattern && !opts.pattern.test(value)) throw new SchemaError(path, `does not match ${opts.pattern}`);
      if (!opts.printable) return value;
      // A replacement character takes 3 bytes where a control character took 1: cut back to the limit.
      const shown = printable(value);
      return shown === value ? value : cutUtf8(shown, opts.max);
    },
  };
}

/** An integer in `[min, max]` (defaults: 0 and Number.MAX_SAFE_INTEGER). */
export function int(opts: { min?: number; max?: number } = {}): Check<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return {
    parse(value, path) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new SchemaError(path, "must be an integer");
      if (value < min || value > max) throw new SchemaError(path, `must be between ${min} and ${max}`);
      return value;
    },
  };
}

/** A boolean. */
export function bool(): Check<boolean> {
  return {
    parse(value, path) {
      if (typeof value !== "boolean") throw new SchemaError(path, "must be true or false");
      return value;
    },
  };
}

/** Exactly one of the given string values. */
export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return {
    parse(value, path) {
      if (typeof value !== "string" || !(values as readonly string[]).includes(value)) {
        throw new SchemaError(path, `must be one of ${values.join(", ")}`);
      }
      return value as T;
    },
  };
}

/** `null` or what `inner` accepts. */
export function nullable<T>(inner: Check<T>): Check<T | null> {
  return { parse: (value, path) => (value === null ? null : inner.parse(value, path)) };
}

/** A field that may be absent (or `undefined`). */
export function optional<T>(inner: Check<T>): Check<T | undefined> & { optional: true } {
  return { optional: true, parse: (value, path) => (value === undefined ? undefined : inner.parse(value, path)) };
}

/** An array of at most `max` items, each checked by `item`. */
export function array<T>(item: Check<T>, opts: { max: number; min?: number }): Check<T[]> {
  return {
    parse(value, path) {
      if (!Array.isArray(value)) throw new SchemaError(path, "must be an array");
      if (value.length > opts.max) throw new SchemaError(path, `more than ${opts.max} items`);
      if (value.length < (opts.min ?? 0)) throw new SchemaError(path, `fewer than ${opts.min} items`);
      return value.map((v, i) => item.parse(v, `${path}[${i}]`));
    },
  };
}

/**
 * An object with exactly the fields of `shape`. Unknown fields are refused,
 * unless `open` (used only by hello/welcome, which must stay readable across
 * protocol versions so a mismatch can be reported by name).
 */
export function object<S extends Shape>(shape: S, opts: { open?: boolean } = {}): Check<InferShape<S>> {
  const keys = Object.keys(shape);
  return {
    parse(value, path) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new SchemaError(path, "must be an object");
      }
      const record = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const check = shape[key];
        const v = Object.hasOwn(record, key) ? record[key] : undefined;
        if (v === undefined && !check.optional) throw new SchemaError(join(path, key), "is missing");
        const parsed = check.parse(v, join(path, key));
        if (parsed !== undefined) out[key] = parsed;
      }
      if (!opts.open) {
        for (const key of Object.keys(record)) {
          if (!Object.hasOwn(shape, key)) throw new SchemaError(join(path, key), "is not a known field");
        }
      }
      return out as InferShape<S>;
    },
  };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
