/**
 * Parsers for option values shared by every command, so a flag means the same
 * everywhere. Each throws {@link SfxError} `SFX_BAD_ARGUMENT` naming the value.
 *
 * @module
 */
import { isIP } from "node:net";
import { SfxError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../log/index.ts";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `500ms`, `1s`, `1.5m`, `2h`, `7d`, `1w`, and sums of them (`1h30m`, `1d 12h`; a bare number is seconds) to milliseconds. */
export function parseDuration(text: string): number {
  let ms = 0;
  const bare = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (bare) ms = Number(bare[1]) * 1000;
  else {
    const parts = /^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$/.test(text) ? [...text.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g)] : [];
    if (parts.length === 0) {
      const units = /[A-Z]/.test(text) ? " (units are lowercase)" : "";
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid duration '${text}': use e.g. 500ms, 1s, 5m, 2h, 7d, 1h30m${units}`);
    }
    for (const [, n, unit] of parts) ms += Number(n) * UNITS_MS[unit];
  }
  if (!Number.isFinite(ms) || ms > 10 * 365 * 86_400_000) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid duration '${text}': too long`);
  }
  // Every duration sfx takes is a timeout, an expiry or a wait: zero would make it useless.
  if (Math.round(ms) <= 0) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid duration '${text}': it must be more than zero`);
  return Math.round(ms);
}

/** The longest timer JavaScript runs (2^31 − 1 ms, about 24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses a duration that runs as a timer (a timeout, a wait): at most about
 * 24 days, as {@link parseDuration} otherwise.
 */
export function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms > MAX_TIMER_MS) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid duration '${text}': a timeout may be at most 24d`);
  return ms;
}

/** Parses a UDP port, 0–65535 (0 lets the system choose). */
export function parsePort(text: string): number {
  return portFrom(text, 0);
}

/** Parses a UDP port to talk to, 1–65535 (0 means "any" only where we listen). */
export function parseRemotePort(text: string): number {
  return portFrom(text, 1);
}

/** (Not a commander parser itself: commander passes the previous value as a second argument.) */
function portFrom(text: string, lowest: 0 | 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535 || n < lowest) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid port '${text}': use a number from ${lowest} to 65535`);
  }
  return n;
}

/** An IPv4 address of this machine's interfaces (multicast discovery is IPv4). */
export function parseIPv4Interface(text: string): string {
  if (isIP(text) !== 4) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --interface '${text}': give an IPv4 address of this machine (discovery is IPv4 multicast)`);
  return text;
}

/** Parses `--host`, the address a server binds: a name or an address, never empty (an unset variable in a unit file). */
export function parseBindHost(text: string): string {
  const host = text.trim();
  if (host === "") throw new SfxError("SFX_BAD_ARGUMENT", "Invalid --host '': give the address to bind (0.0.0.0 for every IPv4 interface, :: for every interface)");
  return host;
}

/** Parses `--log-level`; `warn` (what the log lines say, `WARN`) stands for `warning`. */
export function parseLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if (level === "warn") return "warning";
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --log-level '${text}': use one of ${LOG_LEVELS.join(", ")}`);
}

/** Parses a positive integer option such as a count or a byte size (`10`, `64k`, `1M`, `2G`). */
export function parseCount(text: string): number {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(text.trim());
  if (!m) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid number '${text}': use e.g. 100, 64k, 10M, 2G`);
  const scale = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as "" | "k"]!;
  const n = Number(m[1]) * scale;
  // Counts and sizes are limits: zero would refuse everything.
  if (n < 1) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid number '${text}': it must be at least 1`);
  // Past 2^53 a number is no longer exact (nor a valid size on the wire).
  if (!Number.isSafeInteger(n)) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid number '${text}': too large (at most 8191T)`);
  return n;
}

/** A server address: `host`, `host:port`, `[v6]:port`. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host[:port]` (IPv6 in brackets), with `defaultPort` when none is
 * given. An IPv6 address may go without brackets when nothing else could be
 * meant: `fe80::1` is taken whole, `::1:6969` (an address, or ::1 with a
 * port) is refused, saying how to write either.
 */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  return reachable(text, parseHostPortForm(text, defaultPort));
}

/** A host one can send to: not the wildcard a server binds, and a link-local IPv6 address with its interface. */
function reachable(text: string, hp: HostPort): HostPort {
  const bare = hp.host.replace(/%.*$/, "");
  if ((isIP(bare) === 4 && bare === "0.0.0.0") || (isIP(bare) === 6 && bare.split(":").every((g) => /^0*$/.test(g)))) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': ${bare} means any address, which a server listens on; this machine is 127.0.0.1 or [::1]`);
  }
  if (isIP(bare) === 6 && /^fe[89ab]/i.test(bare)) {
    const zone = /%(.*)$/.exec(hp.host)?.[1];
    if (zone === undefined || zone === "") {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': a link-local address needs the interface it is on, as [${bare}%eth0]:${hp.port}`);
    }
    if (/^\d+$/.test(zone)) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': name the interface (as 'ip link' lists it, e.g. %eth0), not its number`);
    }
    // Deno reports a link-local reply's source without its interface: it would not be taken for the server's.
    if ("Deno" in globalThis) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': under Deno sfx cannot talk to a link-local address; give the server's other address, or run the single executable`);
    }
  }
  return hp;
}

function parseHostPortForm(text: string, defaultPort: number): HostPort {
  const address = text.trim();
  const v6 = /^\[([^\]]+)\](?::([^:]*))?$/.exec(address);
  if (v6) return { host: v6[1], port: v6[2] === undefined ? defaultPort : parseRemotePort(v6[2]) };
  const parts = address.split(":");
  if (parts.length === 1 && parts[0] !== "" && !address.includes("[")) return { host: address, port: defaultPort };
  if (parts.length === 2 && parts[0] !== "" && !address.includes("[")) return { host: parts[0], port: parseRemotePort(parts[1]) };
  // An IPv6 address and a port past what a group holds (fd00::5:48003): the brackets it needs, from what was typed.
  const withPort = /^(.*):(\d{5})$/.exec(address);
  if (parts.length > 2 && isIP(address) !== 6 && withPort && isIP(withPort[1]) === 6) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': an IPv6 address goes in brackets: [${withPort[1]}]:${withPort[2]}`);
  }
  if (parts.length > 2 && isIP(address) === 6) {
    // `::1:6969` is an address, and also ::1 with a port: say which (a guess would send to the other).
    const last = /^(.*):(\d{1,5})$/.exec(address);
    if (last && isIP(last[1]) === 6 && Number(last[2]) >= 1 && Number(last[2]) <= 65535) {
      throw new SfxError(
        "SFX_BAD_ARGUMENT",
        `Ambiguous server address '${text}': write [${last[1]}]:${last[2]} for ${last[1]} on port ${last[2]}, or [${address}] for that address on port ${defaultPort}`,
      );
    }
    return { host: address, port: defaultPort };
  }
  const hint = parts.length > 2 || address.includes("[") ? "an IPv6 address goes in brackets, as [::1] or [::1]:6969" : "use host or host:port";
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid server address '${text}': ${hint}`);
}
