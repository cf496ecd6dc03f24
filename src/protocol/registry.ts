/**
 * The one table of control messages and their codec. Every message type is
 * declared once with {@link defineMessage} (exchanges in `messages.ts`, shares
 * in `share.ts`); {@link decodeMessage} refuses anything not declared, not
 * well-formed, or larger than its bounds, with a {@link ProtocolError} whose
 * `reason` is stable.
 *
 * Wire format: one SCTP user message on stream 0 per control message, PPID
 * {@link CONTROL_PPID}, holding a UTF-8 JSON object whose `type` field names
 * the message; the other fields follow the type's schema exactly.
 *
 * @example
 * ```ts
 * import { defineMessage } from "./registry.ts";
 * import { string } from "./schema.ts";
 * export const Hi = defineMessage("hi", { name: string({ max: 64 }) });
 * const bytes = Hi.encode({ name: "ada" });
 * const msg = decodeMessage(bytes);
 * if (Hi.is(msg)) console.log(msg.name);
 * ```
 *
 * @module
 */
import { SfxError } from "../errors.ts";
import { MAX_CONTROL_BYTES } from "./defaults.ts";
import { type InferShape, object, SchemaError, type Shape } from "./schema.ts";

/** Why a control message was refused; stable, used in logs and tests. */
export type ProtocolErrorReason = "too-large" | "not-json" | "not-an-object" | "unknown-type" | "invalid";

/** A control message that breaks the protocol (`SFX_PROTOCOL`). */
export class ProtocolError extends SfxError {
  readonly reason: ProtocolErrorReason;
  /** The message type, when it could be read. */
  readonly messageType: string | undefined;
  constructor(reason: ProtocolErrorReason, message: string, messageType?: string, options?: { cause?: unknown }) {
    super("SFX_PROTOCOL", message, options);
    this.name = "ProtocolError";
    this.reason = reason;
    this.messageType = messageType;
  }
}

/** Any decoded control message: its `type` and its validated fields. */
export interface AnyMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A declared message type: validates, encodes and recognises its messages. */
export interface MessageType<T> {
  /** The `type` field's value. */
  readonly type: string;
  /** Checks a parsed JSON object (without `type`) against the schema; throws SchemaError. */
  validate(fields: Record<string, unknown>): T;
  /** Encodes fields of this type into one control message. */
  encode(fields: T): Uint8Array;
  /** True when `msg` is a decoded message of this type (narrows its type). */
  is(msg: AnyMessage): msg is AnyMessage & T & { type: string };
}

const registry = new Map<string, MessageType<unknown>>();
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Declares a message type with a strict schema: exactly the fields of
 * `shape` (unknown fields are refused, unless `open`). Throws if the type is
 * already declared: one name, one meaning.
 */
export function defineMessage<S extends Shape>(
  type: string,
  shape: S,
  opts: { open?: boolean } = {},
): MessageType<InferShape<S>> {
  const check = object(shape, opts);
  return defineMessageWith(type, (fields) => check.parse(fields, ""));
}

/** Declares a message type with a custom validator (which throws {@link SchemaError}). */
export function defineMessageWith<T>(type: string, validate: (fields: Record<string, unknown>) => T): MessageType<T> {
  if (!/^[a-z][a-z0-9_.-]{0,39}$/.test(type)) throw new Error(`Invalid message type name '${type}'`);
  if (registry.has(type)) throw new Error(`Message type '${type}' is already defined`);
  const def: MessageType<T> = {
    type,
    validate,
    encode(fields: T): Uint8Array {
      // Validate what we send too: a bug here must not reach the peer as a protocol error.
      // A decoded message passed back in (forwarding) carries its `type`: not a field.
      const { type: _t, ...plain } = fields as Record<string, unknown>;
      const validated = validate(plain) as Record<string, unknown>;
      const bytes = encoder.encode(JSON.stringify({ type, ...validated }));
      if (bytes.length > MAX_CONTROL_BYTES) {
        throw new ProtocolError("too-large", `A '${type}' message of ${bytes.length} bytes exceeds the ${MAX_CONTROL_BYTES}-byte limit`, type);
      }
      return bytes;
    },
    is(msg: AnyMessage): msg is AnyMessage & T & { type: string } {
      return msg.type === type;
    },
  };
  registry.set(type, def as MessageType<unknown>);
  return def;
}

/** The declared type named `type`, if any. */
export function messageType(type: string): MessageType<unknown> | undefined {
  return registry.get(type);
}

/** Every declared type name (for docs and tests). */
export function messageTypes(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Decodes and validates one control message. Never trusts the input: size
 * first, then UTF-8, JSON, shape, then the type's schema. Throws
 * {@link ProtocolError}.
 */
export function decodeMessage(bytes: Uint8Array, maxBytes = MAX_CONTROL_BYTES): AnyMessage {
  if (bytes.length > maxBytes) {
    throw new ProtocolError("too-large", `Control message of ${bytes.length} bytes exceeds the ${maxBytes}-byte limit`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new ProtocolError("not-json", "Control message is not UTF-8 JSON", undefined, { cause: err });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError("not-an-object", "Control message is not a JSON object");
  }
  const { type, ...fields } = parsed as Record<string, unknown>;
  if (typeof type !== "string") throw new ProtocolError("not-an-object", "Control message has no 'type'");
  const def = registry.get(type);
  if (!def) throw new ProtocolError("unknown-type", `Unknown control message type '${type.slice(0, 40)}'`, type.slice(0, 40));
  try {
    const validated = def.validate(fields) as Record<string, unknown>;
    return { ...validated, type };
  } catch (err) {
    if (err instanceof SchemaError) {
      throw new ProtocolError("invalid", `Invalid '${type}' message: ${err.message}`, type, { cause: err });
    }
    throw new ProtocolError("invalid", `Invalid '${type}' message`, type, { cause: err });
  }
}

/**
 * Encodes a message given as a plain object with its `type`: for code that
 * forwards or builds messages generically. Prefer `Def.encode(fields)`.
 */
export function encodeMessage(msg: AnyMessage): Uint8Array {
  const def = registry.get(msg.type);
  if (!def) throw new ProtocolError("unknown-type", `Unknown control message type '${msg.type}'`, msg.type);
  const { type: _type, ...fields } = msg;
  return def.encode(fields);
}
