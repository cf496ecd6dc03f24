/**
 * Signals that must be heard from sfx's first instruction on, before the
 * rest of it has loaded (cli.ts imports this module before anything else).
 *
 * - SIGUSR1: Node opens its debugger, on a local port any user of the
 *   machine can reach, when a process gets SIGUSR1 and nothing listens for
 *   it; sfx never wants that (`sfx serve` often runs as root). The single
 *   executable is built with `--disable-sigusr1`, which closes it from the
 *   first instruction; under `node cli.ts` this listener leaves only Node's
 *   own start-up open. Deno's inspector does not heed it (see the README).
 * - SIGHUP, for `sfx serve` only: it reopens the server's log and never
 *   stops it, and `systemctl reload` (logrotate's `postrotate`) may come
 *   just after a (re)start, while the rest still loads and the server's own
 *   listener is not there yet: by default SIGHUP would end the process. For
 *   the other commands it means a closed terminal, which cancels them.
 *
 * @module
 */
process.on("SIGUSR1", () => {});

// The command as main() finds it: the first word that is not an option.
if (process.argv.slice(2).find((a) => !a.startsWith("-")) === "serve") process.on("SIGHUP", () => {});
