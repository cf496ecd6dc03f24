/** `sfx discover`: find sfx servers on the LAN by multicast. */
import { type Command, Option } from "commander";
import type { CommandResult } from "./context.ts";
import { type HostPort, parseHostPort, parseIPv4Interface, parseRemotePort, parseTimeout } from "./options.ts";
import { type DiscoveredServer, discoverServers, type DiscoverOptions, findOnlyServer, noServerError, sortServers } from "../discovery/index.ts";
import { formatAddress } from "../transport/datagram.ts";
import { isSfxError, SfxError } from "../errors.ts";
import { DISCOVERY_GROUP, DISCOVERY_PORT } from "../discovery/defaults.ts";
import { textWidth } from "./text_width.ts";
import { multicastInterfaces } from "../discovery/interfaces.ts";
import { withInterrupt } from "./send.ts";

interface DiscoverFlags {
  timeout: number;
  json?: boolean;
  port: number;
  interface?: string[];
  group: string;
  to?: string;
}

/** Registers `sfx discover`. */
export function registerDiscover(program: Command, result: CommandResult): void {
  program
    .command("discover")
    .description("find sfx servers on the local network (multicast query, TTL 1)")
    .addOption(new Option("-t, --timeout <duration>", "how long to listen for answers").argParser(parseTimeout).default(1000, "1s"))
    .option("--json", "print one JSON object per server")
    .option("-p, --port <port>", "discovery port (the servers' --port)", parseRemotePort, DISCOVERY_PORT)
    .option("--interface <address>", "send the query only by the interface with this IPv4 address (repeatable)", collect)
    .addOption(new Option("--group <address>", "multicast group").default(DISCOVERY_GROUP).hideHelp())
    .addOption(new Option("--to <host[:port]>", "query one server by unicast instead of the group").hideHelp())
    .action(async (flags: DiscoverFlags) => {
      const options: DiscoverOptions = { timeoutMs: flags.timeout, port: flags.port, group: flags.group, interfaces: flags.interface };
      if (flags.to) {
        const hp = parseHostPort(flags.to, flags.port);
        options.target = { address: hp.host, port: hp.port };
      }
      if (flags.interface) checkOwnAddresses(flags.interface);
      // Ctrl-C before the window closes ends the search: what answered so far is still printed.
      const heard: DiscoveredServer[] = [];
      const started = Date.now();
      let servers: DiscoveredServer[];
      let status = 0;
      try {
        servers = await withInterrupt((signal) => discoverServers({ ...options, signal, onServer: (s) => heard.push(s) }));
      } catch (err) {
        if (!isSfxError(err, "SFX_CANCELLED")) throw err;
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (heard.length === 0) throw new SfxError("SFX_CANCELLED", `Stopped after ${seconds} s: no sfx server had answered`);
        process.stderr.write(`sfx: Stopped after ${seconds} s; the servers that had answered:\n`);
        servers = heard;
        status = 130;
      }
      if (servers.length === 0) throw noServerError(options);
      process.stdout.write(flags.json ? sortServers(servers).map((s) => JSON.stringify(s)).join("\n") + "\n" : formatTable(servers));
      result.status = status;
    });
}

/** `--interface` names one of this machine's addresses (setting another as the multicast interface fails with a bare EADDRNOTAVAIL). */
function checkOwnAddresses(wanted: readonly string[]): void {
  let own: string[];
  try {
    own = multicastInterfaces();
  } catch {
    return; // not to be listed here (Deno without --allow-sys): the send will say what it can
  }
  if (own.length === 0) return;
  const foreign = wanted.find((a) => !own.includes(a));
  if (foreign === undefined) return;
  throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --interface '${foreign}': no interface of this machine has that address (its IPv4 addresses: ${own.join(", ")})`);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), parseIPv4Interface(value)];
}

/** NAME, ADDRESS (host:port, IPv6 in brackets), VERSION — one row per server, sorted by name; columns by display width (a CJK name takes two cells a character). */
export function formatTable(servers: readonly DiscoveredServer[]): string {
  const rows = sortServers(servers).map((s) => [s.name, formatAddress(s.host, s.port), s.version]);
  const all = [["NAME", "ADDRESS", "VERSION"], ...rows];
  const widths = [0, 1].map((c) => Math.max(...all.map((r) => textWidth(r[c]))));
  const pad = (text: string, cells: number) => text + " ".repeat(Math.max(0, cells - textWidth(text)));
  return all.map((r) => `${pad(r[0], widths[0])}  ${pad(r[1], widths[1])}  ${r[2]}`).join("\n") + "\n";
}

/** Where a command connects: the server's address, and its name when discovery found it. */
export interface ResolvedServer extends HostPort {
  /** The discovered server's name; undefined when the address was given. */
  name?: string;
}

/**
 * The server a client command talks to: `--server host[:port]` when given,
 * otherwise the one server that answers discovery (SfxError exit 3:
 * `SFX_NO_SERVER` when none does within `timeoutMs`, `SFX_SEVERAL_SERVERS`
 * when more than one does).
 *
 * @example
 * ```ts
 * const server = await resolveServer(flags.server); // { host, port, name? }
 * ```
 */
export async function resolveServer(
  server: string | undefined,
  options: { defaultPort?: number; timeoutMs?: number; discover?: DiscoverOptions } = {},
): Promise<ResolvedServer> {
  const defaultPort = options.defaultPort ?? DISCOVERY_PORT;
  if (server !== undefined) return parseHostPort(server, defaultPort);
  try {
    const found = await findOnlyServer({ port: defaultPort, timeoutMs: options.timeoutMs, ...options.discover });
    return { host: found.host, port: found.port, name: found.name };
  } catch (err) {
    // Discovery asks this IPv4 network only: a server elsewhere (or on IPv6 alone) is named instead.
    if (isSfxError(err, "SFX_NO_SERVER")) throw new SfxError(err.code, `${err.message}: start one with 'sfx serve', or name one with --server ADDRESS[:PORT]`, { cause: err });
    if (!isSfxError(err, "SFX_SEVERAL_SERVERS")) throw err;
    // By its address (a server's name is what it calls itself, not a name this machine can look up),
    // and none suggested: anyone on the LAN can answer, and choosing is the point of refusing.
    throw new SfxError(err.code, `${err.message}. Name one by its address with --server ADDRESS:PORT`);
  }
}
