/**
 * One log record → one line:
 *
 * ```text
 * 2026-11-22T08:15:02.123Z INFO  sfx.server: sfx 0.1.0 ready on 0.0.0.0:6969 as "lab" port=6969 name=lab
 * ```
 *
 * ISO 8601 UTC time, level (padded to 5), dotted category, the message with
 * its placeholders filled in, then every field of the record as `key=value`
 * (logfmt-like: a value with spaces, quotes or `=` is JSON-quoted; objects
 * are JSON). Newlines and control characters never reach the file unescaped,
 * so one record is always exactly one line.
 *
 * @module
 */
import { UNPRINTABLE_CHARS } from "../protocol/schema.ts";
import type { LogLevel, LogRecord } from "@logtape/logtape";

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

/** A value as it appears in a line: bare when it is safe to, else JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=\\\x00-\x1f\x7f]+$/.test(value) && !UNPRINTABLE_CHARS.test(value) ? value : escapeControls(JSON.stringify(value));
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null || value === undefined) return String(value);
  if (value instanceof Error) {
    const code = "code" in value && value.code !== undefined ? ` (${String(value.code)})` : "";
    return JSON.stringify(`${value.name}: ${value.message}${code}`);
  }
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? String(v) : v)) ?? String(value);
  } catch {
    return JSON.stringify(String(value)); // circular
  }
}

/** The message with its placeholders filled in; strings bare, other values as in fields. */
function renderMessage(message: readonly unknown[]): string {
  let text = "";
  for (let i = 0; i < message.length; i++) {
    const part = message[i];
    text += i % 2 === 0 ? String(part) : typeof part === "string" ? part : formatValue(part);
  }
  // One record, one line.
  return escapeControls(text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? " " : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)));
}

const CONTROLS_ALL = new RegExp(UNPRINTABLE_CHARS.source, "g");

/** C1 controls, line separators, bidi controls and invisible characters as \uXXXX (JSON leaves them raw; a terminal acts on them or shows nothing). */
function escapeControls(text: string): string {
  return text.replace(CONTROLS_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function renderFields(properties: Record<string, unknown>, skip?: ReadonlySet<string>): string {
  let text = "";
  for (const [key, value] of Object.entries(properties)) if (!skip?.has(key)) text += ` ${key}=${formatValue(value)}`;
  return text;
}

/** The `{name}` placeholders of a message template. */
function placeholders(raw: LogRecord["rawMessage"]): Set<string> {
  return new Set(typeof raw === "string" ? [...raw.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]) : []);
}

/** Formats a record as one line of the server log (with its newline). */
export function formatLogLine(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString();
  const level = LEVEL_NAMES[record.level].padEnd(5);
  return `${time} ${level} ${record.category.join(".")}: ${renderMessage(record.message)}${renderFields(record.properties)}\n`;
}

/** The shorter line for a terminal: time of day, level, message, and only the fields the message does not show. */
export function formatConsoleLine(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString().slice(11, 23);
  const level = LEVEL_NAMES[record.level].padEnd(5);
  return `${time} ${level} ${renderMessage(record.message)}${renderFields(record.properties, placeholders(record.rawMessage))}\n`;
}
